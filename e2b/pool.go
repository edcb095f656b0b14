package e2b

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/agentbox/agentbox"
)

// A Pool keeps sandboxes created and warm, so that a run gets one at once
// instead of waiting for E2B to create it. A sandbox handed out is the
// caller's (or the run's) to close; the pool creates another in its place.
type Pool struct {
	cfg   Config
	ready chan *Sandbox // handed from the pool's workers to Get
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	failOnce sync.Once
	failed   chan struct{} // closed when creating cannot succeed
	err      error         // why, once failed is closed

	closeOnce sync.Once
	closeCtx  context.Context // Close's, for the kills of warm sandboxes
	closeErr  error
	errMu     sync.Mutex
	errs      []error // kills that failed, reported by Close
}

// String describes the pool without its configuration's key.
func (p *Pool) String() string { return "e2b pool of " + p.cfg.String() }

// GoString is String, so that %#v does not print the key either.
func (p *Pool) GoString() string { return p.String() }

// NewPool starts keeping size sandboxes made with cfg warm: created in the
// background at once, their lifetimes extended while they wait, and
// replaced as they are handed out. Close kills those not handed out.
func NewPool(cfg Config, size int) *Pool {
	size = max(size, 1)
	ctx, stop := context.WithCancel(context.Background())
	p := &Pool{cfg: cfg, ready: make(chan *Sandbox), ctx: ctx, stop: stop, failed: make(chan struct{})}
	p.wg.Add(size)
	for range size {
		go p.keep()
	}
	return p
}

// Get hands out a warm sandbox, waiting for one when all are being
// created. It fails at once when creating cannot succeed (a bad key, a
// missing template), and after Close.
func (p *Pool) Get(ctx context.Context) (*Sandbox, error) {
	select {
	case sb := <-p.ready:
		return sb, nil
	case <-p.failed:
		return nil, p.err
	case <-p.ctx.Done():
		return nil, fmt.Errorf("e2b: pool: %w", agentbox.ErrClosed)
	case <-ctx.Done():
		return nil, fmt.Errorf("e2b: pool: waiting for a sandbox: %w", ctx.Err())
	}
}

// Opener returns an [agentbox.Opener] that takes its sandboxes from the
// pool.
func (p *Pool) Opener() agentbox.Opener {
	return func(ctx context.Context) (agentbox.Sandbox, error) {
		sb, err := p.Get(ctx)
		if err != nil {
			return nil, err
		}
		return sb, nil
	}
}

// Close stops creating sandboxes and kills the warm ones, those being
// created included (once E2B has answered: it would finish creating them
// anyway). Sandboxes handed out are not the pool's to kill. ctx bounds the
// kills.
func (p *Pool) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.closeCtx = ctx
		p.stop()
		p.wg.Wait()
		p.errMu.Lock()
		p.closeErr = errors.Join(p.errs...)
		p.errMu.Unlock()
	})
	return p.closeErr
}

// keep keeps one sandbox warm until the pool closes: it creates one, hands
// it to Get, or extends its lifetime while it waits, and starts again.
func (p *Pool) keep() {
	defer p.wg.Done()
	lifetime := p.cfg.lifetime()
	for attempt := 0; p.ctx.Err() == nil; {
		// A create is not abandoned when the pool closes: E2B would finish
		// it, and the sandbox would live on unseen.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), requestTimeout)
		sb, err := create(ctx, p.cfg, false)
		cancel()
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			if permanent(err) {
				p.fail(err)
				return
			}
			p.sleep(attempt)
			attempt++
			continue
		}
		attempt = 0
		p.offer(sb, lifetime)
	}
}

// offer holds sb until Get takes it, extending its lifetime half way
// through, and once more as it is handed out; it closes sb when the pool
// closes or sb dies.
func (p *Pool) offer(sb *Sandbox, lifetime time.Duration) {
	refresh := time.NewTicker(lifetime / 2)
	defer refresh.Stop()
	for {
		select {
		case p.ready <- sb:
			// The taker gets a whole lifetime; if it closed sb already, the
			// error is of no interest.
			ctx, cancel := context.WithTimeout(p.ctx, requestTimeout)
			sb.SetLifetime(ctx, lifetime)
			cancel()
			return
		case <-refresh.C:
			ctx, cancel := context.WithTimeout(p.ctx, requestTimeout)
			err := sb.SetLifetime(ctx, lifetime)
			cancel()
			if err != nil && p.ctx.Err() == nil {
				p.discard(sb) // gone, or unreachable: make another
				return
			}
		case <-p.ctx.Done():
			p.discard(sb)
			return
		}
	}
}

// discard kills a sandbox the pool will not hand out.
func (p *Pool) discard(sb *Sandbox) {
	parent := context.Background()
	if p.ctx.Err() != nil && p.closeCtx != nil {
		parent = p.closeCtx // set before the pool's ctx was cancelled
	}
	ctx, cancel := context.WithTimeout(parent, requestTimeout)
	defer cancel()
	if err := sb.Close(ctx); err != nil {
		p.errMu.Lock()
		p.errs = append(p.errs, err)
		p.errMu.Unlock()
	}
}

// fail records that creating sandboxes cannot succeed.
func (p *Pool) fail(err error) {
	p.failOnce.Do(func() {
		p.err = fmt.Errorf("e2b: pool: %w", err)
		close(p.failed)
	})
}

// sleep waits before another attempt to create a sandbox.
func (p *Pool) sleep(attempt int) {
	d := min(retryDelay<<min(attempt, 20), maxRetryDelay)
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.ctx.Done():
	}
}

// permanent reports whether creating a sandbox failed for a reason that
// trying again will not change: the key, or the request itself.
func permanent(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return errors.Is(err, ErrAuth) || (e.StatusCode >= 400 && e.StatusCode < 500 && e.StatusCode != 408 && e.StatusCode != 429)
}
