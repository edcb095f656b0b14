package agentbox

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"weak"

	"github.com/google/jsonschema-go/jsonschema"
)

// The process_output built-in tool reads what a background process that
// start_process started wrote since the last process_output of it (since it
// started, at the first): stdout and stderr together, in the order written,
// after a line saying whether the process still runs or with which exit
// code it exited. Its arguments are a JSON object:
//
//		{"id": "p1", "wait_seconds": 5}
//
//	  - id (string, required): the process ID start_process returned;
//	  - wait_seconds (integer, 0 to 30, default 0): when there is no new
//	    output yet, how long to wait for some, or for the process to exit;
//	    once output comes, it waits until the output pauses for 100 ms, at
//	    most a second more.
//
// The output is kept on the agent's side, from the writers start_process
// gives the sandbox, so it works on every [ProcessStarter] (implemented by
// a pointer type, as local, e2b and agentboxtest's sandboxes are), also
// after the process exited, and across the turns of a [Session] and the
// runs of an agent given its sandbox: it is kept while the sandbox value
// lives, in this program only (a session resumed in another program cannot
// read the output of processes started before). Memory is bounded by these
// constants: the last ProcessLogBytes of each process between two reads,
// older bytes dropped with a note of how many, and the output of the
// ProcessLogsPerSandbox latest processes of each sandbox. An unknown ID is
// an error listing the processes whose output is kept. The result is capped
// to Options.MaxToolResult like every tool's (head and tail).
const (
	// ProcessLogBytes is how much of a background process's output is kept
	// for process_output to read: the last bytes it wrote, stdout and stderr
	// as they came. A process that writes more between two reads loses the
	// oldest of it, and the read says how much.
	ProcessLogBytes = 64 << 10
	// ProcessLogsPerSandbox is the most background processes of one sandbox
	// whose output is kept. Starting one more forgets the output of the
	// oldest process that has exited or, when all are running, of the
	// oldest one. A sandbox's kept output is at most ProcessLogsPerSandbox ×
	// ProcessLogBytes (1 MiB).
	ProcessLogsPerSandbox = 16

	processOutputMaxWait = 30 * time.Second       // process_output's longest wait_seconds
	processOutputQuiet   = 100 * time.Millisecond // once output comes, how long without more it is complete
	processOutputMost    = time.Second            // the most a wait goes on once output came
)

type processOutputArgs struct {
	ID          string `json:"id" jsonschema:"the process id start_process returned"`
	WaitSeconds int    `json:"wait_seconds,omitempty" jsonschema:"when there is no new output yet, wait up to this many seconds for some, or for the process to exit; default 0, at most 30"`
}

// processOutputTool is the process_output built-in tool; see ProcessLogBytes.
func processOutputTool() Tool {
	schema := mustSchema[processOutputArgs]()
	schema.Properties["wait_seconds"].Minimum = jsonschema.Ptr(0.0)
	schema.Properties["wait_seconds"].Maximum = jsonschema.Ptr(processOutputMaxWait.Seconds())
	return newTypedTool("process_output",
		"Read the new output of a background process started with start_process, such as a dev server's compile errors and stack traces: what it wrote to stdout and stderr since the last process_output of it (since it started, at the first). Says whether the process still runs, or its exit code if it exited. Only the last 64 KiB written between two reads are kept. With wait_seconds, waits up to that long for output when there is none yet, e.g. after changing a file the server reloads.",
		schema, processOutput)
}

func processOutput(ctx context.Context, env *Env, in processOutputArgs) (string, error) {
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := sb.(ProcessStarter); !ok {
		return "", fmt.Errorf("process_output is %w: it runs no background processes", ErrNotSupported)
	}
	l, known := processLogs.find(sb, in.ID)
	if l == nil {
		id := capText(in.ID, 100)
		if len(known) == 0 {
			return "", fmt.Errorf("no output is kept for process %q: start_process started no process in this sandbox that is still remembered", id)
		}
		return "", fmt.Errorf("no output is kept for process %q: start_process did not start it, or started more than %d processes since; the processes whose output is kept are %s",
			id, ProcessLogsPerSandbox, strings.Join(known, ", "))
	}
	if in.WaitSeconds > 0 {
		if err := l.await(ctx, time.Duration(in.WaitSeconds)*time.Second); err != nil {
			return "", err
		}
	}
	return l.read(env.outputLimit()), nil
}

// startLogged starts cmd with ps as start_process does, and keeps the
// process's output for process_output: cmd's writers are teed into a
// [processLog] registered under the process's ID.
func startLogged(ctx context.Context, ps ProcessStarter, cmd Command) (Process, error) {
	l := &processLog{}
	cmd.Stdout = io.MultiWriter(l, orDiscard(cmd.Stdout))
	cmd.Stderr = io.MultiWriter(l, orDiscard(cmd.Stderr))
	p, err := ps.StartProcess(ctx, cmd)
	if err != nil {
		return nil, err
	}
	l.id = p.ID()
	if !processLogs.add(ps, l) {
		l.forget() // a sandbox value that cannot be told apart: nothing kept
		return p, nil
	}
	watchCtx, cancel := context.WithCancel(context.Background())
	l.mu.Lock()
	forgotten := l.forgotten // already, by many starts at once
	l.stopWatch = cancel
	l.mu.Unlock()
	if forgotten {
		cancel()
		return p, nil
	}
	go l.watch(watchCtx, p)
	return p, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// processLogs holds the logs of the background processes start_process
// started, by sandbox. Processes belong to sandboxes, which outlive runs (a
// session's turns, or the runs of an agent given a sandbox), so the logs
// are kept by sandbox: weakly, so that a sandbox's logs go when the sandbox
// value is no longer used.
var processLogs = logRegistry{bySandbox: map[weak.Pointer[byte]]*sandboxLogs{}}

type logRegistry struct {
	mu        sync.Mutex
	bySandbox map[weak.Pointer[byte]]*sandboxLogs
}

// sandboxLogs are the logs of one sandbox's processes, oldest first.
type sandboxLogs struct {
	logs []*processLog
}

// sandboxKey returns the weak key of sb and the pointer it is made from; ok
// is false for a sandbox that is not a non-nil pointer to a value of some
// size, which cannot be told apart from others.
func sandboxKey(sb any) (key weak.Pointer[byte], ptr *byte, ok bool) {
	if o, isObserved := sb.(interface{ unwrapSandbox() Sandbox }); isObserved {
		sb = o.unwrapSandbox()
	}
	v := reflect.ValueOf(sb)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Type().Elem().Size() == 0 {
		return key, nil, false
	}
	ptr = (*byte)(v.UnsafePointer())
	return weak.Make(ptr), ptr, true
}

// add registers l under sb, forgetting the log of an older process when
// the sandbox has ProcessLogsPerSandbox already. It reports whether l was
// registered.
func (r *logRegistry) add(sb any, l *processLog) bool {
	key, ptr, ok := sandboxKey(sb)
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.bySandbox[key]
	if s == nil {
		s = &sandboxLogs{}
		r.bySandbox[key] = s
		// When the sandbox value is gone, so are its logs. The cleanup
		// holds only the weak key: it does not keep the sandbox alive.
		runtime.AddCleanup(ptr, r.drop, key)
	}
	// A sandbox that reuses an ID (after a restart, say) has one log for it.
	s.logs = slices.DeleteFunc(s.logs, func(old *processLog) bool {
		if old.id == l.id {
			old.forget()
			return true
		}
		return false
	})
	if len(s.logs) >= ProcessLogsPerSandbox {
		i := slices.IndexFunc(s.logs, (*processLog).hasExited)
		if i < 0 {
			i = 0
		}
		s.logs[i].forget()
		s.logs = slices.Delete(s.logs, i, i+1)
	}
	s.logs = append(s.logs, l)
	runtime.KeepAlive(sb)
	return true
}

// drop forgets the logs of the sandbox of key, which is gone.
func (r *logRegistry) drop(key weak.Pointer[byte]) {
	r.mu.Lock()
	s := r.bySandbox[key]
	delete(r.bySandbox, key)
	r.mu.Unlock()
	if s != nil {
		for _, l := range s.logs {
			l.forget()
		}
	}
}

// find returns the log of process id of sb, or nil and the IDs of the
// processes whose logs are kept.
func (r *logRegistry) find(sb any, id string) (*processLog, []string) {
	key, _, ok := sandboxKey(sb)
	if !ok {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.bySandbox[key]
	if s == nil {
		return nil, nil
	}
	var known []string
	for _, l := range s.logs {
		if l.id == id {
			return l, nil
		}
		known = append(known, l.id)
	}
	return nil, known
}

// sandboxes is the number of sandboxes whose logs are kept.
func (r *logRegistry) sandboxes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bySandbox)
}

// A processLog keeps the last ProcessLogBytes a background process wrote,
// and how it exited. It is safe for concurrent use.
type processLog struct {
	id string // set before the log is registered, then never changed

	mu        sync.Mutex
	ring      []byte // the last bytes written: grows to ProcessLogBytes, then circular
	next      int    // where the ring's next byte goes, once full
	total     int64  // bytes written
	readAt    int64  // total at the last read
	reads     int
	forgotten bool
	exited    bool
	res       Result
	waitErr   error              // why the process could not be watched
	stopWatch context.CancelFunc // ends the watch
	wake      chan struct{}      // closed at the next write or exit, when someone waits
}

// Write keeps the last ProcessLogBytes of p and what came before.
func (l *processLog) Write(p []byte) (int, error) {
	n := len(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.forgotten || n == 0 {
		return n, nil
	}
	l.total += int64(n)
	if len(p) > ProcessLogBytes {
		p = p[len(p)-ProcessLogBytes:]
	}
	if room := ProcessLogBytes - len(l.ring); room > 0 {
		k := min(room, len(p))
		l.ring = append(l.ring, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 {
		k := copy(l.ring[l.next:], p)
		l.next = (l.next + k) % ProcessLogBytes
		p = p[k:]
	}
	l.wakeLocked()
	return n, nil
}

func (l *processLog) wakeLocked() {
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
}

// watch records how the process exits.
func (l *processLog) watch(ctx context.Context, p Process) {
	res, err := p.Wait(ctx)
	if ctx.Err() != nil {
		return // forgotten
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.exited, l.res, l.waitErr = true, res, err
	l.stopWatch()
	l.wakeLocked()
}

// forget drops what the log keeps, and what it would.
func (l *processLog) forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgotten = true
	l.ring = nil
	if l.stopWatch != nil {
		l.stopWatch()
	}
	l.wakeLocked()
}

// awaitExit waits, for at most d, until the log has recorded how its
// process exited, or ctx is done.
func (l *processLog) awaitExit(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		l.mu.Lock()
		if l.exited || l.forgotten {
			l.mu.Unlock()
			return
		}
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake: // output, or the exit
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (l *processLog) hasExited() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.exited
}

// await waits until there is output not yet read, or the process has
// exited, for at most d, then until the output pauses (for at most
// processOutputMost), or ctx is done.
func (l *processLog) await(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var (
		settled time.Time // when output came: the settling began
		quiet   *time.Timer
	)
	defer func() {
		if quiet != nil {
			quiet.Stop()
		}
	}()
	for {
		l.mu.Lock()
		done := l.exited || l.forgotten
		pending := l.total > l.readAt
		if !done && l.wake == nil {
			l.wake = make(chan struct{})
		}
		wake := l.wake
		l.mu.Unlock()
		if done {
			return nil
		}
		var quietC <-chan time.Time
		if pending {
			if settled.IsZero() {
				settled = time.Now()
			}
			if time.Since(settled) >= processOutputMost {
				return nil
			}
			if quiet == nil {
				quiet = time.NewTimer(processOutputQuiet)
			} else {
				quiet.Reset(processOutputQuiet)
			}
			quietC = quiet.C
		}
		select {
		case <-wake:
		case <-quietC:
			return nil
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for the output of process %s: %w", l.id, context.Cause(ctx))
		}
	}
}

// read returns what the process wrote since the last read, capped to limit
// bytes (its head and tail), after a line saying how the process is.
func (l *processLog) read(limit int) string {
	l.mu.Lock()
	unread := l.total - l.readAt
	kept := min(unread, int64(len(l.ring)))
	out := make([]byte, 0, kept)
	if kept > 0 {
		// The ring's last byte is before next once it is full.
		end := len(l.ring)
		if len(l.ring) == ProcessLogBytes {
			end = l.next + ProcessLogBytes
		}
		for i := end - int(kept); i < end; i++ {
			out = append(out, l.ring[i%ProcessLogBytes])
		}
	}
	first := l.reads == 0
	l.reads++
	l.readAt = l.total
	exited, res, waitErr, forgotten := l.exited, l.res, l.waitErr, l.forgotten
	l.mu.Unlock()

	var b strings.Builder
	fmt.Fprintf(&b, "Process %s", l.id)
	switch {
	case forgotten:
		fmt.Fprintf(&b, ": its output is no longer kept (more than %d processes were started since).\n", ProcessLogsPerSandbox)
		return b.String()
	case exited && waitErr != nil:
		fmt.Fprintf(&b, " can no longer be followed (%s); it may still run.\n", capText(waitErr.Error(), 300))
	case exited && res.ExitCode == -1:
		b.WriteString(" has ended: it was stopped or killed (exit code -1).\n")
	case exited:
		fmt.Fprintf(&b, " has exited with code %d.\n", res.ExitCode)
	default:
		b.WriteString(" is running.\n")
	}
	since := "since the last read"
	if first {
		since = "since it started"
	}
	if unread == 0 {
		fmt.Fprintf(&b, "No new output %s.", since)
		return b.String()
	}
	fmt.Fprintf(&b, "Output %s:\n", since)
	if dropped := unread - kept; dropped > 0 {
		// The ring's oldest bytes may end a rune cut in two.
		i := 0
		for i < len(out) && i < utf8.UTFMax && !utf8.RuneStart(out[i]) {
			i++
		}
		out = out[i:]
		fmt.Fprintf(&b, "[... %d earlier bytes were not kept ...]\n", dropped+int64(i))
	}
	b.WriteString(capText(string(out), max(limit-b.Len(), limit/2)))
	return b.String()
}
