package agentbox_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// probe is a tool that records when it got the sandbox.
func probe(got *time.Duration, start *time.Time) agentbox.Tool {
	return agentbox.NewTool("probe", "Records when the sandbox is ready.", func(ctx context.Context, env *agentbox.Env, in struct{}) (string, error) {
		if _, err := env.Sandbox(ctx); err != nil {
			return "", err
		}
		*got = time.Since(*start)
		return "ok", nil
	})
}

func TestOpenOverlapsTheFirstModelRequest(t *testing.T) {
	const open = 300 * time.Millisecond
	for _, tc := range []struct {
		name      string
		model     time.Duration // until the model's first chunk
		wantTool  time.Duration // ≈ max(open, model), not the sum
		tokenTime time.Duration
	}{
		{"model faster", 0, open, 0},
		{"model slower", 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond},
		{"both 300ms", open, open, open},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sb := agentboxtest.NewSandbox()
				opener := agentboxtest.Opener(sb, open)
				var opened atomic.Int64 // nanoseconds after start; -1 until the opener returned
				opened.Store(-1)
				start := time.Now()
				p := agentboxtest.NewProvider(
					agentboxtest.Step{Delay: tc.model, Text: []string{"Let me check."}, Calls: []agentboxtest.Call{call("c1", "probe", "{}")}},
					agentboxtest.Reply("ready"),
				)
				var toolAt time.Duration
				a := agentbox.New(p, agentbox.Options{
					Tools: []agentbox.Tool{probe(&toolAt, &start)},
					Open: func(ctx context.Context) (agentbox.Sandbox, error) {
						sb, err := opener(ctx)
						opened.Store(int64(time.Since(start)))
						return sb, err
					},
				})
				var tokenAt time.Duration = -1
				var all []agentbox.Event
				for ev := range a.Run(context.Background(), "hi") {
					if _, ok := ev.(agentbox.Token); ok && tokenAt < 0 {
						tokenAt = time.Since(start)
						if tc.model < open && opened.Load() >= 0 {
							t.Errorf("the first token came after the sandbox opened")
						}
					}
					all = append(all, ev)
				}
				done := checkDone(t, all)
				if done.Err != nil {
					t.Fatal(done.Err)
				}
				if tokenAt != tc.tokenTime {
					t.Errorf("first token at %s, want %s", tokenAt, tc.tokenTime)
				}
				if toolAt != tc.wantTool {
					t.Errorf("first tool ran at %s, want %s = max(open %s, model %s)", toolAt, tc.wantTool, open, tc.model)
				}
				if sb.Closes() != 1 {
					t.Errorf("sandbox closed %d times, want 1", sb.Closes())
				}
				if want := done.Elapsed - open; done.SandboxTime != want {
					t.Errorf("Done.SandboxTime = %s, want %s (from open to the end)", done.SandboxTime, want)
				}
			})
		})
	}
}

func TestOpenFailureStopsTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("quota of concurrent sandboxes reached")
		p := agentboxtest.NewProvider(agentboxtest.Step{Text: []string{"thinking"}, Hang: true, FailAfter: 1})
		a := agentbox.New(p, agentbox.Options{Open: func(ctx context.Context) (agentbox.Sandbox, error) {
			time.Sleep(100 * time.Millisecond)
			return nil, boom
		}})
		start := time.Now()
		all, done := collect(t, a.Run(context.Background(), "hi"))
		if done.Reason != agentbox.StopError || !errors.Is(done.Err, boom) || !strings.Contains(done.Err.Error(), "open sandbox") {
			t.Fatalf("Done = %v, %v; want the open error", done.Reason, done.Err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("the run ended after %s; want it to stop when opening failed (100ms)", d)
		}
		if errs := of[agentbox.Error](all); len(errs) != 1 || !errs[0].Fatal {
			t.Errorf("Error events = %+v, want one fatal", errs)
		}
	})
}

func TestOpenNilSandboxIsAnError(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Step{Text: []string{"x"}, Hang: true, FailAfter: 1})
	a := agentbox.New(p, agentbox.Options{Open: func(context.Context) (agentbox.Sandbox, error) { return nil, nil }})
	_, done := collect(t, a.Run(context.Background(), "hi"))
	if done.Reason != agentbox.StopError || !strings.Contains(done.Err.Error(), "no sandbox") {
		t.Fatalf("Done = %v, %v", done.Reason, done.Err)
	}
}

func TestOpenedSandboxClosedOnEveryEnding(t *testing.T) {
	noop := agentbox.NewTool("noop", "Does nothing.", func(context.Context, *agentbox.Env, struct{}) (string, error) { return "ok", nil })
	for _, tc := range []struct {
		name  string
		steps []agentboxtest.Step
		opts  agentbox.Options
		want  agentbox.StopReason
	}{
		{"completed without tools", []agentboxtest.Step{agentboxtest.Reply("hi")}, agentbox.Options{}, agentbox.StopCompleted},
		{"completed with tools", []agentboxtest.Step{calls(call("a", "noop", "")), agentboxtest.Reply("hi")}, agentbox.Options{}, agentbox.StopCompleted},
		{"provider error", []agentboxtest.Step{{Err: errors.New("502")}}, agentbox.Options{}, agentbox.StopError},
		{"max steps", []agentboxtest.Step{calls(call("a", "noop", "")), agentboxtest.Reply("hi")}, agentbox.Options{MaxSteps: 1}, agentbox.StopMaxSteps},
		{"budget", []agentboxtest.Step{{Calls: []agentboxtest.Call{call("a", "noop", "")}, Usage: &agentbox.Usage{PromptTokens: 100}}}, agentbox.Options{Budget: agentbox.Budget{Tokens: 1}}, agentbox.StopBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				testClosedOnEnding(t, tc.steps, tc.opts, tc.want, noop)
			})
		})
	}
}

// testClosedOnEnding runs steps with an opened sandbox and a caller's one.
// The model answers after the sandbox opened, so there is one to close.
func testClosedOnEnding(t *testing.T, steps []agentboxtest.Step, opts agentbox.Options, want agentbox.StopReason, noop agentbox.Tool) {
	steps = slices.Clone(steps)
	steps[0].Delay = 20 * time.Millisecond
	for _, owned := range []bool{true, false} {
		sb := agentboxtest.NewSandbox()
		opts := opts
		opts.Tools = []agentbox.Tool{noop}
		if owned {
			opts.Open = agentboxtest.Opener(sb, 10*time.Millisecond)
		} else {
			opts.Sandbox = sb
		}
		_, done := collect(t, agentbox.New(agentboxtest.NewProvider(steps...), opts).Run(context.Background(), "hi"))
		if done.Reason != want {
			t.Fatalf("Done = %v, %v; want %v", done.Reason, done.Err, want)
		}
		closes := 0
		if owned {
			closes = 1
		}
		if sb.Closes() != closes {
			t.Errorf("owned=%v: sandbox closed %d times, want %d", owned, sb.Closes(), closes)
		}
	}
}

func TestOpenCancelledWhenNotNeeded(t *testing.T) {
	// The model answers without tools before the sandbox is ready: opening
	// is cancelled and the run does not wait for it.
	synctest.Test(t, func(t *testing.T) {
		var sawCancel atomic.Bool
		p := agentboxtest.NewProvider(agentboxtest.Reply("no tools needed"))
		a := agentbox.New(p, agentbox.Options{Open: func(ctx context.Context) (agentbox.Sandbox, error) {
			select {
			case <-ctx.Done():
				sawCancel.Store(true)
				return nil, ctx.Err()
			case <-time.After(time.Hour):
				return agentboxtest.NewSandbox(), nil
			}
		}})
		start := time.Now()
		_, done := collect(t, a.Run(context.Background(), "hi"))
		if done.Reason != agentbox.StopCompleted || done.Err != nil || !sawCancel.Load() || time.Since(start) != 0 {
			t.Fatalf("Done = %v, %v after %s, opener cancelled: %v", done.Reason, done.Err, time.Since(start), sawCancel.Load())
		}
	})
}

func TestOpenerThatIgnoresCancellation(t *testing.T) {
	// The run ends before the opener returns; the sandbox it returns late is
	// still closed, and the run waits for it.
	synctest.Test(t, func(t *testing.T) {
		sb := agentboxtest.NewSandbox()
		p := agentboxtest.NewProvider(agentboxtest.Reply("no tools needed"))
		a := agentbox.New(p, agentbox.Options{Open: func(ctx context.Context) (agentbox.Sandbox, error) {
			time.Sleep(time.Second)
			return sb, nil
		}})
		_, done := collect(t, a.Run(context.Background(), "hi"))
		if done.Reason != agentbox.StopCompleted {
			t.Fatalf("Done = %v, %v", done.Reason, done.Err)
		}
		if sb.Closes() != 1 {
			t.Errorf("late sandbox closed %d times, want 1", sb.Closes())
		}
	})
}

func TestNoSandbox(t *testing.T) {
	all, done := runTools(t, nil, agentbox.Options{}, call("c1", "run_command", `{"command":"ls"}`))
	res := result(t, all, "c1")
	if !errors.Is(res.Err, agentbox.ErrNoSandbox) || done.Reason != agentbox.StopCompleted {
		t.Fatalf("ToolResult.Err = %v, Done = %v; want ErrNoSandbox and a completed run", res.Err, done.Reason)
	}
}

func TestCloseErrorIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := &failingClose{Sandbox: agentboxtest.NewSandbox()}
		p := agentboxtest.NewProvider(agentboxtest.Step{Delay: time.Second, Text: []string{"hi"}})
		all, done := collect(t, agentbox.New(p, agentbox.Options{Open: agentboxtest.Opener(sb, 0)}).Run(context.Background(), "hi"))
		errs := of[agentbox.Error](all)
		if len(errs) != 1 || errs[0].Fatal || !strings.Contains(errs[0].Err.Error(), "close sandbox") || done.Err != nil {
			t.Fatalf("Error events = %+v, Done.Err = %v; want one non-fatal close error", errs, done.Err)
		}
	})
}

type failingClose struct{ agentbox.Sandbox }

func (f *failingClose) Close(ctx context.Context) error {
	f.Sandbox.Close(ctx)
	return errors.New("DELETE /sandboxes/x: 500")
}
