package mcpbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentbox/agentbox"
)

// A box holds the sandbox of one MCP session: none until the session's
// first tool call opens it, closed once when the session ends.
type box struct {
	lock chan struct{} // holds a token while the sandbox is opened or closed

	life context.Context         // done when the box starts closing
	end  context.CancelCauseFunc // ends life

	// Guarded by lock.
	sb     agentbox.Sandbox
	closed bool
	err    error // what the sandbox's Close returned
}

func newBox() *box {
	life, end := context.WithCancelCause(context.Background())
	return &box{lock: make(chan struct{}, 1), life: life, end: end}
}

// acquire takes the box's lock, unless ctx is done first.
func (b *box) acquire(ctx context.Context) error {
	select {
	case b.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (b *box) release() { <-b.lock }

// get returns the sandbox, opening it with open at the first call; calls
// made meanwhile wait for that one. A failed open is not remembered: the
// next call tries again. The open is cancelled when the box closes.
func (b *box) get(ctx context.Context, open agentbox.Opener) (agentbox.Sandbox, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer b.release()
	switch {
	case b.closed:
		return nil, errSessionEnded
	case b.sb != nil:
		return b.sb, nil
	}
	octx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(b.life, func() { cancel(errSessionEnded) })()
	sb, err := open(octx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("mcpbox: cannot open the sandbox: %w", err)
	case sb == nil:
		return nil, errors.New("mcpbox: cannot open the sandbox: the opener returned none")
	case b.life.Err() != nil:
		// The session ended while its sandbox opened: nobody will use it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		sb.Close(cctx)
		return nil, errSessionEnded
	}
	b.sb = sb
	return sb, nil
}

// close closes the sandbox, if one was opened, once; later calls wait for
// that one and return its error. An open in progress is cancelled.
func (b *box) close(ctx context.Context) error {
	b.end(errSessionEnded)
	if err := b.acquire(ctx); err != nil {
		return fmt.Errorf("mcpbox: closing the sandbox: %w", err)
	}
	defer b.release()
	if !b.closed {
		b.closed = true
		if b.sb != nil {
			b.err = b.sb.Close(ctx)
		}
	}
	return b.err
}
