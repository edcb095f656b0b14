package agentboxtest

import (
	"context"
	"fmt"
	"time"

	"github.com/agentbox/agentbox"
)

var _ agentbox.LifetimeSetter = (*Sandbox)(nil)

var errExpired = fmt.Errorf("agentboxtest: the sandbox's lifetime ran out: %w", agentbox.ErrSandboxGone)

// SetLifetime makes the sandbox live d from now, as cloud sandboxes do: once
// that time has passed, every method fails with an error matching
// [agentbox.ErrSandboxGone]. A sandbox whose lifetime was never set lives
// until closed.
func (s *Sandbox) SetLifetime(ctx context.Context, d time.Duration) error {
	s.lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	s.deadline = time.Now().Add(d)
	s.lifetimeSets++
	return nil
}

// Deadline returns when the sandbox's lifetime runs out; the zero time when
// it was never set.
func (s *Sandbox) Deadline() time.Time {
	s.lock()
	defer s.mu.Unlock()
	return s.deadline
}

// LifetimeSets returns how many times SetLifetime succeeded.
func (s *Sandbox) LifetimeSets() int {
	s.lock()
	defer s.mu.Unlock()
	return s.lifetimeSets
}

// expired reports whether the lifetime has run out. s.mu must be held.
func (s *Sandbox) expired() bool {
	return !s.deadline.IsZero() && time.Now().After(s.deadline)
}
