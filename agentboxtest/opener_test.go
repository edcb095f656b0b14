package agentboxtest

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestOpener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := NewSandbox()
		start := time.Now()
		got, err := Opener(sb, 3*time.Second)(t.Context())
		if got != sb || err != nil || time.Since(start) != 3*time.Second {
			t.Errorf("Opener = %v, %v after %v, want the sandbox after 3s", got, err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if got, err := Opener(sb, time.Minute)(ctx); got != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Opener with a short ctx = %v, %v", got, err)
		}
	})
}

func TestFailingOpener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("no capacity")
		start := time.Now()
		got, err := FailingOpener(boom, 2*time.Second)(t.Context())
		if got != nil || err != boom || time.Since(start) != 2*time.Second {
			t.Errorf("FailingOpener = %v, %v after %v, want the error after 2s", got, err, time.Since(start))
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := FailingOpener(boom, 0)(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("FailingOpener with a done ctx: %v", err)
		}
	})
}
