package e2btest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox/e2b/internal/envd/process"
	"github.com/agentbox/agentbox/e2b/internal/envd/process/processconnect"
)

// processService is envd's Process service. As envd does, it kills a
// process when the request's Connect-Timeout-Ms passes but not when the
// client goes away, and signals only the process itself.
type processService struct {
	s *Server
	processconnect.UnimplementedProcessHandler
}

// envdKeepalive is envd's keep-alive interval when the client asks none.
const envdKeepalive = 90 * time.Second

func (ps *processService) Start(ctx context.Context, req *connect.Request[process.StartRequest], stream *connect.ServerStream[process.StartResponse]) error {
	sb := sandboxOf(ctx)
	drop := sb.dropped() // the stream is open from the request on
	cfg := req.Msg.GetProcess()
	if cfg.GetCmd() == "" {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("process cmd is required"))
	}
	cwd := sb.resolve(cfg.GetCwd())
	if fi, err := os.Stat(cwd); err != nil || !fi.IsDir() {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("cwd '%s' does not exist", cwd))
	}
	procCtx, cancel := context.Background(), context.CancelFunc(func() {})
	if ms, err := strconv.ParseInt(req.Header().Get("Connect-Timeout-Ms"), 10, 64); err == nil && ms > 0 {
		procCtx, cancel = context.WithTimeout(procCtx, time.Duration(ms)*time.Millisecond)
	}
	cmd := exec.CommandContext(procCtx, cfg.GetCmd(), cfg.GetArgs()...)
	cmd.Dir = cwd
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + sb.home, "USER=user", "LOGNAME=user", "E2B_SANDBOX=true", "E2B_SANDBOX_ID=" + sb.id}
	for k, v := range sb.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range cfg.GetEnvs() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that the sandbox's death kills all
	stdout, err1 := cmd.StdoutPipe()
	stderr, err2 := cmd.StderrPipe()
	if err := errors.Join(err1, err2); err != nil {
		cancel()
		return connect.NewError(connect.CodeInternal, err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return connect.NewError(connect.CodeInternal, fmt.Errorf("error starting process: %w", err))
	}
	ps.s.recordCommand(sb.id, req.Msg.GetTag(), cfg, req.Header())
	p := &proc{pid: uint32(cmd.Process.Pid), tag: req.Msg.GetTag(), config: cfg, done: make(chan struct{}), subs: make(map[*subscriber]bool)}
	sub := p.subscribe(ctx)
	defer p.unsubscribe(sub)
	if !sb.register(p) {
		syscall.Kill(-int(p.pid), syscall.SIGKILL)
		cmd.Wait()
		cancel()
		panic(http.ErrAbortHandler) // the sandbox died
	}
	go p.run(sb, cmd, stdout, stderr, cancel)
	send := func(ev *process.ProcessEvent) error { return stream.Send(&process.StartResponse{Event: ev}) }
	if err := send(startEvent(p.pid)); err != nil {
		return err
	}
	return ps.stream(ctx, sb, sub, send, req.Header(), drop)
}

func (ps *processService) Connect(ctx context.Context, req *connect.Request[process.ConnectRequest], stream *connect.ServerStream[process.ConnectResponse]) error {
	sb := sandboxOf(ctx)
	drop := sb.dropped()
	p, err := sb.find(req.Msg.GetProcess())
	if err != nil {
		return err
	}
	sub := p.subscribe(ctx)
	defer p.unsubscribe(sub)
	send := func(ev *process.ProcessEvent) error { return stream.Send(&process.ConnectResponse{Event: ev}) }
	if err := send(startEvent(p.pid)); err != nil {
		return err
	}
	return ps.stream(ctx, sb, sub, send, req.Header(), drop)
}

// stream sends a subscriber's events, and keep-alive events when there are
// none, until the process ends, the client goes, the sandbox dies or drop
// is closed (the connections dropped since the stream was asked for).
func (ps *processService) stream(ctx context.Context, sb *sandbox, sub *subscriber, send func(*process.ProcessEvent) error, h http.Header, drop <-chan struct{}) error {
	every := envdKeepalive
	if secs, err := strconv.Atoi(h.Get("Keepalive-Ping-Interval")); err == nil && secs > 0 {
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
		tick.Reset(every)
	}
}

func (ps *processService) List(ctx context.Context, req *connect.Request[process.ListRequest]) (*connect.Response[process.ListResponse], error) {
	sb := sandboxOf(ctx)
	sb.mu.Lock()
	defer sb.mu.Unlock()
	resp := &process.ListResponse{}
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
	var sig syscall.Signal
	switch req.Msg.GetSignal() {
	case process.Signal_SIGNAL_SIGKILL:
		sig = syscall.SIGKILL
	case process.Signal_SIGNAL_SIGTERM:
		sig = syscall.SIGTERM
	default:
		return nil, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("invalid signal: %s", req.Msg.GetSignal()))
	}
	p, err := sandboxOf(ctx).find(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if err := syscall.Kill(int(p.pid), sig); err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("error sending signal: %w", err))
	}
	return connect.NewResponse(&process.SendSignalResponse{}), nil
}

// register adds a running process; false when the sandbox is dead.
func (sb *sandbox) register(p *proc) bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.ctx.Err() != nil {
		return false
	}
	sb.procs[p.pid] = p
	return true
}

// find finds a running process by pid or tag.
func (sb *sandbox) find(sel *process.ProcessSelector) (*proc, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if tag, ok := sel.GetSelector().(*process.ProcessSelector_Tag); ok {
		for _, p := range sb.procs {
			if p.tag == tag.Tag {
				return p, nil
			}
		}
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with tag %s not found", tag.Tag))
	}
	if p := sb.procs[sel.GetPid()]; p != nil {
		return p, nil
	}
	return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with pid %d not found", sel.GetPid()))
}

// A proc is a process running in a sandbox, whose events go to the streams
// subscribed to it.
type proc struct {
	pid    uint32
	tag    string
	config *process.ProcessConfig
	done   chan struct{}

	mu    sync.Mutex
	ended bool
	subs  map[*subscriber]bool
}

// A subscriber is a stream's share of a process's events.
type subscriber struct {
	ch     chan *process.ProcessEvent
	ctx    context.Context
	cancel context.CancelFunc
}

func (p *proc) subscribe(ctx context.Context) *subscriber {
	sub := &subscriber{ch: make(chan *process.ProcessEvent, 16)}
	sub.ctx, sub.cancel = context.WithCancel(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
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

// run streams the process's output and its end.
func (p *proc) run(sb *sandbox, cmd *exec.Cmd, stdout, stderr io.Reader, cancel context.CancelFunc) {
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { p.pump(stdout, false) })
	wg.Go(func() { p.pump(stderr, true) })
	wg.Wait()
	err := cmd.Wait()
	end := &process.ProcessEvent_EndEvent{}
	if st := cmd.ProcessState; st != nil {
		end.ExitCode = int32(st.ExitCode())
		end.Exited = st.Exited()
		end.Status = st.String()
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		msg := err.Error()
		end.Error = &msg
	}
	sb.mu.Lock()
	delete(sb.procs, p.pid)
	sb.mu.Unlock()
	p.broadcast(&process.ProcessEvent{Event: &process.ProcessEvent_End{End: end}})
	p.mu.Lock()
	p.ended = true
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
