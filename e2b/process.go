package e2b

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/internal/envd/process"
	"github.com/agentbox/agentbox/internal/cmdenv"
)

// maxReattach is how many times in a row a background process's dropped
// stream is re-attached (envd's Process.Connect) before it is given up.
const maxReattach = 3

// StartProcess starts cmd in the background, with no timeout, and returns
// once envd reports it started. Its ID is its pid in the sandbox. Output
// goes to cmd.Stdout and cmd.Stderr until it exits, is stopped, or the
// sandbox closes; a dropped stream is re-attached.
func (s *Sandbox) StartProcess(ctx context.Context, cmd agentbox.Command) (agentbox.Process, error) {
	const op = "start process"
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := cmdenv.Check(cmd.Env); err != nil {
		return nil, fmt.Errorf("e2b: %s: %w", op, err)
	}
	tag := newTag()
	streamCtx, cancel := context.WithCancel(s.ctx) // the stream outlives ctx
	stop := context.AfterFunc(ctx, cancel)         // until it has started
	st, err := s.process.Start(streamCtx, s.startRequest(cmd, tag))
	var pid uint32
	var ev *events
	out := newOutput(cmd.Stdout, cmd.Stderr)
	if err == nil {
		ev = startEvents(st)
		pid, err = ev.awaitStart(out)
	}
	if !stop() || err != nil {
		cancel()
		if st != nil {
			st.Close()
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, s.abandon(ctx, streamCtx, op, pid, tag, err)
	}
	p := &bgProcess{id: strconv.FormatUint(uint64(pid), 10), pid: pid, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		st.Close()
		return nil, fmt.Errorf("e2b: %s: %w", op, agentbox.ErrClosed)
	}
	s.procs[p.id] = p
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer cancel()
		defer st.Close()
		p.end(s.follow(streamCtx, p, ev, out))
	}()
	return p, nil
}

// follow reads a background process's events until it ends, re-attaching
// to it (envd's Process.Connect) when the stream drops while the sandbox
// lives. Output written while it was detached is lost; the end of a process
// that ended meanwhile is replayed by envd, exit code included.
func (s *Sandbox) follow(ctx context.Context, p *bgProcess, ev *events, out *output) (agentbox.Result, error) {
	killed := agentbox.Result{ExitCode: -1}
	for failures := 0; ; {
		end, err := ev.consume(out)
		if err == nil {
			return resultOf(end), nil
		}
		if ev.received {
			failures = 0 // it was attached: count drops in a row only
		}
		if s.isClosed() {
			if s.mustKill() {
				kctx, cancel := context.WithTimeout(context.Background(), killPatience)
				s.kill(kctx, p.pid, "")
				cancel()
			}
			return killed, nil // it ended with the sandbox
		}
		var ce *connect.Error
		if errors.As(err, &ce) && ce.Code() == connect.CodeNotFound {
			// It ended longer ago than envd keeps ended processes (30
			// seconds; within them it replays the end, exit code included):
			// its exit code is lost.
			return killed, nil
		}
		if errors.Is(s.gone("follow process "+p.id, err), agentbox.ErrSandboxGone) {
			return killed, nil
		}
		if failures++; failures > maxReattach {
			return killed, fmt.Errorf("e2b: process %s: lost its output: %w", p.id, rpcError("follow process", err, s.secrets()...))
		}
		select { // a moment before trying again, longer each time
		case <-time.After(time.Duration(failures) * 100 * time.Millisecond):
		case <-ctx.Done():
			continue // the sandbox is closing: the next turn says so
		}
		req := connect.NewRequest(&process.ConnectRequest{
			Process: &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: p.pid}},
		})
		req.Header().Set("Keepalive-Ping-Interval", keepaliveSeconds)
		st, err := s.process.Connect(ctx, req)
		if err != nil {
			ev = failedEvents(err)
			continue
		}
		defer st.Close()
		ev = connectEvents(st)
	}
}

// StopProcess kills the background process with the given ID (its pid) and
// everything it started, and waits until it has ended.
func (s *Sandbox) StopProcess(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	s.mu.Lock()
	p := s.procs[id]
	s.mu.Unlock()
	pid, perr := strconv.ParseUint(id, 10, 32)
	if perr != nil || pid == 0 {
		return fmt.Errorf("e2b: stop process %q: %w", id, fs.ErrNotExist)
	}
	if p != nil && p.ended() && !p.lost() {
		return nil
	}
	if p == nil && s.lookup(ctx, uint32(pid), "") == 0 {
		// Not a process envd started (maybe one a command left behind):
		// not the caller's to stop.
		return fmt.Errorf("e2b: stop process %s: %w", id, fs.ErrNotExist)
	}
	if err := s.kill(ctx, uint32(pid), ""); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if p != nil {
				return nil
			}
			return fmt.Errorf("e2b: stop process %s: %w", id, fs.ErrNotExist)
		}
		return s.gone("stop process "+id, err)
	}
	if p != nil && !p.lost() {
		if _, err := p.Wait(ctx); err != nil && ctx.Err() != nil {
			return fmt.Errorf("e2b: stop process %s: %w", id, err)
		}
	}
	return nil
}

// A bgProcess is a process started by StartProcess.
type bgProcess struct {
	id   string
	pid  uint32
	done chan struct{}
	res  agentbox.Result
	err  error
}

// ID is the process's pid in the sandbox.
func (p *bgProcess) ID() string { return p.id }

// Wait waits for the process to end.
func (p *bgProcess) Wait(ctx context.Context) (agentbox.Result, error) {
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return agentbox.Result{ExitCode: -1}, ctx.Err()
	}
}

func (p *bgProcess) end(res agentbox.Result, err error) {
	p.res, p.err = res, err
	close(p.done)
}

// lost reports whether the process was given up on: its output was lost,
// but it may still run.
func (p *bgProcess) lost() bool {
	return p.ended() && p.err != nil
}

func (p *bgProcess) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
