package e2b

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/internal/envd/process"
	"github.com/agentbox/agentbox/internal/cmdenv"
)

// keepaliveSeconds asks envd for a keep-alive event at least this often on
// quiet streams, so that proxies do not cut them (the official SDKs' value).
const keepaliveSeconds = "50"

// timeoutGrace is how much later than a command's Timeout envd is told to
// kill it: at the Timeout the command is killed from here, with everything
// it started, which envd's own kill (of the process alone) would miss. envd's
// kill remains for when this program is gone.
const timeoutGrace = 5 * time.Second

// killPatience bounds the kill of a command whose caller gave up on it.
const killPatience = 10 * time.Second

// errClosing is the cause of stopping a command because its sandbox closes.
var errClosing = errors.New("sandbox closing")

// Run runs cmd with /bin/bash -l -c and streams its output. A command whose
// Timeout passes or whose ctx is done is killed, with everything it started.
// The Timeout is also sent to envd (Connect-Timeout-Ms, a few seconds later),
// which kills the command itself should this program be gone by then.
func (s *Sandbox) Run(ctx context.Context, cmd agentbox.Command) (agentbox.Result, error) {
	const op = "run command"
	killed := agentbox.Result{ExitCode: -1}
	if err := s.check(); err != nil {
		return killed, err
	}
	if err := cmdenv.Check(cmd.Env); err != nil {
		return killed, fmt.Errorf("e2b: %s: %w", op, err)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.ctx, func() { cancel(errClosing) })
	defer stop()
	if cmd.Timeout > 0 {
		var cancelTimeout context.CancelFunc
		runCtx, cancelTimeout = context.WithTimeoutCause(runCtx, cmd.Timeout+timeoutGrace, agentbox.ErrTimeout)
		defer cancelTimeout()
		timer := time.AfterFunc(cmd.Timeout, func() { cancel(agentbox.ErrTimeout) })
		defer timer.Stop()
	}
	tag := newTag()
	st, err := s.process.Start(runCtx, s.startRequest(cmd, tag))
	if err != nil {
		return killed, s.abandon(ctx, runCtx, op, 0, tag, err)
	}
	defer st.Close()
	ev := startEvents(st)
	out := newOutput(cmd.Stdout, cmd.Stderr)
	pid, err := ev.awaitStart(out)
	if err != nil {
		return killed, s.abandon(ctx, runCtx, op, 0, tag, err)
	}
	end, err := ev.consume(out)
	if err != nil {
		return killed, s.abandon(ctx, runCtx, op, pid, tag, err)
	}
	res := resultOf(end)
	if runCtx.Err() != nil && res.ExitCode == -1 {
		// envd killed it for the timeout, or it was killed as ctx ended.
		return res, s.abandon(ctx, runCtx, op, pid, "", runCtx.Err())
	}
	return res, nil
}

// abandon handles a command whose stream ended without its end event: when
// its caller gave up (ctx, Timeout) it kills the command; otherwise the
// stream failed, and it kills the command too, rather than leave it behind
// unwatched. It returns the error to report.
func (s *Sandbox) abandon(ctx, runCtx context.Context, op string, pid uint32, tag string, err error) error {
	cause := context.Cause(runCtx)
	if (pid != 0 || tag != "") && s.mustKill() {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killPatience)
		kerr := s.kill(kctx, pid, tag)
		cancel()
		if kerr != nil && !errors.Is(kerr, fs.ErrNotExist) && runCtx.Err() != nil {
			err = fmt.Errorf("%w; and killing it failed: %w", err, kerr)
		}
	}
	switch {
	case errors.Is(cause, errClosing) || s.isClosed():
		return fmt.Errorf("e2b: %s: %w", op, agentbox.ErrClosed)
	case ctx.Err() != nil:
		return fmt.Errorf("e2b: %s: %w", op, ctx.Err())
	case errors.Is(cause, agentbox.ErrTimeout):
		return fmt.Errorf("e2b: %s: %w", op, agentbox.ErrTimeout)
	}
	return s.gone(op, rpcError(op, err, s.secrets()...))
}

// kill kills a process, found by pid or, before its pid is known, by tag,
// and everything it started: envd signals only the process itself, so its
// descendants are stopped and killed first, by a short script.
func (s *Sandbox) kill(ctx context.Context, pid uint32, tag string) error {
	if pid == 0 {
		pid = s.lookup(ctx, 0, tag)
		if pid == 0 {
			return nil // it never started, or has ended
		}
	}
	s.exec(ctx, killTreeScript(pid))
	_, err := s.process.SendSignal(ctx, connect.NewRequest(&process.SendSignalRequest{
		Process: &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: pid}},
		Signal:  process.Signal_SIGNAL_SIGKILL,
	}))
	if err != nil {
		return rpcError("kill process "+strconv.Itoa(int(pid)), err, s.secrets()...)
	}
	return nil
}

// killTreeScript stops pid, so that it starts no more, then stops and kills
// its descendants, deepest first. It finds children by the parent pid in
// /proc/*/stat, which every Linux has.
func killTreeScript(pid uint32) string {
	return `k() { local p=$1 s l c; for s in /proc/[0-9]*/stat; do ` +
		`read -r l < "$s" 2>/dev/null || continue; set -- ${l##*) }; [ "$2" = "$p" ] || continue; ` +
		`c=${s#/proc/}; c=${c%/stat}; kill -STOP "$c" 2>/dev/null; k "$c"; kill -KILL "$c" 2>/dev/null; done; }; ` +
		`kill -STOP ` + strconv.Itoa(int(pid)) + ` 2>/dev/null; k ` + strconv.Itoa(int(pid))
}

// lookup finds the pid of the process envd runs with the given tag, or,
// with no tag, checks that envd runs pid; 0 when there is none.
func (s *Sandbox) lookup(ctx context.Context, pid uint32, tag string) uint32 {
	resp, err := s.process.List(ctx, connect.NewRequest(&process.ListRequest{}))
	if err != nil {
		return 0
	}
	for _, p := range resp.Msg.GetProcesses() {
		if (tag != "" && p.GetTag() == tag) || (tag == "" && p.GetPid() == pid) {
			return p.GetPid()
		}
	}
	return 0
}

// exec runs a short command for its effect, ignoring its output.
func (s *Sandbox) exec(ctx context.Context, script string) {
	st, err := s.process.Start(ctx, s.startRequest(agentbox.Command{Cmd: script}, ""))
	if err != nil {
		return
	}
	defer st.Close()
	startEvents(st).consume(newOutput(nil, nil))
}

// startRequest is the request that starts cmd.
func (s *Sandbox) startRequest(cmd agentbox.Command, tag string) *connect.Request[process.StartRequest] {
	cwd := homePath(cmd.Dir) // never none: that is the template's workdir
	pc := &process.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", cmd.Cmd}, Envs: cmd.Env, Cwd: &cwd}
	stdin := false
	sr := &process.StartRequest{Process: pc, Stdin: &stdin}
	if tag != "" {
		sr.Tag = &tag
	}
	req := connect.NewRequest(sr)
	req.Header().Set("Keepalive-Ping-Interval", keepaliveSeconds)
	return req
}

// newTag returns a tag naming a process before its pid is known.
func newTag() string { return fmt.Sprintf("agentbox-%016x", rand.Uint64()) }

// resultOf is the Result of a process's end event: exitCode is omitted for
// 0, and is -1 for a process that was killed by a signal.
func resultOf(end *process.ProcessEvent_EndEvent) agentbox.Result {
	if !end.GetExited() {
		return agentbox.Result{ExitCode: -1}
	}
	return agentbox.Result{ExitCode: int(end.GetExitCode())}
}

// events reads a stream of process events: Start's or Connect's.
type events struct {
	receive  func() bool
	event    func() *process.ProcessEvent
	err      func() error
	received bool // whether consume received any event
}

func startEvents(st *connect.ServerStreamForClient[process.StartResponse]) *events {
	return &events{receive: st.Receive, event: func() *process.ProcessEvent { return st.Msg().GetEvent() }, err: st.Err}
}

func connectEvents(st *connect.ServerStreamForClient[process.ConnectResponse]) *events {
	return &events{receive: st.Receive, event: func() *process.ProcessEvent { return st.Msg().GetEvent() }, err: st.Err}
}

// failedEvents is a stream that failed before its first event.
func failedEvents(err error) *events {
	return &events{receive: func() bool { return false }, err: func() error { return err }}
}

// errNoEnd is the error of a stream that ended without the process's end.
var errNoEnd = errors.New("the stream ended before the process did")

// awaitStart reads events up to the start event and returns the pid.
func (ev *events) awaitStart(out *output) (uint32, error) {
	for ev.receive() {
		e := ev.event()
		if start := e.GetStart(); start != nil {
			return start.GetPid(), nil
		}
		out.write(e.GetData())
	}
	if err := ev.err(); err != nil {
		return 0, err
	}
	return 0, errNoEnd
}

// consume reads events up to the end event, writing the output, and then
// the rest of the stream.
func (ev *events) consume(out *output) (*process.ProcessEvent_EndEvent, error) {
	for ev.receive() {
		ev.received = true
		e := ev.event()
		if end := e.GetEnd(); end != nil {
			ev.drain()
			return end, nil
		}
		out.write(e.GetData())
	}
	if err := ev.err(); err != nil {
		return nil, err
	}
	return nil, errNoEnd
}

// drainLimit bounds the messages read after a process's end event: envd
// sends none, but ends the stream, which must be read for the connection
// to be used again.
const drainLimit = 4

// drain reads a stream to its end, so that its connection is reused rather
// than closed; a stream that goes on is left, and closed with its
// connection.
func (ev *events) drain() {
	for range drainLimit {
		if !ev.receive() {
			return
		}
	}
}

// output writes a process's output to its writers; a writer that fails
// gets no more.
type output struct {
	stdout, stderr io.Writer
}

func newOutput(stdout, stderr io.Writer) *output {
	return &output{stdout, stderr}
}

func (o *output) write(d *process.ProcessEvent_DataEvent) {
	if d == nil {
		return
	}
	if b := d.GetStdout(); len(b) > 0 && o.stdout != nil {
		if _, err := o.stdout.Write(b); err != nil {
			o.stdout = nil
		}
	}
	if b := d.GetStderr(); len(b) > 0 && o.stderr != nil {
		if _, err := o.stderr.Write(b); err != nil {
			o.stderr = nil
		}
	}
}
