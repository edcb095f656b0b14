package e2btest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox/e2b/internal/envd/process"
	"github.com/agentbox/agentbox/e2b/internal/envd/process/processconnect"
)

// processService is envd's Process service. As envd does, it runs every
// command through a /bin/sh wrapper (see wrapper), kills a process when the
// request's Connect-Timeout-Ms passes but not when the client goes away,
// signals only the process itself, and keeps the end of a process that
// ended for a while, for late re-attaches.
type processService struct {
	s *Server
	processconnect.UnimplementedProcessHandler
}

// envdKeepalive is envd's keep-alive interval when the client asks none.
const envdKeepalive = 90 * time.Second

// endedRetention is how long envd keeps the end of a process that ended,
// replaying it to a Process.Connect: 30 seconds (tests shorten it).
var endedRetention atomic.Int64

func init() { endedRetention.Store(int64(30 * time.Second)) }

// wrapperScript is envd's wrapper of every command, run as
// /bin/sh -c SCRIPT -- CMD ARGS...: it makes the process the first the OOM
// killer takes, and resets its I/O priority and niceness, with ionice and
// nice where the system has them (envd's own are raised), then execs the
// command, which keeps the shell's pid.
var wrapperScript = sync.OnceValue(func() string {
	prefix := ""
	if p, err := exec.LookPath("ionice"); err == nil && exec.Command(p, "-c", "2", "-n", "4", "true").Run() == nil {
		prefix += p + " -c 2 -n 4 "
	}
	if p, err := exec.LookPath("nice"); err == nil {
		nice := 0
		if prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
			nice = 20 - prio // Linux's getpriority answers 20 - nice
		}
		prefix += p + " -n " + strconv.Itoa(-nice) + " "
	}
	return `echo 100 > /proc/$$/oom_score_adj && exec ` + prefix + `"${@}"`
})

func (ps *processService) Start(ctx context.Context, req *connect.Request[process.StartRequest], stream *connect.ServerStream[process.StartResponse]) error {
	sb := sandboxOf(ctx)
	drop := sb.dropped() // the stream is open from the request on
	u, err := sb.authUser(ctx)
	if err != nil {
		return err
	}
	procCtx, cancel := context.Background(), context.CancelFunc(func() {})
	if h := req.Header().Get("Connect-Timeout-Ms"); h != "" {
		ms, err := strconv.Atoi(h)
		if err != nil {
			return connect.NewError(connect.CodeInvalidArgument, err)
		}
		if ms > 0 { // none or less is no limit
			procCtx, cancel = context.WithTimeout(procCtx, time.Duration(ms)*time.Millisecond)
		}
	}
	cfg := req.Msg.GetProcess()
	cwd, err := sb.resolve(u, cfg.GetCwd())
	if err != nil {
		cancel()
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	if _, err := os.Stat(cwd); errors.Is(err, fs.ErrNotExist) {
		cancel()
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("cwd '%s' does not exist", cwd))
	}
	cmd := exec.CommandContext(procCtx, "/bin/sh", append([]string{"-c", wrapperScript(), "--", cfg.GetCmd()}, cfg.GetArgs()...)...)
	cmd.Dir = cwd
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name, "E2B_SANDBOX=true", "E2B_SANDBOX_ID=" + sb.id}
	for k, v := range sb.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range cfg.GetEnvs() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err1 := cmd.StdoutPipe()
	stderr, err2 := cmd.StderrPipe()
	if err := errors.Join(err1, err2); err != nil {
		cancel()
		return connect.NewError(connect.CodeInternal, err)
	}
	var stdin io.WriteCloser
	if req.Msg.Stdin == nil || req.Msg.GetStdin() { // otherwise /dev/null
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			cancel()
			return connect.NewError(connect.CodeInternal, err)
		}
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("error starting process '%s': %w", cfg.GetCmd(), err))
	}
	ps.s.recordCommand(sb.id, req.Msg.GetTag(), cfg, req.Header())
	p := &proc{
		pid: uint32(cmd.Process.Pid), tag: req.Msg.GetTag(), config: cfg, cmd: cmd, stdin: stdin,
		done: make(chan struct{}), outDone: make(chan struct{}), subs: make(map[*subscriber]bool),
	}
	sub := p.subscribe(ctx)
	defer p.unsubscribe(sub)
	if !sb.register(p) {
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
		panic(http.ErrAbortHandler) // the sandbox died
	}
	go p.run(sb, stdout, stderr, procCtx, cancel)
	send := func(ev *process.ProcessEvent) error { return stream.Send(&process.StartResponse{Event: ev}) }
	if err := send(startEvent(p.pid)); err != nil {
		return err
	}
	return ps.stream(ctx, sb, sub, send, req.Header(), drop)
}

func (ps *processService) Connect(ctx context.Context, req *connect.Request[process.ConnectRequest], stream *connect.ServerStream[process.ConnectResponse]) error {
	sb := sandboxOf(ctx)
	drop := sb.dropped()
	send := func(ev *process.ProcessEvent) error { return stream.Send(&process.ConnectResponse{Event: ev}) }
	p, err := sb.find(req.Msg.GetProcess())
	if err != nil {
		// It may have ended a moment ago: envd replays its start and end.
		if pid, end := sb.findEnded(req.Msg.GetProcess()); end != nil {
			if err := send(startEvent(pid)); err != nil {
				return err
			}
			return send(&process.ProcessEvent{Event: &process.ProcessEvent_End{End: end}})
		}
		return err
	}
	sub := p.subscribe(ctx)
	defer p.unsubscribe(sub)
	if err := send(startEvent(p.pid)); err != nil {
		return err
	}
	return ps.stream(ctx, sb, sub, send, req.Header(), drop)
}

// stream sends a subscriber's events, and keep-alive events when there are
// none, until the process ends, the client goes, the sandbox dies or drop
// is closed (the connections dropped since the stream was asked for).
//
// A Keepalive-Ping-Interval of 0 or less crashes envd 0.6.13 (its ticker
// panics) right after the start event: the fake drops every open stream of
// the sandbox then, as the crash does.
func (ps *processService) stream(ctx context.Context, sb *sandbox, sub *subscriber, send func(*process.ProcessEvent) error, h http.Header, drop <-chan struct{}) error {
	every := envdKeepalive
	if secs, err := strconv.Atoi(h.Get("Keepalive-Ping-Interval")); err == nil {
		if secs <= 0 {
			sb.dropStreams()
			panic(http.ErrAbortHandler)
		}
		every = time.Duration(secs) * time.Second
	}
	if ps.s.opts.Keepalive > 0 {
		every = ps.s.opts.Keepalive
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		var ev *process.ProcessEvent
		select {
		case e, ok := <-sub.ch:
			if !ok {
				return nil
			}
			ev = e
		case <-tick.C:
			ev = &process.ProcessEvent{Event: &process.ProcessEvent_Keepalive{Keepalive: &process.ProcessEvent_KeepAlive{}}}
		case <-ctx.Done():
			return ctx.Err()
		case <-sb.ctx.Done():
		case <-drop:
			panic(http.ErrAbortHandler) // a connection dropped on the way
		}
		if sb.ctx.Err() != nil {
			panic(http.ErrAbortHandler) // a dead sandbox's connections drop
		}
		if err := send(ev); err != nil {
			return err
		}
		if ev.GetData() != nil {
			tick.Reset(every)
		}
	}
}

func (ps *processService) List(ctx context.Context, req *connect.Request[process.ListRequest]) (*connect.Response[process.ListResponse], error) {
	sb := sandboxOf(ctx)
	sb.mu.Lock()
	defer sb.mu.Unlock()
	resp := &process.ListResponse{Processes: []*process.ProcessInfo{}}
	for _, p := range sb.procs {
		info := &process.ProcessInfo{Config: p.config, Pid: p.pid}
		if p.tag != "" {
			info.Tag = &p.tag
		}
		resp.Processes = append(resp.Processes, info)
	}
	return connect.NewResponse(resp), nil
}

func (ps *processService) SendSignal(ctx context.Context, req *connect.Request[process.SendSignalRequest]) (*connect.Response[process.SendSignalResponse], error) {
	p, err := sandboxOf(ctx).find(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	var sig syscall.Signal
	switch req.Msg.GetSignal() {
	case process.Signal_SIGNAL_SIGKILL:
		sig = syscall.SIGKILL
	case process.Signal_SIGNAL_SIGTERM:
		sig = syscall.SIGTERM
	default:
		return nil, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("invalid signal: %s", req.Msg.GetSignal()))
	}
	p.stopWaitingForOutput() // as envd does for both: the end comes without waiting for what holds the output open
	if err := p.cmd.Process.Signal(sig); err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("error sending signal: %w", err))
	}
	return connect.NewResponse(&process.SendSignalResponse{}), nil
}

func (ps *processService) SendInput(ctx context.Context, req *connect.Request[process.SendInputRequest]) (*connect.Response[process.SendInputResponse], error) {
	p, err := sandboxOf(ctx).find(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	switch in := req.Msg.GetInput().GetInput().(type) {
	case *process.ProcessInput_Stdin:
		if err := p.writeStdin(in.Stdin); err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("error writing to stdin: %w", err))
		}
	case *process.ProcessInput_Pty:
		return nil, connect.NewError(connect.CodeInternal, errors.New("error writing to tty: tty not assigned to process — input should be written to the stdin, not the tty"))
	default:
		return nil, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("invalid input type %T", in))
	}
	return connect.NewResponse(&process.SendInputResponse{}), nil
}

func (ps *processService) CloseStdin(ctx context.Context, req *connect.Request[process.CloseStdinRequest]) (*connect.Response[process.CloseStdinResponse], error) {
	p, err := sandboxOf(ctx).find(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if err := p.closeStdin(); err != nil {
		return nil, connect.NewError(connect.CodeUnknown, fmt.Errorf("error closing stdin: %w", err))
	}
	return connect.NewResponse(&process.CloseStdinResponse{}), nil
}

// writeStdin writes to the process's stdin.
func (p *proc) writeStdin(b []byte) error {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin == nil {
		return errors.New("stdin not enabled or closed")
	}
	if _, err := p.stdin.Write(b); err != nil {
		return fmt.Errorf("error writing to stdin of process '%d': %w", p.pid, err)
	}
	return nil
}

// closeStdin closes the process's stdin, if it has one open.
func (p *proc) closeStdin() error {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin == nil {
		return nil
	}
	err := p.stdin.Close()
	p.stdin = nil
	return err
}

// register adds a running process, forgetting the end of an earlier one
// with its pid or tag; false when the sandbox is dead.
func (sb *sandbox) register(p *proc) bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.ctx.Err() != nil {
		return false
	}
	delete(sb.ended, p.pid)
	for pid, e := range sb.ended {
		if p.tag != "" && e.tag == p.tag {
			delete(sb.ended, pid)
		}
	}
	sb.procs[p.pid] = p
	return true
}

// retire moves a process that ended from the running ones to the ended
// ones, kept for endedRetention.
func (sb *sandbox) retire(p *proc, end *process.ProcessEvent_EndEvent) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.procs[p.pid] != p {
		return
	}
	delete(sb.procs, p.pid)
	if sb.ended == nil {
		sb.ended = make(map[uint32]endedProc)
	}
	sb.ended[p.pid] = endedProc{tag: p.tag, end: end, until: time.Now().Add(time.Duration(endedRetention.Load()))}
}

// An endedProc is the end of a process, kept for late re-attaches.
type endedProc struct {
	tag   string
	end   *process.ProcessEvent_EndEvent
	until time.Time
}

// find finds a running process by pid or tag.
func (sb *sandbox) find(sel *process.ProcessSelector) (*proc, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	switch s := sel.GetSelector().(type) {
	case *process.ProcessSelector_Tag:
		for _, p := range sb.procs {
			if p.tag == s.Tag {
				return p, nil
			}
		}
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with tag %s not found", s.Tag))
	case *process.ProcessSelector_Pid:
		if p := sb.procs[s.Pid]; p != nil {
			return p, nil
		}
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with pid %d not found", s.Pid))
	}
	return nil, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("invalid input type %T", sel))
}

// findEnded finds the end of a process that ended less than endedRetention
// ago, by pid or tag; nil when there is none.
func (sb *sandbox) findEnded(sel *process.ProcessSelector) (uint32, *process.ProcessEvent_EndEvent) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	now := time.Now()
	for pid, e := range sb.ended {
		if now.After(e.until) {
			delete(sb.ended, pid)
		}
	}
	switch s := sel.GetSelector().(type) {
	case *process.ProcessSelector_Pid:
		if e, ok := sb.ended[s.Pid]; ok {
			return s.Pid, e.end
		}
	case *process.ProcessSelector_Tag:
		for pid, e := range sb.ended {
			if e.tag != "" && e.tag == s.Tag {
				return pid, e.end
			}
		}
	}
	return 0, nil
}

// A proc is a process running in a sandbox, whose events go to the streams
// subscribed to it.
type proc struct {
	pid    uint32
	tag    string
	config *process.ProcessConfig
	cmd    *exec.Cmd
	done   chan struct{} // closed when it has ended

	stdinMu sync.Mutex
	stdin   io.WriteCloser // nil when it has none, or it was closed

	outOnce sync.Once
	outDone chan struct{} // closed when its end need not wait for its output to close

	mu    sync.Mutex
	ended bool
	end   *process.ProcessEvent
	subs  map[*subscriber]bool
}

// A subscriber is a stream's share of a process's events.
type subscriber struct {
	ch     chan *process.ProcessEvent
	ctx    context.Context
	cancel context.CancelFunc
}

// subscribe subscribes to the process's events from now on; to its end
// alone when it has ended.
func (p *proc) subscribe(ctx context.Context) *subscriber {
	sub := &subscriber{ch: make(chan *process.ProcessEvent, 16)}
	sub.ctx, sub.cancel = context.WithCancel(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		sub.ch <- p.end
		close(sub.ch)
	} else {
		p.subs[sub] = true
	}
	return sub
}

func (p *proc) unsubscribe(sub *subscriber) {
	sub.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.subs, sub)
}

// broadcast sends ev to every subscriber, waiting for slow ones as long as
// they are there.
func (p *proc) broadcast(ev *process.ProcessEvent) {
	p.mu.Lock()
	subs := make([]*subscriber, 0, len(p.subs))
	for sub := range p.subs {
		subs = append(subs, sub)
	}
	p.mu.Unlock()
	for _, sub := range subs {
		select {
		case sub.ch <- ev:
		case <-sub.ctx.Done():
		}
	}
}

// stopWaitingForOutput lets the process's end be reported as soon as it
// exits, though something it started still holds its output open.
func (p *proc) stopWaitingForOutput() {
	p.outOnce.Do(func() { close(p.outDone) })
}

// run streams the process's output and its end. As envd, it waits for the
// output to close before it reaps the process, unless the process's
// timeout passed or it was signalled; then what remains unread is lost.
func (p *proc) run(sb *sandbox, stdout, stderr io.Reader, procCtx context.Context, cancel context.CancelFunc) {
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { p.pump(stdout, false) })
	wg.Go(func() { p.pump(stderr, true) })
	pumped := make(chan struct{})
	go func() { wg.Wait(); close(pumped) }()
	select {
	case <-pumped:
	case <-procCtx.Done():
	case <-p.outDone:
	}
	err := p.cmd.Wait() // closes the output, ending the pumps
	<-pumped
	end := &process.ProcessEvent_EndEvent{}
	if st := p.cmd.ProcessState; st != nil {
		end.ExitCode = int32(st.ExitCode())
		end.Exited = st.Exited()
		end.Status = st.String()
	}
	if err != nil {
		msg := err.Error() // "exit status 7", "signal: terminated"
		end.Error = &msg
	}
	ev := &process.ProcessEvent{Event: &process.ProcessEvent_End{End: end}}
	sb.retire(p, end)
	p.broadcast(ev)
	p.mu.Lock()
	p.ended, p.end = true, ev
	for sub := range p.subs {
		close(sub.ch)
	}
	p.subs = nil
	p.mu.Unlock()
	close(p.done)
}

// pump sends what r yields as data events.
func (p *proc) pump(r io.Reader, isStderr bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			b := append([]byte(nil), buf[:n]...)
			var out process.ProcessEvent_DataEvent
			if isStderr {
				out.Output = &process.ProcessEvent_DataEvent_Stderr{Stderr: b}
			} else {
				out.Output = &process.ProcessEvent_DataEvent_Stdout{Stdout: b}
			}
			p.broadcast(&process.ProcessEvent{Event: &process.ProcessEvent_Data{Data: &out}})
		}
		if err != nil {
			return
		}
	}
}

func startEvent(pid uint32) *process.ProcessEvent {
	return &process.ProcessEvent{Event: &process.ProcessEvent_Start{Start: &process.ProcessEvent_StartEvent{Pid: pid}}}
}
