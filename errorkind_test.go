package agentbox_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/agentbox/agentbox"
)

// kinded is an error of another package with a kind.
type kinded struct {
	kind agentbox.ErrorKind
	err  error
}

func (e kinded) Error() string                 { return "kinded" }
func (e kinded) ErrorKind() agentbox.ErrorKind { return e.kind }
func (e kinded) Unwrap() error                 { return e.err }

func TestKindOf(t *testing.T) {
	pe := &agentbox.ProviderError{Provider: "p", Kind: agentbox.KindRateLimited, StatusCode: 429}
	for _, c := range []struct {
		name string
		err  error
		want agentbox.ErrorKind
	}{
		{"nil", nil, ""},
		{"plain", errors.New("x"), agentbox.KindUnknown},
		{"ProviderError", pe, agentbox.KindRateLimited},
		{"wrapped ProviderError", fmt.Errorf("run: %w", pe), agentbox.KindRateLimited},
		{"joined ProviderError", errors.Join(errors.New("x"), pe), agentbox.KindRateLimited},
		{"ProviderError of no kind", &agentbox.ProviderError{Err: agentbox.ErrTimeout}, agentbox.KindTimeout},
		{"ProviderError of kind unknown", &agentbox.ProviderError{Kind: agentbox.KindUnknown}, agentbox.KindUnknown},
		{"outermost first", &agentbox.ProviderError{Kind: agentbox.KindUpstream, Err: agentbox.ErrSandboxGone}, agentbox.KindUpstream},
		{"another package's error", fmt.Errorf("x: %w", kinded{kind: agentbox.KindAuth}), agentbox.KindAuth},
		{"another package's error of no kind", kinded{err: agentbox.ErrSandboxGone}, agentbox.KindSandboxGone},
		{"ErrSandboxGone", agentbox.ErrSandboxGone, agentbox.KindSandboxGone},
		{"wrapped ErrSandboxGone", fmt.Errorf("run: %w", agentbox.ErrSandboxGone), agentbox.KindSandboxGone},
		{"ErrTimeout", agentbox.ErrTimeout, agentbox.KindTimeout},
		{"fs.ErrNotExist", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, agentbox.KindNotFound},
		{"ErrClosed", agentbox.ErrClosed, agentbox.KindUnknown},
		{"ErrNotSupported", agentbox.ErrNotSupported, agentbox.KindUnknown},
		{"context.Canceled", context.Canceled, agentbox.KindUnknown},
	} {
		if got := agentbox.KindOf(c.err); got != c.want {
			t.Errorf("KindOf(%s: %v) = %q, want %q", c.name, c.err, got, c.want)
		}
	}
}

// TestKindOfKeepsErrorsIs checks that the sentinels still match through the
// errors KindOf classifies.
func TestKindOfKeepsErrorsIs(t *testing.T) {
	for _, s := range []error{agentbox.ErrSandboxGone, agentbox.ErrClosed, agentbox.ErrTimeout, agentbox.ErrNotSupported, agentbox.ErrNoSandbox} {
		err := fmt.Errorf("x: %w", &agentbox.ProviderError{Kind: agentbox.KindUpstream, Err: s})
		if !errors.Is(err, s) {
			t.Errorf("errors.Is(%v, %v) = false", err, s)
		}
		if got := agentbox.KindOf(err); got != agentbox.KindUpstream {
			t.Errorf("KindOf(%v) = %q, want %q", err, got, agentbox.KindUpstream)
		}
	}
}
