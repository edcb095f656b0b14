package agentbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/google/go-cmp/cmp"
)

func TestRunCompletes(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Step{
		Reasoning: []string{"The user ", "greets."},
		Text:      []string{"Hel", "lo!"},
		Usage:     &agentbox.Usage{PromptTokens: 10, CompletionTokens: 3, Cost: 0.001},
	})
	all, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{}}).Run(context.Background(), "hi"))
	if done.Reason != agentbox.StopCompleted || done.Err != nil {
		t.Fatalf("Done = %v, %v; want completed, nil", done.Reason, done.Err)
	}
	want := []agentbox.Event{
		agentbox.Token{Step: 1, Text: "The user ", Reasoning: true},
		agentbox.Token{Step: 1, Text: "greets.", Reasoning: true},
		agentbox.Token{Step: 1, Text: "Hel"},
		agentbox.Token{Step: 1, Text: "lo!"},
	}
	if diff := cmp.Diff(want, all[:len(all)-1]); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	wantMsgs := []agentbox.Message{
		{Role: agentbox.RoleUser, Content: "hi"},
		{Role: agentbox.RoleAssistant, Content: "Hello!", Reasoning: "The user greets."},
	}
	if diff := cmp.Diff(wantMsgs, done.Messages); diff != "" {
		t.Errorf("Done.Messages (-want +got):\n%s", diff)
	}
	if done.Steps != 1 || done.Usage != (agentbox.Usage{PromptTokens: 10, CompletionTokens: 3, Cost: 0.001}) {
		t.Errorf("Done.Steps, Usage = %d, %+v", done.Steps, done.Usage)
	}
	req := p.Requests()[0]
	if req.System != agentbox.DefaultSystemPrompt || len(req.Tools) != 0 {
		t.Errorf("request: system %.20q…, %d tools; want the default prompt and no tools", req.System, len(req.Tools))
	}
}

func TestRunProviderError(t *testing.T) {
	synctest.Test(t, testRunProviderError)
}

func testRunProviderError(t *testing.T) {
	perr := &agentbox.ProviderError{Provider: "fake", Kind: agentbox.KindNoCredits, StatusCode: 402,
		Message: "insufficient credits", Model: "m", Hint: "add credits"}
	sb := agentboxtest.NewSandbox()
	p := agentboxtest.NewProvider(agentboxtest.Step{Delay: time.Second, Text: []string{"partial"}, Err: perr, FailAfter: 1})
	all, done := collect(t, agentbox.New(p, agentbox.Options{Open: agentboxtest.Opener(sb, 0)}).Run(context.Background(), "hi"))
	var got *agentbox.ProviderError
	if done.Reason != agentbox.StopError || !errors.As(done.Err, &got) || got.Kind != agentbox.KindNoCredits {
		t.Fatalf("Done = %v, %v; want error with the provider's error", done.Reason, done.Err)
	}
	if want := "fake: 402 insufficient credits for m: add credits"; done.Err.Error() != want {
		t.Errorf("error text = %q, want %q", done.Err.Error(), want)
	}
	errs := of[agentbox.Error](all)
	if len(errs) != 1 || !errs[0].Fatal || errs[0].Err != done.Err {
		t.Errorf("Error events = %+v; want one fatal with Done's error", errs)
	}
	if len(done.Messages) != 1 {
		t.Errorf("Done.Messages has %d messages; the failed step must not be kept", len(done.Messages))
	}
	if sb.Closes() != 1 {
		t.Errorf("opened sandbox closed %d times, want 1", sb.Closes())
	}
}

func TestRunWarningsAreNotFatal(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Step{
		Warnings: []error{errors.New("429: retrying in 1s"), errors.New("falling back to model b")},
		Text:     []string{"ok"},
	})
	all, done := collect(t, agentbox.New(p, agentbox.Options{}).Run(context.Background(), "hi"))
	errs := of[agentbox.Error](all)
	if len(errs) != 2 || errs[0].Fatal || errs[1].Fatal || done.Err != nil {
		t.Fatalf("Error events = %+v, Done.Err = %v; want two non-fatal warnings and success", errs, done.Err)
	}
}

func TestRunToolErrorGoesOn(t *testing.T) {
	failing := agentbox.NewTool("fail", "Always fails.", func(ctx context.Context, env *agentbox.Env, in struct{}) (string, error) {
		return "half done", errors.New("disk on fire")
	})
	p := agentboxtest.NewProvider(calls(call("c1", "fail", "")), agentboxtest.Reply("sorry"))
	all, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{failing}}).Run(context.Background(), "hi"))
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done = %v, %v; want completed", done.Reason, done.Err)
	}
	res := result(t, all, "c1")
	if res.Err == nil || res.Output != "half done\n\nError: disk on fire" {
		t.Errorf("ToolResult = %q, %v", res.Output, res.Err)
	}
}

func TestRunMaxSteps(t *testing.T) {
	echo := agentbox.NewTool("noop", "Does nothing.", func(context.Context, *agentbox.Env, struct{}) (string, error) { return "ok", nil })
	p := agentboxtest.NewProvider(calls(call("a", "noop", "{}")), calls(call("b", "noop", "{}")), calls(call("c", "noop", "{}")))
	_, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{echo}, MaxSteps: 2}).Run(context.Background(), "hi"))
	if done.Reason != agentbox.StopMaxSteps || !errors.Is(done.Err, agentbox.ErrMaxSteps) || done.Steps != 2 {
		t.Fatalf("Done = %v, %v, %d steps; want max_steps after 2", done.Reason, done.Err, done.Steps)
	}
	// The conversation stays valid: every tool call has its result.
	if last := done.Messages[len(done.Messages)-1]; last.Role != agentbox.RoleTool || last.ToolCallID != "b" {
		t.Errorf("last message = %+v; want the result of call b", last)
	}
}

func TestRunBudget(t *testing.T) {
	noop := agentbox.NewTool("noop", "Does nothing.", func(context.Context, *agentbox.Env, struct{}) (string, error) { return "ok", nil })
	step := func(id string, u agentbox.Usage) agentboxtest.Step {
		return agentboxtest.Step{Calls: []agentboxtest.Call{call(id, "noop", "{}")}, Usage: &u}
	}
	for _, tc := range []struct {
		name   string
		budget agentbox.Budget
		steps  int
	}{
		{"tokens", agentbox.Budget{Tokens: 250}, 3},
		{"cost", agentbox.Budget{Cost: 0.015}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := agentbox.Usage{PromptTokens: 80, CompletionTokens: 20, Cost: 0.01}
			p := agentboxtest.NewProvider(step("a", u), step("b", u), step("c", u), step("d", u))
			_, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{noop}, Budget: tc.budget}).Run(context.Background(), "hi"))
			if done.Reason != agentbox.StopBudget || !errors.Is(done.Err, agentbox.ErrBudget) || done.Steps != tc.steps {
				t.Fatalf("Done = %v, %v after %d steps; want budget after %d", done.Reason, done.Err, done.Steps, tc.steps)
			}
		})
	}
	t.Run("duration", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := agentboxtest.NewProvider(agentboxtest.Step{Delay: 5 * time.Second, Text: []string{"late"}})
			start := time.Now()
			_, done := collect(t, agentbox.New(p, agentbox.Options{Budget: agentbox.Budget{Duration: time.Second}}).Run(context.Background(), "hi"))
			if done.Reason != agentbox.StopBudget || !errors.Is(done.Err, agentbox.ErrBudget) {
				t.Fatalf("Done = %v, %v; want budget", done.Reason, done.Err)
			}
			if d := time.Since(start); d != time.Second {
				t.Errorf("run took %s, want 1s", d)
			}
		})
	})
}

func TestRunCancelDuringTokens(t *testing.T) {
	synctest.Test(t, testRunCancelDuringTokens)
}

func testRunCancelDuringTokens(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	p := agentboxtest.NewProvider(agentboxtest.Step{Delay: time.Second, Text: []string{"a", "b"}, Hang: true, FailAfter: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var all []agentbox.Event
	for ev := range agentbox.New(p, agentbox.Options{Open: agentboxtest.Opener(sb, 0)}).Run(ctx, "hi") {
		all = append(all, ev)
		if _, ok := ev.(agentbox.Token); ok {
			cancel()
		}
	}
	done := checkDone(t, all)
	if done.Reason != agentbox.StopCanceled || !errors.Is(done.Err, context.Canceled) {
		t.Fatalf("Done = %v, %v; want canceled", done.Reason, done.Err)
	}
	if sb.Closes() != 1 {
		t.Errorf("opened sandbox closed %d times, want 1", sb.Closes())
	}
}

func TestRunCancelDuringCommand(t *testing.T) {
	for _, owned := range []bool{true, false} {
		name := map[bool]string{true: "opened", false: "callers"}[owned]
		t.Run(name, func(t *testing.T) {
			killed := make(chan struct{})
			sb := agentboxtest.NewSandbox()
			sb.Handler = func(ctx context.Context, _ *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
				fmt.Fprintln(cmd.Stdout, "running")
				<-ctx.Done()
				close(killed)
				return agentbox.Result{ExitCode: -1}, ctx.Err()
			}
			opts := agentbox.Options{Sandbox: sb}
			if owned {
				opts = agentbox.Options{Open: agentboxtest.Opener(sb, 0)}
			}
			p := agentboxtest.NewProvider(calls(call("c1", "run_command", `{"command":"sleep 1000"}`)), agentboxtest.Reply("never"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var all []agentbox.Event
			for ev := range agentbox.New(p, opts).Run(ctx, "hi") {
				all = append(all, ev)
				if _, ok := ev.(agentbox.ToolOutput); ok {
					cancel()
				}
			}
			done := checkDone(t, all)
			select {
			case <-killed:
			default:
				t.Fatal("the command's context was not cancelled")
			}
			if done.Reason != agentbox.StopCanceled || !errors.Is(done.Err, context.Canceled) {
				t.Fatalf("Done = %v, %v; want canceled", done.Reason, done.Err)
			}
			if want := map[bool]int{true: 1, false: 0}[owned]; sb.Closes() != want {
				t.Errorf("sandbox closed %d times, want %d", sb.Closes(), want)
			}
			if n := len(p.Requests()); n != 1 {
				t.Errorf("the model was asked %d times after cancellation, want 1 request in all", n)
			}
		})
	}
}

func TestRunSlowConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var text []string
		for i := range 500 {
			text = append(text, strings.Repeat("x", i%7+1))
		}
		p := agentboxtest.NewProvider(agentboxtest.Step{Text: text})
		var all []agentbox.Event
		for ev := range agentbox.New(p, agentbox.Options{}).Run(context.Background(), "hi") {
			time.Sleep(10 * time.Millisecond)
			all = append(all, ev)
		}
		done := checkDone(t, all)
		var got []string
		for _, tok := range of[agentbox.Token](all) {
			got = append(got, tok.Text)
		}
		if diff := cmp.Diff(text, got); diff != "" || done.Reason != agentbox.StopCompleted {
			t.Fatalf("a slow consumer lost or reordered tokens (-want +got):\n%s", diff)
		}
	})
}

func TestRunConfigErrors(t *testing.T) {
	tool := agentbox.NewTool("same", "x", func(context.Context, *agentbox.Env, struct{}) (string, error) { return "", nil })
	bad := agentbox.NewTool("has space", "x", func(context.Context, *agentbox.Env, struct{}) (string, error) { return "", nil })
	for _, tc := range []struct {
		name string
		p    agentbox.Provider
		opts agentbox.Options
		want string
	}{
		{"no provider", nil, agentbox.Options{}, "no provider"},
		{"both sandboxes", agentboxtest.NewProvider(), agentbox.Options{Sandbox: agentboxtest.NewSandbox(), Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0)}, "both"},
		{"duplicate tools", agentboxtest.NewProvider(), agentbox.Options{Tools: []agentbox.Tool{tool, tool}}, `two tools are named "same"`},
		{"bad tool name", agentboxtest.NewProvider(), agentbox.Options{Tools: []agentbox.Tool{bad}}, `tool name "has space"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, done := collect(t, agentbox.New(tc.p, tc.opts).Run(context.Background(), "hi"))
			if done.Reason != agentbox.StopError || done.Err == nil || !strings.Contains(done.Err.Error(), tc.want) {
				t.Fatalf("Done = %v, %v; want an error containing %q", done.Reason, done.Err, tc.want)
			}
		})
	}
}

func TestRunTruncatedResponse(t *testing.T) {
	// A response that ends with neither a finish reason nor an error must
	// not be acted on: its tool call may be half written.
	p := agentboxtest.NewProvider(agentboxtest.Step{Raw: []agentbox.Chunk{
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, ID: "c1", Name: "write_file", Arguments: `{"files":[{"pa`}}},
	}})
	sb := agentboxtest.NewSandbox()
	all, done := collect(t, agentbox.New(p, agentbox.Options{Sandbox: sb}).Run(context.Background(), "hi"))
	var perr *agentbox.ProviderError
	if done.Reason != agentbox.StopError || !errors.As(done.Err, &perr) || perr.Kind != agentbox.KindTruncated {
		t.Fatalf("Done = %v, %v; want a truncated-response error", done.Reason, done.Err)
	}
	if n := len(of[agentbox.ToolStart](all)); n != 0 {
		t.Errorf("%d tools started from a truncated response", n)
	}
}

func TestRunFinishError(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Step{Text: []string{"x"}, Finish: agentbox.FinishError})
	_, done := collect(t, agentbox.New(p, agentbox.Options{}).Run(context.Background(), "hi"))
	var perr *agentbox.ProviderError
	if !errors.As(done.Err, &perr) || perr.Kind != agentbox.KindMidStream {
		t.Fatalf("Done.Err = %v; want a mid-stream provider error", done.Err)
	}
}

func TestRunMessagesContinues(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("first"), agentboxtest.Reply("second"))
	a := agentbox.New(p, agentbox.Options{})
	_, done := collect(t, a.Run(context.Background(), "one"))
	history := append(done.Messages, agentbox.Message{Role: agentbox.RoleUser, Content: "two"})
	_, done2 := collect(t, a.RunMessages(context.Background(), history))
	if len(done2.Messages) != 4 || done2.Messages[3].Content != "second" {
		t.Fatalf("continued conversation = %+v", done2.Messages)
	}
	if got := len(p.Requests()[1].Messages); got != 3 {
		t.Errorf("second request has %d messages, want 3", got)
	}
	if len(done.Messages) != 2 {
		t.Errorf("the first Done's messages changed: %d", len(done.Messages))
	}
}

func TestRunUniqueToolCallIDs(t *testing.T) {
	noop := agentbox.NewTool("noop", "Does nothing.", func(context.Context, *agentbox.Env, struct{}) (string, error) { return "ok", nil })
	p := agentboxtest.NewProvider(
		calls(call("dup", "noop", ""), call("", "noop", "")),
		calls(call("dup", "noop", "")),
		agentboxtest.Reply("done"),
	)
	_, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{noop}}).Run(context.Background(), "hi"))
	seen := map[string]bool{}
	for _, m := range done.Messages {
		for _, c := range m.ToolCalls {
			if c.ID == "" || seen[c.ID] {
				t.Fatalf("tool call ID %q is empty or repeated in %+v", c.ID, done.Messages)
			}
			seen[c.ID] = true
		}
		if m.Role == agentbox.RoleTool && !seen[m.ToolCallID] {
			t.Errorf("tool message answers unknown call %q", m.ToolCallID)
		}
	}
	if len(seen) != 3 {
		t.Errorf("got %d distinct IDs, want 3", len(seen))
	}
}

func TestRunWithCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sb := agentboxtest.NewSandbox()
	p := agentboxtest.NewProvider(agentboxtest.Reply("never"))
	_, done := collect(t, agentbox.New(p, agentbox.Options{Open: agentboxtest.Opener(sb, 0)}).Run(ctx, "hi"))
	if done.Reason != agentbox.StopCanceled || !errors.Is(done.Err, context.Canceled) || sb.Closes() > 1 {
		t.Fatalf("Done = %v, %v; sandbox closed %d times", done.Reason, done.Err, sb.Closes())
	}
}

func TestCutShortResponsesDoNotComplete(t *testing.T) {
	for _, tc := range []struct {
		finish agentbox.FinishReason
		kind   agentbox.ErrorKind
	}{
		{agentbox.FinishLength, agentbox.KindTruncated},
		{agentbox.FinishContentFilter, agentbox.KindModeration},
	} {
		p := agentboxtest.NewProvider(agentboxtest.Step{Text: []string{"The app is almost"}, Finish: tc.finish})
		_, done := collect(t, agentbox.New(p, agentbox.Options{}).Run(context.Background(), "hi"))
		var perr *agentbox.ProviderError
		if done.Reason != agentbox.StopError || !errors.As(done.Err, &perr) || perr.Kind != tc.kind {
			t.Errorf("finish %s: Done = %v, %v; want an error of kind %s", tc.finish, done.Reason, done.Err, tc.kind)
		}
		if len(done.Messages) != 2 || done.Messages[1].Content != "The app is almost" {
			t.Errorf("finish %s: the cut response is not kept: %+v", tc.finish, done.Messages)
		}
	}
}

func TestCallsSharingAnIndexAreSplitByID(t *testing.T) {
	noop := agentbox.NewTool("noop", "Does nothing.", func(context.Context, *agentbox.Env, struct{}) (string, error) { return "ok", nil })
	p := agentboxtest.NewProvider(agentboxtest.Step{Raw: []agentbox.Chunk{
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, ID: "a", Name: "noop", Arguments: "{"}}},
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, Arguments: "}"}}},
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, ID: "b", Name: "noop", Arguments: "{}"}}},
		{FinishReason: agentbox.FinishToolCalls},
	}}, agentboxtest.Reply("done"))
	all, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{noop}}).Run(context.Background(), "hi"))
	if got := done.Messages[1].ToolCalls; len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || got[0].Arguments != "{}" {
		t.Fatalf("tool calls = %+v; want a and b, each with {}", got)
	}
	for _, id := range []string{"a", "b"} {
		if r := result(t, all, id); r.Err != nil {
			t.Errorf("call %s: %v", id, r.Err)
		}
	}
}

func TestAgentErr(t *testing.T) {
	if err := agentbox.New(agentboxtest.NewProvider(), agentbox.Options{}).Err(); err != nil {
		t.Errorf("Err() = %v for a valid configuration", err)
	}
	if err := agentbox.New(nil, agentbox.Options{}).Err(); err == nil || !strings.Contains(err.Error(), "no provider") {
		t.Errorf("Err() = %v, want the configuration error", err)
	}
}
