package e2b_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestErrorKindMatchesItsSentinel checks that each Kind of an *e2b.Error
// matches its one old sentinel with errors.Is, and no other, and that
// agentbox.KindOf reports it, wrapped or not.
func TestErrorKindMatchesItsSentinel(t *testing.T) {
	sentinels := []error{e2b.ErrAuth, e2b.ErrRateLimited, agentbox.ErrSandboxGone, fs.ErrNotExist, e2b.ErrPaused}
	for _, c := range []struct {
		kind agentbox.ErrorKind
		want error // nil: none
	}{
		{agentbox.KindAuth, e2b.ErrAuth},
		{agentbox.KindRateLimited, e2b.ErrRateLimited},
		{agentbox.KindSandboxGone, agentbox.ErrSandboxGone},
		{agentbox.KindNotFound, fs.ErrNotExist},
		{agentbox.KindPaused, e2b.ErrPaused},
		{agentbox.KindUpstream, nil},
		{"", nil},
	} {
		e := &e2b.Error{Op: "op", Kind: c.kind}
		for _, err := range []error{e, fmt.Errorf("wrapped: %w", e)} {
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == c.want) {
					t.Errorf("errors.Is(%v of kind %q, %v) = %v, want %v", err, c.kind, s, got, !got)
				}
			}
			want := c.kind
			if want == "" {
				want = agentbox.KindUnknown
			}
			if got := agentbox.KindOf(err); got != want {
				t.Errorf("KindOf(%v of kind %q) = %q, want %q", err, c.kind, got, want)
			}
		}
	}
}

// TestKindOfE2BErrors checks the Kind of the errors E2B's answers make.
func TestKindOfE2BErrors(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	ctx := t.Context()
	cfg := srv.Config()
	cfg.APIKey = "e2b_not_the_right_key_000000"
	_, badKey := e2b.New(ctx, cfg)
	cfg.APIKey = ""
	_, noKey := e2b.New(ctx, cfg)

	sb := newSandbox(t, srv.Config())
	stopErr := sb.StopProcess(ctx, "4194304")
	srv.Kill(sb.ID())
	_, runErr := sb.Run(ctx, agentbox.Command{Cmd: "true"})
	_, connectErr := e2b.Connect(ctx, sb.ID(), srv.Config())

	srv.FailCreates(http.StatusInternalServerError, 1)
	_, serverErr := e2b.New(ctx, srv.Config())
	srv.FailCreates(http.StatusTooManyRequests, 1000)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, limitErr := e2b.New(short, srv.Config())

	for _, c := range []struct {
		what string
		err  error
		want agentbox.ErrorKind
	}{
		{"New with a bad key", badKey, agentbox.KindAuth},
		{"New with no key", noKey, agentbox.KindAuth},
		{"StopProcess of no process", stopErr, agentbox.KindNotFound},
		{"Run in a dead sandbox", runErr, agentbox.KindSandboxGone},
		{"Connect to a dead sandbox", connectErr, agentbox.KindSandboxGone},
		{"New answered 500", serverErr, agentbox.KindUpstream},
		{"New always rate limited", limitErr, agentbox.KindRateLimited},
	} {
		var e *e2b.Error
		if got := agentbox.KindOf(c.err); got != c.want {
			t.Errorf("KindOf(%s: %v) = %q, want %q", c.what, c.err, got, c.want)
		} else if errors.As(c.err, &e) && e.Kind != c.want {
			t.Errorf("%s: Error.Kind = %q, want %q", c.what, e.Kind, c.want)
		}
	}
}
