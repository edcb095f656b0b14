package agentbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Errors that sessions report as their [Done] error.
var (
	// ErrSessionBusy means a turn was asked for while another turn of the
	// session was running.
	ErrSessionBusy = errors.New("the session is running another turn")
	// ErrSessionClosed means the session was used after Close, or closed
	// during the turn.
	ErrSessionClosed = errors.New("session is closed")
)

const (
	defaultSessionLifetime = 15 * time.Minute
	defaultPauseAfter      = 5 * time.Minute
)

// SessionOptions configure a [Session]. The zero value is useful.
type SessionOptions struct {
	// Lifetime is how long a sandbox that expires (a [LifetimeSetter], such
	// as E2B's) is kept alive past each use: its lifetime is set at the
	// start of each turn, every Lifetime/2 during it, and when it ends. 0
	// means 15 minutes.
	Lifetime time.Duration
	// Reconnect reaches the sandbox of a resumed session again, at its first
	// turn. It is needed to resume a state that has a sandbox.
	Reconnect Reconnector
	// PauseAfter is how long a sandbox that can pause (a [Pauser], such as
	// E2B's) runs on once a turn has ended, before the session pauses it so
	// that it costs nothing while the conversation idles; the next turn
	// resumes it, which takes a moment, with its files as they were. 0
	// means 5 minutes, a negative value never pauses. It is at most three
	// quarters of Lifetime, so that the sandbox pauses before it expires.
	PauseAfter time.Duration
}

func (o SessionOptions) lifetime() time.Duration {
	if o.Lifetime <= 0 {
		return defaultSessionLifetime
	}
	return o.Lifetime
}

// pauseAfter is how long the sandbox idles before it is paused; 0 means
// never.
func (o SessionOptions) pauseAfter() time.Duration {
	switch {
	case o.PauseAfter < 0:
		return 0
	case o.PauseAfter == 0:
		return min(defaultPauseAfter, o.lifetime()*3/4)
	}
	return min(o.PauseAfter, o.lifetime()*3/4)
}

// SessionState is what a [Session] needs to go on, in this process or
// another: the conversation, how to reach its sandbox, and the usage so far.
// It marshals to JSON.
type SessionState struct {
	Messages []Message `json:"messages"`
	// Sandbox is nil when the session has no sandbox of its own yet, or one
	// that cannot be reached again (not [Resumable]).
	Sandbox *SandboxRef `json:"sandbox,omitempty"`
	Usage   Usage       `json:"usage"`
}

// A Session is a conversation with an agent over many turns, and the sandbox
// they share: files written and processes started in one turn are there in
// the next.
//
// The session opens its sandbox with the agent's Options.Open at the first
// turn that needs one (together with that turn's first model request, as a
// run does), keeps it alive while in use (when it is a [LifetimeSetter]) and
// closes it on Close; a sandbox the agent was given (Options.Sandbox) is used
// as it is and never closed. A sandbox that can pause (a [Pauser]) is paused
// once the session has idled SessionOptions.PauseAfter, never during a
// turn, and resumed at the start of the next turn; a failure to pause is
// logged, one to resume is a non-fatal [Error] event of that turn. When, at
// the start of a turn, the session's
// sandbox reports that it has expired or died, a new one replaces it, with a
// non-fatal [Error] event saying so. History beyond the agent's
// Options.HistoryTokens is shortened as runs do.
//
// A Session is safe for concurrent use, but runs one turn at a time.
type Session struct {
	agent *Agent
	opts  SessionOptions

	mu       sync.Mutex
	messages []Message
	usage    Usage
	sandbox  Sandbox     // opened or reached again by a turn; nil before
	ref      *SandboxRef // a resumed session's sandbox, until a turn reaches it
	running  chan struct{}
	cancel   context.CancelCauseFunc // cancels the running turn
	closed   bool
	idle     *time.Timer   // pauses the sandbox once the session has idled; nil when not set
	idleGen  uint64        // which idle timer may pause: a later one, or a turn, makes earlier ones void
	pausing  chan struct{} // closed when the pause under way ends; nil when none is
	paused   bool          // the session paused its sandbox (or tried to) since it last resumed it

	closing sync.Mutex // one Close at a time
}

// NewSession starts a session with no turns yet.
func (a *Agent) NewSession(opts SessionOptions) *Session {
	return &Session{agent: a, opts: opts}
}

// ResumeSession continues the session that state describes. Its sandbox, if
// it has one, is reached again with opts.Reconnect at the first turn that
// needs it; when that sandbox is gone, a new one is opened in its place.
func (a *Agent) ResumeSession(state SessionState, opts SessionOptions) (*Session, error) {
	s := a.NewSession(opts)
	s.messages = slices.Clone(state.Messages)
	s.usage = state.Usage
	if state.Sandbox != nil && a.opts.Sandbox == nil {
		if opts.Reconnect == nil {
			return nil, fmt.Errorf("agentbox: resuming a session with a %q sandbox needs SessionOptions.Reconnect", state.Sandbox.Backend)
		}
		ref := *state.Sandbox
		s.ref = &ref
	}
	return s, nil
}

// Send adds text as the user's next turn and runs it. The events and their
// contract are those of [Agent.Run]: the last is always a [Done], whose
// Messages is the whole conversation. While a turn runs, another Send ends at
// once with [ErrSessionBusy].
//
// Tool calls still waiting for approval (see [Session.Pending]) are not run:
// the model reads that the user wrote instead of answering.
func (s *Session) Send(ctx context.Context, text string) <-chan Event {
	return s.turn(ctx, func(msgs []Message) ([]Message, error) {
		return append(msgs, Message{Role: RoleUser, Content: text}), nil
	}, nil)
}

// Continue runs on the turn that stopped with [StopApproval], with answers
// to the tool calls it waits for, as [Agent.Continue] does; its events are
// those of a turn. It is how a server asks a person in one request and goes
// on in the next: the answers may come in another process, to the session
// [Agent.ResumeSession] made of the state.
func (s *Session) Continue(ctx context.Context, answers ...Approval) <-chan Event {
	return s.turn(ctx, func(msgs []Message) ([]Message, error) { return msgs, nil },
		func(r *run) error { return r.prepareContinue(answers) })
}

// Pending returns the tool calls waiting for approval: those of the last
// turn, when it stopped with [StopApproval] and has not been continued.
func (s *Session) Pending() []ToolCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, waiting := waitingCalls(s.messages)
	return waiting
}

// Retry runs the last turn again: what followed the last user message is
// dropped and the model answers that message anew. Files the dropped answer
// wrote stay in the sandbox.
func (s *Session) Retry(ctx context.Context) <-chan Event {
	return s.turn(ctx, func(msgs []Message) ([]Message, error) {
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].Role == RoleUser {
				return msgs[:i+1], nil
			}
		}
		return nil, errors.New("agentbox: the session has no turn to retry")
	}, nil)
}

// Edit replaces the user's nth message (0 for the first) with text, drops
// every turn after it, and runs it, as when a chat's user edits an earlier
// message. Files the dropped turns wrote stay in the sandbox.
func (s *Session) Edit(ctx context.Context, n int, text string) <-chan Event {
	return s.turn(ctx, func(msgs []Message) ([]Message, error) {
		seen := 0
		for i, m := range msgs {
			if m.Role != RoleUser {
				continue
			}
			if seen == n {
				return append(msgs[:i:i], Message{Role: RoleUser, Content: text}), nil
			}
			seen++
		}
		return nil, fmt.Errorf("agentbox: the session has no user message %d to edit (it has %d)", n, seen)
	}, nil)
}

// turn starts a run of the conversation that next makes of the session's,
// which prepare, when not nil, readies.
func (s *Session) turn(ctx context.Context, next func([]Message) ([]Message, error), prepare func(*run) error) <-chan Event {
	a := s.agent
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	switch {
	case s.closed:
		err = ErrSessionClosed
	case s.running != nil:
		err = ErrSessionBusy
	}
	var msgs []Message
	if err == nil {
		msgs, err = next(slices.Clone(s.messages))
	}
	var r *run
	if err == nil {
		r = a.newRun(msgs)
		if prepare != nil {
			err = prepare(r)
		}
	}
	if err != nil {
		return failed(err, s.messages)
	}

	switch {
	case a.opts.Sandbox != nil:
		r.source.given = a.opts.Sandbox // the caller's: its lifetime too
	case s.sandbox != nil || s.ref != nil || a.opts.Open != nil:
		t := &turnSandbox{s: s, stop: make(chan struct{})}
		r.source.open, r.source.release = t.open, t.release
	}
	ctx, cancel := context.WithCancelCause(ctx)
	running := make(chan struct{})
	s.running, s.cancel = running, cancel
	s.stopIdle()
	go func() {
		done := r.execute(ctx)
		// The turn is over before its last events are sent: Close need not
		// wait for the consumer.
		s.mu.Lock()
		s.messages = slices.Clone(done.Messages)
		s.usage.Add(done.Usage)
		s.running, s.cancel = nil, nil
		s.startIdle()
		s.mu.Unlock()
		cancel(nil)
		close(running)
		r.end(done)
	}()
	return r.out
}

// turnSandbox is the session's sandbox as one turn has it: opened or
// reached again when the turn starts, kept alive during it (when it is a
// [LifetimeSetter]), and the session's again when the turn ends.
type turnSandbox struct {
	s       *Session
	stop    chan struct{} // closed when the turn ends
	keeping sync.WaitGroup
	ls      LifetimeSetter // the sandbox, when it expires
}

// open gives the turn the session's sandbox, and keeps it alive.
func (t *turnSandbox) open(ctx context.Context, warn func(error)) (Sandbox, error) {
	sb, err := t.s.openSandbox(ctx, warn)
	if ls, ok := sb.(LifetimeSetter); ok && err == nil {
		t.ls = ls
		t.keeping.Go(func() { t.keepAlive(ctx, warn) })
	}
	return sb, err
}

// keepAlive refreshes the sandbox's lifetime every half lifetime until the
// turn ends.
func (t *turnSandbox) keepAlive(ctx context.Context, warn func(error)) {
	lifetime := t.s.opts.lifetime()
	tick := time.NewTicker(max(lifetime/2, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := t.ls.SetLifetime(ctx, lifetime); err != nil && ctx.Err() == nil {
				warn(fmt.Errorf("keep the sandbox alive: %w", err))
			}
		case <-t.stop:
			return
		}
	}
}

// release ends the turn's use of sb, which open returned: its lifetime is
// refreshed once more, so that it outlives the turn by a whole lifetime, and
// the session adopts it.
func (t *turnSandbox) release(ctx context.Context, sb Sandbox) error {
	close(t.stop)
	t.keeping.Wait()
	if t.ls != nil {
		if err := t.ls.SetLifetime(ctx, t.s.opts.lifetime()); err != nil {
			t.s.agent.log.Warn("agentbox: keeping the sandbox alive failed", "error", err)
		}
	}
	t.s.adopt(sb)
	return nil
}

// openSandbox gives a turn the session's sandbox, once it has checked that
// it is alive; it reaches a resumed session's sandbox again, and opens a new
// one when there is none or it is gone.
func (s *Session) openSandbox(ctx context.Context, warn func(error)) (Sandbox, error) {
	s.mu.Lock()
	sb, ref, pausing := s.sandbox, s.ref, s.pausing
	s.mu.Unlock()
	if pausing != nil {
		select { // the pause that began before this turn must end first
		case <-pausing:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	gone := func(err error) {
		warn(fmt.Errorf("the session's sandbox is gone, so this turn gets a new one without the files of earlier turns: %w", err))
	}
	s.mu.Lock()
	paused := s.paused && s.sandbox == sb
	s.mu.Unlock()
	if p, ok := sb.(Pauser); ok && paused {
		// Not cancelled with the turn, as the lifetime below.
		resumeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		err := p.Resume(resumeCtx)
		cancel()
		switch {
		case errors.Is(err, ErrSandboxGone):
			gone(err)
			s.forget(ctx, sb)
			sb = nil
		case err != nil:
			warn(fmt.Errorf("resume the session's sandbox: %w", err))
		default:
			s.mu.Lock()
			s.paused = false
			s.mu.Unlock()
		}
	}
	if sb == nil && ref != nil {
		var err error
		sb, err = s.opts.Reconnect(ctx, *ref)
		switch {
		case errors.Is(err, ErrSandboxGone):
			gone(err)
			sb = nil
		case err != nil:
			return nil, fmt.Errorf("reach the session's %s sandbox again: %w", ref.Backend, err)
		}
	}
	if ls, ok := sb.(LifetimeSetter); ok {
		// Not cancelled with the turn: a short turn keeps it alive too.
		lifeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		err := ls.SetLifetime(lifeCtx, s.opts.lifetime())
		cancel()
		switch {
		case errors.Is(err, ErrSandboxGone) || errors.Is(err, ErrClosed):
			gone(err)
			s.forget(ctx, sb)
			sb = nil
		case err != nil:
			warn(fmt.Errorf("keep the session's sandbox alive: %w", err))
		}
	}
	if sb != nil {
		return sb, nil
	}
	if s.agent.opts.Open == nil {
		return nil, fmt.Errorf("%w, and the agent has no Options.Open to open another", ErrSandboxGone)
	}
	return s.agent.opts.Open(ctx)
}

// forget drops the session's sandbox sb, which is gone, and closes it to
// release what this process holds of it.
func (s *Session) forget(ctx context.Context, sb Sandbox) {
	s.mu.Lock()
	if s.sandbox == sb {
		s.sandbox, s.paused = nil, false // even if no new one opens now
	}
	s.mu.Unlock()
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	sb.Close(closeCtx)
	cancel()
}

// startIdle sets the timer that pauses the session's sandbox once it has
// idled long enough, when it can pause. s.mu must be held.
func (s *Session) startIdle() {
	s.stopIdle()
	d := s.opts.pauseAfter()
	if _, ok := s.sandbox.(Pauser); !ok || d <= 0 || s.closed {
		return
	}
	gen := s.idleGen
	s.idle = time.AfterFunc(d, func() { s.pauseIdle(gen) })
}

// stopIdle stops the idle timer, and voids it should it have fired
// already. s.mu must be held.
func (s *Session) stopIdle() {
	s.idleGen++
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
}

// pauseIdle pauses the session's sandbox, unless the idle timer gen was
// stopped: a turn started, or the session closed. A turn that starts while
// the sandbox pauses waits for the pause to end before it resumes it.
func (s *Session) pauseIdle(gen uint64) {
	s.mu.Lock()
	p, ok := s.sandbox.(Pauser)
	if !ok || gen != s.idleGen || s.closed || s.running != nil || s.pausing != nil {
		s.mu.Unlock()
		return
	}
	s.idle = nil
	done := make(chan struct{})
	s.pausing = done
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	err := p.Pause(ctx)
	cancel()
	unsupported := errors.Is(err, ErrNotSupported)
	s.mu.Lock()
	s.pausing = nil
	s.paused = s.paused || !unsupported // a failed pause may have paused it all the same
	s.mu.Unlock()
	close(done)
	if err != nil && !unsupported {
		s.agent.log.Warn("agentbox: pausing the session's idle sandbox failed", "error", err)
	}
}

// adopt keeps the sandbox a turn used, unless the session was closed
// meanwhile.
func (s *Session) adopt(sb Sandbox) {
	s.mu.Lock()
	closed := s.closed
	if closed {
		s.sandbox = nil
	} else {
		if s.sandbox != sb {
			s.paused = false
		}
		s.sandbox, s.ref = sb, nil
	}
	s.mu.Unlock()
	if closed {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := sb.Close(ctx); err != nil {
			s.agent.log.Warn("agentbox: closing the session's sandbox failed", "error", err)
		}
	}
}

// State returns what [Agent.ResumeSession] needs to continue the session.
// During a turn, it is the state before that turn.
func (s *Session) State() SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SessionState{Messages: slices.Clone(s.messages), Usage: s.usage}
	if r, ok := s.sandbox.(Resumable); ok {
		ref := r.Ref()
		st.Sandbox = &ref
	} else if s.ref != nil {
		ref := *s.ref
		st.Sandbox = &ref
	}
	return st
}

// Messages returns the conversation so far.
func (s *Session) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Usage returns the usage of all the session's turns.
func (s *Session) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage
}

// Sandbox returns the sandbox the session's turns use: the agent's
// Options.Sandbox, or the one the session opened; nil before a turn has
// opened one. Between turns the session's own may be paused (see
// SessionOptions.PauseAfter): what using it does then is up to its
// implementation (E2B's resumes).
func (s *Session) Sandbox() Sandbox {
	if sb := s.agent.opts.Sandbox; sb != nil {
		return sb
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sandbox
}

// Close ends the session: a running turn is cancelled (its Done error
// matches [ErrSessionClosed]) and waited for, and the session's sandbox is
// closed — the one it opened, or the one it was resumed with (reached again
// to close it). Later turns end at once with ErrSessionClosed. Calling Close
// again returns nil once all is done.
func (s *Session) Close(ctx context.Context) error {
	s.closing.Lock()
	defer s.closing.Unlock()
	s.mu.Lock()
	s.closed = true
	s.stopIdle()
	running, cancel, pausing := s.running, s.cancel, s.pausing
	s.mu.Unlock()
	if running != nil {
		cancel(ErrSessionClosed)
		select {
		case <-running:
		case <-ctx.Done():
			return fmt.Errorf("agentbox: closing the session: waiting for its turn to end: %w", ctx.Err())
		}
	}
	if pausing != nil {
		select {
		case <-pausing:
		case <-ctx.Done():
			return fmt.Errorf("agentbox: closing the session: waiting for its sandbox to pause: %w", ctx.Err())
		}
	}
	s.mu.Lock()
	sb, ref := s.sandbox, s.ref
	s.sandbox, s.ref = nil, nil
	s.mu.Unlock()
	if sb == nil && ref != nil {
		var err error
		if sb, err = s.opts.Reconnect(ctx, *ref); err != nil {
			if errors.Is(err, ErrSandboxGone) {
				return nil
			}
			s.mu.Lock()
			s.ref = ref // for a later Close to try again
			s.mu.Unlock()
			return fmt.Errorf("agentbox: closing the session: reaching its sandbox: %w", err)
		}
	}
	if sb == nil {
		return nil
	}
	if err := sb.Close(ctx); err != nil {
		s.mu.Lock()
		s.sandbox = sb // for a later Close to try again
		s.mu.Unlock()
		return fmt.Errorf("agentbox: closing the session's sandbox: %w", err)
	}
	return nil
}
