package agentboxtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/internal/testkit"
)

// HostileOptions describe the sandboxes given to [RunHostileTests]: what
// their commands can do, what their file tools may reach, and how to find
// what their commands left running.
type HostileOptions struct {
	// ToolTimeout is the agent's Options.ToolTimeout in every run; 0 means
	// 2 seconds. run_command gives its commands one second less.
	ToolTimeout time.Duration

	// Shell says that commands run in bash with GNU coreutils (head, tr,
	// yes, base64, truncate, mkfifo, mknod, ln, seq), as on Linux. Without
	// it, the subtests whose attacks need them are skipped.
	Shell bool

	// Confined says that the file tools are confined to the workspace: a
	// path with "..", an absolute path outside, or a symbolic link leading
	// out is refused, and nothing outside is ever written, as with local
	// sandboxes. Without it, the sandbox's whole file system is its own, as
	// an E2B VM's is: the attacks that lead out of the workspace only read,
	// and are checked only for the bounds every subtest has.
	Confined bool

	// Outside, with Confined, is a folder outside the workspace on the
	// machine where the file tools run, such as t.TempDir(). The suite puts
	// a file holding a secret there and attacks it with absolute paths,
	// "..", and symbolic and hard links; after every subtest the file must
	// be unchanged, and no file tool may have returned the secret. Empty
	// leaves those attacks out.
	Outside string

	// MaxProcesses is the most processes the sandbox lets its commands run
	// at once, 0 when it sets no limit. The fork bomb runs only under a
	// limit: without one it would take the machine.
	MaxProcesses int

	// Survivors returns what is still running of the commands, started in
	// sb, that carry marker: hostile commands export
	// AGENTBOX_HOSTILE=marker, which everything they start inherits, and
	// have marker in their command line. It is called after the run closed
	// sb; it may use sb (an in-memory sandbox's processes) or look at the
	// machine (see [ProcessesWith]). Each string describes one survivor.
	// Nil checks nothing.
	Survivors func(sb agentbox.Sandbox, marker string) []string
}

// Bounds that every subtest of RunHostileTests checks.
const (
	// HostileHeap is how much the heap may grow during a run: the peak,
	// sampled every millisecond, less the heap after a garbage collection
	// before the run.
	HostileHeap = 64 << 20
	// HostileMaxToolResult is the agent's Options.MaxToolResult in every
	// run. A tool result may exceed it by the 64 bytes of the marker that
	// says how much was left out.
	HostileMaxToolResult = 16 << 10
	// HostileCallGrace is how long after its ToolTimeout a tool call may
	// take to return.
	HostileCallGrace = 2 * time.Second
	// HostileSlack is how long after the time its steps may take a run may
	// take to send its Done: to close its sandbox, and for a loaded machine.
	HostileSlack = 3 * time.Second
	// HostileSurvivorWait is how long after Done what the run's commands
	// started may take to be gone.
	HostileSurvivorWait = 2 * time.Second
)

// RunHostileTests drives the real [agentbox.Agent], with a scripted model
// playing an attacker, against sandboxes that open makes, one per subtest,
// and checks that the agent and the sandbox keep their bounds whatever the
// model asks for. Every subtest checks that:
//
//   - the run's last event is its only [agentbox.Done], and comes within the
//     time the subtest states (its steps, each bounded by the tool timeout
//     or a cancellation of the run's context, plus [HostileSlack]);
//   - every tool call returns within ToolTimeout plus [HostileCallGrace],
//     and every result is capped to [HostileMaxToolResult];
//   - the heap grows by less than [HostileHeap] (HugeArguments states its
//     own bound);
//   - the run closed the sandbox it opened, exactly once, and nothing its
//     commands started is running [HostileSurvivorWait] after Done, as
//     HostileOptions.Survivors sees it;
//   - with HostileOptions.Confined, /etc/passwd and the file in
//     HostileOptions.Outside are unchanged (/etc/passwd is put back if
//     not), and no file tool returned their contents.
//
// The subtests, and what each checks besides. A run's steps are bounded by
// T, the tool timeout, or by the cancellation of its context; the time
// limit of its Done is that bound plus HostileCallGrace per step, plus
// HostileSlack.
//
//	EditHugeResult      edit_file of a 10,000,000-byte file of "a",
//	                    replacing every "a" with 100 bytes (a 1 GB result):
//	                    an error saying the result is too large, the file
//	                    unchanged; 2 steps
//	ReadSparseFile      read_file of 8,000 bytes of text before a 15 TiB
//	                    hole (1023 MiB where the sandbox limits file sizes),
//	                    from line 1 and from line 1,000; 2 steps
//	ReadSpecialFiles    read_file of /dev/zero, /dev/urandom, a named pipe,
//	                    a device and links to them, edit_file and
//	                    write_file of some: errors (for writes, with
//	                    Confined); 3 steps and one per edit and write
//	PathEscapes         paths with "..", absolute paths, symbolic links to
//	                    /etc, / and Outside, hard links to /etc/passwd and
//	                    Outside; with Confined, reads, lists, writes and
//	                    edits through all but the hard links refused;
//	                    3 steps and HostileCallGrace per write and edit
//	SymlinkSwap         40 reads, and with Confined and Outside 20 writes
//	                    and edits, of links that a background process flips
//	                    between the workspace and /etc or Outside; 4 steps
//	OddNames            write_file and read_file of names with newlines,
//	                    tabs, quotes, shell syntax, of 255 and 256 bytes:
//	                    what is written reads back the same, what is
//	                    refused does not read; 3 steps and
//	                    HostileCallGrace per write
//	NULNames            file tools, and commands run in folders, whose
//	                    paths hold NUL: every call refused, nothing written;
//	                    one step per call and 2
//	DeepPath            write_file of three files 8,000 folders deep, the
//	                    run cancelled after 1 s: Done within 1 s +
//	                    HostileCallGrace + HostileSlack
//	OutputFlood         run_command of yes, of 1 GiB of NULs, of base64
//	                    without newlines, of yes to stderr: each streams
//	                    over 64 KiB; 4 steps
//	OutputFloodCanceled yes, the run cancelled after 500 ms
//	BackgroundFlood     start_process of yes to stdout and stderr and of
//	                    cat /dev/urandom, left running; 3 steps
//	ProcessOutputFlood  start_process of yes twice, left running, and of
//	                    yes | head -c 2000000 ProcessLogsPerSandbox + 2
//	                    times, then process_output of each (waiting up to
//	                    30 s), twice, of an unknown ID and of one of
//	                    100,000 bytes: the floods of the running and the
//	                    latest processes read, the others and the unknown
//	                    IDs errors; ProcessLogsPerSandbox + 6 steps
//	IgnoreSIGTERM       a command and processes ignoring SIGTERM, SIGINT
//	                    and SIGHUP: killed by the timeout (an error), by
//	                    stop_process (no error), by Close; 4 steps
//	ForkTree            trees of sleeping processes, left behind by
//	                    run_command and start_process; 2 steps
//	ManyProcesses       200 background sleeps, then 60 start_process
//	                    calls, the run cancelled after 2.5 s
//	ForkBomb            only under HostileOptions.MaxProcesses: a tree of
//	                    forks growing as fast as a fork bomb, that would
//	                    stop at four times the limit (8,191 processes at
//	                    most): killed for its processes, not by its
//	                    timeout; 1 step
//	MalformedArguments  arguments that are not JSON, not objects, or break
//	                    the schema: errors matching ErrInvalidArguments;
//	                    2 steps
//	HugeArguments       write_file of 50 MB: refused, or written whole; the
//	                    heap grows by less than HostileHeap + 4 × 50 MB,
//	                    the arguments as streamed, the decoded content, the
//	                    file's bytes and an in-memory sandbox's copy;
//	                    2 steps
//	DeepJSON            arguments nested 9,000 and 200,000 deep: errors
//	                    matching ErrInvalidArguments; 2 steps
//	UnknownTools        calls of tools that do not exist, one with a name
//	                    of 100,000 bytes: errors matching ErrUnknownTool;
//	                    2 steps
//	ManyCalls           500 calls in one step: 500 results, the reads see
//	                    the writes before them; 4 steps
//	DeniedCalls         writes, commands and background processes that
//	                    need approval, all denied but one command: the
//	                    denied ones fail with ErrDenied and change nothing
//	                    (their files do not exist in the next step), the
//	                    approved one runs; 2 steps
//	UnansweredCalls     a command and a background process whose approval
//	                    never comes: after ApprovalTimeout (1 s) the run
//	                    stops with StopApproval, neither call started,
//	                    and nothing of theirs is running; 1 step
//
// Attacks that need a real shell (HostileOptions.Shell) or background
// processes ([agentbox.ProcessStarter]) are left out, or their subtests
// skipped, for sandboxes without them. Subtests run one at a time, so that
// each sees its own heap; with the default tool timeout they take about 30
// seconds in all. A run that does not end in time is cancelled; if it still
// does not end, the subtest's own way to let a stuck call go is tried (the
// sparse file is emptied, the pipe opened), then its sandbox is closed under
// it.
func RunHostileTests(t *testing.T, open agentbox.Opener, opts *HostileOptions) {
	t.Helper()
	h := &hostile{open: open}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.ToolTimeout <= 0 {
		h.opts.ToolTimeout = 2 * time.Second
	}
	h.probe(t)
	if h.opts.Confined {
		h.passwd, _ = os.ReadFile("/etc/passwd")
		if line, _, _ := strings.Cut(string(h.passwd), "\n"); len(line) >= 8 {
			h.passwdLine = line
		}
		if h.opts.Outside != "" {
			h.secretPath = filepath.Join(h.opts.Outside, "agentbox-hostile-secret.txt")
			h.secret = "hostile secret " + rand.Text() + "\n"
			if err := os.WriteFile(h.secretPath, []byte(h.secret), 0o644); err != nil {
				t.Fatalf("writing the file outside the workspace: %v", err)
			}
			t.Cleanup(func() { os.Remove(h.secretPath) })
		}
	}
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			switch {
			case c.shell && !h.opts.Shell:
				t.Skip("the attack needs a real shell (HostileOptions.Shell)")
			case c.processes && !h.processes:
				t.Skip("the attack needs background processes (agentbox.ProcessStarter)")
			}
			c.test(t, h)
		})
	}
}

// ProcessesWith returns the live processes of this machine whose command
// line or environment holds marker, each as "PID: command line", read from
// /proc; none where there is no /proc. It finds what the hostile commands of
// [RunHostileTests] left running in a sandbox whose processes run on this
// machine, such as a local one.
func ProcessesWith(marker string) []string {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(marker)
	var found []string
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := "/proc/" + d.Name()
		stat, err := os.ReadFile(dir + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ...; comm may hold spaces and parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
			continue
		}
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		environ, _ := os.ReadFile(dir + "/environ")
		if bytes.Contains(cmdline, want) || bytes.Contains(environ, want) {
			cmd := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
			found = append(found, fmt.Sprintf("%d: %s", pid, capString(cmd, 200)))
		}
	}
	return found
}

// capString returns s, or its first n bytes and "…".
func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// hostile is the state of one RunHostileTests.
type hostile struct {
	open      agentbox.Opener
	opts      HostileOptions
	processes bool // the sandboxes are ProcessStarters

	passwd     []byte // /etc/passwd, with Confined
	passwdLine string // its first line, which no file tool may return
	secretPath string // the file in Outside
	secret     string // its contents
}

// probe opens a sandbox to learn what it can do.
func (h *hostile) probe(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sb, err := h.open(ctx)
	if err != nil {
		t.Fatalf("opening a sandbox: %v", err)
	}
	_, h.processes = sb.(agentbox.ProcessStarter)
	if err := sb.Close(ctx); err != nil {
		t.Fatalf("closing a sandbox: %v", err)
	}
}

// marker returns a new marker for the commands of one run.
func (h *hostile) marker() string {
	return "agentboxhostile" + strings.ToLower(rand.Text()[:16])
}

// cmd returns a command line that exports the marker, so that whatever it
// starts can be found, then runs line.
func (h *hostile) cmd(marker, line string) string {
	if !h.opts.Shell {
		return line
	}
	return "export AGENTBOX_HOSTILE=" + marker + "; " + line
}

// A move makes the attacker's next step from the tool results it has seen,
// by call ID.
type move func(results map[string]string) Step

// steps turns fixed steps into moves.
func steps(s ...Step) []move {
	moves := make([]move, len(s))
	for i, st := range s {
		moves[i] = func(map[string]string) Step { return st }
	}
	return moves
}

// attacker is an agentbox.Provider that plays moves, then answers "done".
type attacker struct {
	mu    sync.Mutex
	moves []move
	next  int
}

func (a *attacker) Stream(ctx context.Context, req *agentbox.Request) iter.Seq2[agentbox.Chunk, error] {
	return func(yield func(agentbox.Chunk, error) bool) {
		a.mu.Lock()
		n := a.next
		a.next++
		a.mu.Unlock()
		step := Reply("done")
		if n < len(a.moves) {
			results := map[string]string{}
			for _, m := range req.Messages {
				if m.Role == agentbox.RoleTool {
					results[m.ToolCallID] = m.Content
				}
			}
			step = a.moves[n](results)
		}
		step.play(ctx, yield)
	}
}

// An attack is one run of the attacker.
type attack struct {
	marker string
	moves  []move
	// setup prepares the sandbox before the run, outside its measures.
	setup func(ctx context.Context, sb agentbox.Sandbox) error
	// cancelAfter, when positive, cancels the run's context that long
	// after it started.
	cancelAfter time.Duration
	// budget is how long the steps may take; Done must come within budget
	// plus HostileSlack.
	budget time.Duration
	// heap bounds the heap's growth; 0 means HostileHeap.
	heap uint64
	// unstick, when the run has not ended in time, lets a stuck tool call
	// return (by emptying the file it reads, say), so that the suite does
	// not leak it.
	unstick func(ctx context.Context, sb agentbox.Sandbox)
	// needsApproval, approve and approvalTimeout are the agent's options
	// of the same names.
	needsApproval   func(agentbox.ToolCall) bool
	approve         func(context.Context, agentbox.ApprovalRequest) (agentbox.Approval, error)
	approvalTimeout time.Duration
	// stop is the reason the run must end with; empty means
	// StopCompleted.
	stop agentbox.StopReason
}

// An outcome is what a run of the attacker produced.
type outcome struct {
	results map[string]agentbox.ToolResult // by call ID
	output  map[string]int64               // bytes of ToolOutput by call ID
	done    agentbox.Done
	sb      agentbox.Sandbox // the sandbox the run used, closed
}

// result returns the result of call id, failing t when there is none.
func (o *outcome) result(t *testing.T, id string) agentbox.ToolResult {
	t.Helper()
	r, ok := o.results[id]
	if !ok {
		t.Errorf("no result for tool call %s", id)
	}
	return r
}

// observer records a run's events.
type observer struct {
	mu        sync.Mutex
	dones     int
	done      agentbox.Done
	doneAt    time.Duration
	afterDone []string // the types of events after the first Done
	results   map[string]agentbox.ToolResult
	dupes     []string // call IDs with two results
	output    map[string]int64
}

func (o *observer) see(ev agentbox.Event, at time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dones > 0 {
		o.afterDone = append(o.afterDone, reflect.TypeOf(ev).String())
	}
	switch ev := ev.(type) {
	case agentbox.ToolOutput:
		o.output[ev.ID] += int64(len(ev.Text))
	case agentbox.ToolResult:
		if _, ok := o.results[ev.ID]; ok {
			o.dupes = append(o.dupes, ev.ID)
		}
		o.results[ev.ID] = ev
	case agentbox.Done:
		o.dones++
		if o.dones == 1 {
			o.done, o.doneAt = ev, at
		}
	}
}

// closeCounter is a sandbox whose Close calls are counted.
type closeCounter struct {
	agentbox.Sandbox
	mu     sync.Mutex
	closes int
}

func (c *closeCounter) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closes++
	c.mu.Unlock()
	return c.Sandbox.Close(ctx)
}

// count returns how many times Close was called.
func (c *closeCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closes
}

// counted returns sb with its Close calls counted by c, keeping the
// optional interfaces the agent uses.
func counted(sb agentbox.Sandbox, c *closeCounter) agentbox.Sandbox {
	c.Sandbox = sb
	ps, isPS := sb.(agentbox.ProcessStarter)
	pv, isPV := sb.(agentbox.Previewer)
	switch {
	case isPS && isPV:
		return &struct { // a pointer, as process_output keeps output by sandbox pointer
			*closeCounter
			agentbox.ProcessStarter
			agentbox.Previewer
		}{c, ps, pv}
	case isPS:
		return &struct {
			*closeCounter
			agentbox.ProcessStarter
		}{c, ps}
	case isPV:
		return struct {
			*closeCounter
			agentbox.Previewer
		}{c, pv}
	}
	return c
}

// play runs the attack and checks the bounds every subtest has. Only the
// run's own measures start after the sandbox is open and set up.
func (h *hostile) play(t *testing.T, a attack) *outcome {
	t.Helper()
	T := h.opts.ToolTimeout
	openCtx, cancelOpen := context.WithTimeout(t.Context(), 30*time.Second)
	sb, err := h.open(openCtx)
	if err != nil {
		cancelOpen()
		t.Fatalf("opening a sandbox: %v", err)
	}
	if a.setup != nil {
		if err := a.setup(openCtx, sb); err != nil {
			sb.Close(context.WithoutCancel(openCtx))
			cancelOpen()
			t.Fatalf("setting the sandbox up: %v", err)
		}
	}
	cancelOpen()
	closes := &closeCounter{}
	given := counted(sb, closes)
	opened := 0
	agent := agentbox.New(&attacker{moves: a.moves}, agentbox.Options{
		Open: func(ctx context.Context) (agentbox.Sandbox, error) {
			opened++ // the run opens once, from one goroutine
			if opened > 1 {
				return nil, errors.New("agentboxtest: the run opened a second sandbox")
			}
			return given, nil
		},
		ToolTimeout:     T,
		MaxToolResult:   HostileMaxToolResult,
		NeedsApproval:   a.needsApproval,
		Approve:         a.approve,
		ApprovalTimeout: a.approvalTimeout,
	})

	heapBound := a.heap
	if heapBound == 0 {
		heapBound = HostileHeap
	}
	before := testkit.HeapNow()
	peak := testkit.PeakHeap()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	if a.cancelAfter > 0 {
		stop := time.AfterFunc(a.cancelAfter, cancel)
		defer stop.Stop()
	}
	obs := &observer{results: map[string]agentbox.ToolResult{}, output: map[string]int64{}}
	events := agent.Run(ctx, "Do as you like.")
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for ev := range events {
			obs.see(ev, time.Since(start))
		}
	}()

	limit := a.budget + HostileSlack
	late := !wait(finished, limit)
	forced := false // the suite closed the sandbox under the run
	if late {
		obs.mu.Lock()
		if obs.dones > 0 {
			t.Errorf("the run's channel was not closed within %v of its start, though its Done came after %v", limit, obs.doneAt.Round(time.Millisecond))
		} else {
			t.Errorf("no Done within %v of the run's start: the run did not end in time", limit)
		}
		obs.mu.Unlock()
		cancel()
		after := T + HostileCallGrace + HostileSlack
		ended := wait(finished, after)
		if !ended && a.unstick != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			a.unstick(ctx, sb)
			cancel()
			after *= 2
			ended = wait(finished, after/2)
		}
		if !ended {
			t.Errorf("the run did not end within %v of its context's cancellation; closing its sandbox under it", after)
			forced = true
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			sb.Close(ctx)
			cancel()
			ended = wait(finished, 30*time.Second)
		}
		if !ended {
			peak()
			t.Errorf("the run did not end within 30s of its sandbox's closing: it is abandoned")
			return &outcome{sb: sb}
		}
	}
	high := peak()

	obs.mu.Lock()
	defer obs.mu.Unlock()
	switch {
	case obs.dones == 0:
		t.Errorf("the run's events ended without a Done")
	case obs.dones > 1:
		t.Errorf("the run sent %d Done events, want one", obs.dones)
	}
	if len(obs.afterDone) > 0 {
		t.Errorf("events after Done: %v", obs.afterDone)
	}
	if obs.doneAt > limit {
		t.Errorf("Done came %v after the run started, want within %v", obs.doneAt.Round(time.Millisecond), limit)
	}
	if len(obs.dupes) > 0 {
		t.Errorf("tool calls with two results: %v", obs.dupes)
	}
	done := obs.done
	switch {
	case late: // cancelled by the suite: its reason says nothing more
	case a.cancelAfter > 0 && (done.Reason == agentbox.StopCanceled || done.Reason == agentbox.StopCompleted):
	case a.stop != "" && (done.Reason != a.stop || done.Err != nil):
		t.Errorf("Done = %s, %v; want %s", done.Reason, done.Err, a.stop)
	case a.stop == "" && (done.Reason != agentbox.StopCompleted || done.Err != nil):
		t.Errorf("Done = %s, %v; want the run completed", done.Reason, done.Err)
	}
	for id, r := range obs.results {
		r.Name = capString(r.Name, 40)
		if r.Duration > T+HostileCallGrace {
			t.Errorf("tool call %s (%s) took %v, want at most ToolTimeout %v + %v", id, r.Name, r.Duration.Round(time.Millisecond), T, HostileCallGrace)
		}
		if len(r.Output) > HostileMaxToolResult+64 {
			t.Errorf("tool call %s (%s) returned %d bytes, want at most %d", id, r.Name, len(r.Output), HostileMaxToolResult+64)
		}
		if h.disclosed(obs.results[id]) {
			t.Errorf("tool call %s (%s) returned the contents of a file outside the workspace: %q", id, r.Name, capString(r.Output, 300))
		}
	}
	if high > before && high-before > heapBound {
		t.Errorf("the heap grew by %d MiB during the run, want less than %d MiB", (high-before)>>20, heapBound>>20)
	}
	if n := closes.count(); n != 1 && !forced {
		t.Errorf("the run closed its sandbox %d times, want once", n)
	}
	h.checkSurvivors(t, sb, a.marker)
	h.checkHostFiles(t)
	if t.Failed() {
		logResults(t, obs.results)
	}
	return &outcome{results: obs.results, output: obs.output, done: done, sb: sb}
}

// logResults logs the results of the tool calls, ordered by ID, for the
// diagnosis of a failure.
func logResults(t *testing.T, results map[string]agentbox.ToolResult) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(results)) {
		r := results[id]
		t.Logf("tool call %s (%s), %v: %q, error %v", id, capString(r.Name, 40), r.Duration.Round(time.Millisecond), capString(r.Output, 200), r.Err)
	}
}

// wait waits for ch to be closed, for at most d, and reports whether it was.
func wait(ch <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

// checkSurvivors checks that nothing the run's commands started is running
// HostileSurvivorWait after Done.
func (h *hostile) checkSurvivors(t *testing.T, sb agentbox.Sandbox, marker string) {
	t.Helper()
	if h.opts.Survivors == nil {
		return
	}
	deadline := time.Now().Add(HostileSurvivorWait)
	for {
		left := h.opts.Survivors(sb, marker)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d processes the run started are running %v after it ended: %s", len(left), HostileSurvivorWait, capString(strings.Join(left, "; "), 2000))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkHostFiles checks, with Confined, that /etc/passwd and the file in
// Outside are unchanged, putting them back if not.
func (h *hostile) checkHostFiles(t *testing.T) {
	t.Helper()
	if !h.opts.Confined {
		return
	}
	if h.passwd != nil {
		if now, err := os.ReadFile("/etc/passwd"); err != nil || !bytes.Equal(now, h.passwd) {
			t.Errorf("/etc/passwd changed during the run (%d bytes, %v); putting it back", len(now), err)
			if err := os.WriteFile("/etc/passwd", h.passwd, 0o644); err != nil {
				t.Errorf("putting /etc/passwd back: %v", err)
			}
		}
	}
	if h.secretPath != "" {
		if now, err := os.ReadFile(h.secretPath); err != nil || string(now) != h.secret {
			t.Errorf("%s, outside the workspace, changed during the run: %q, %v", h.secretPath, capString(string(now), 200), err)
			os.WriteFile(h.secretPath, []byte(h.secret), 0o644)
		}
	}
}

// disclosed reports whether r is a file tool's result with the contents of
// a file outside the workspace, with Confined.
func (h *hostile) disclosed(r agentbox.ToolResult) bool {
	if !h.opts.Confined {
		return false
	}
	switch r.Name {
	case "read_file", "edit_file", "list_files", "write_file":
	default:
		return false // commands may read what they like
	}
	return (h.passwdLine != "" && strings.Contains(r.Output, h.passwdLine)) ||
		(h.secret != "" && strings.Contains(r.Output, strings.TrimSpace(h.secret)))
}

// runIn runs line in sb for a setup or an unstick, with a short timeout.
func runIn(ctx context.Context, sb agentbox.Sandbox, line string) error {
	var out bytes.Buffer
	res, err := sb.Run(ctx, agentbox.Command{Cmd: line, Stdout: &out, Stderr: &out, Timeout: 10 * time.Second})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit code %d", res.ExitCode)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %s", line, err, capString(out.String(), 500))
	}
	return nil
}
