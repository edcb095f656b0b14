package local

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/agentbox/agentbox"
)

// StartProcess starts cmd in the background, such as a dev server, and
// returns at once. The process and everything it starts end when it is
// stopped, when its shell exits, or when the sandbox closes. Its ID, "p1",
// "p2" and so on, is never used again by the sandbox.
func (s *Sandbox) StartProcess(ctx context.Context, cmd agentbox.Command) (agentbox.Process, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	p, err := s.start(cmd, true)
	if err != nil {
		return nil, err
	}
	return process{p}, nil
}

// StopProcess kills the background process id and everything it started,
// and waits for them to end (or for ctx).
func (s *Sandbox) StopProcess(ctx context.Context, id string) error {
	s.mu.Lock()
	p, ok := s.bg[id]
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return errClosed
	case !ok:
		return fmt.Errorf("local: no process %q: %w", id, fs.ErrNotExist)
	}
	p.kill(errStopped)
	select {
	case <-p.done:
		return nil
	default:
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("local: stopping process %s: %w", id, ctx.Err())
	}
}

var errStopped = fmt.Errorf("local: process stopped")

// process is a background process of a Sandbox.
type process struct{ p *proc }

func (pr process) ID() string { return pr.p.id }

// Wait waits until the process has ended, or ctx is done. A process that
// has ended gives its result even when ctx is done.
func (pr process) Wait(ctx context.Context) (agentbox.Result, error) {
	select {
	case <-pr.p.done:
		res, _ := pr.p.result()
		return res, nil
	default:
	}
	select {
	case <-pr.p.done:
		res, _ := pr.p.result()
		return res, nil
	case <-ctx.Done():
		return killed, ctx.Err()
	}
}
