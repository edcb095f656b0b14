package agentbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// commandsOutside is a policy: run_command calls need approval unless their
// command is one of allowed, exactly.
func commandsOutside(allowed ...string) func(agentbox.ToolCall) bool {
	return func(c agentbox.ToolCall) bool {
		if c.Name != "run_command" {
			return false
		}
		var args agentbox.RunCommandArgs
		if err := json.Unmarshal([]byte(c.Arguments), &args); err != nil {
			return true
		}
		return !slices.Contains(allowed, strings.TrimSpace(args.Command))
	}
}

// approvalScript is a step writing a file and running two commands, then a
// reply.
func approvalScript() *agentboxtest.Provider {
	return agentboxtest.NewProvider(
		calls(
			call("w", "write_file", `{"files":[{"path":"a.txt","content":"hi\n"}]}`),
			call("ok", "run_command", `{"command":"echo allowed > ok.txt"}`),
			call("rm", "run_command", `{"command":"echo ran > rm.txt"}`),
			call("ls", "run_command", `{"command":"ls"}`),
		),
		agentboxtest.Reply("done"),
	)
}

// askedIDs returns the IDs of the ApprovalRequests of all.
func askedIDs(all []agentbox.Event) []string {
	var ids []string
	for _, r := range of[agentbox.ApprovalRequest](all) {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestApprovalStopsTheRunUntilContinue(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	p := approvalScript()
	a := agentbox.New(p, agentbox.Options{Sandbox: sb, NeedsApproval: commandsOutside("ls")})
	all, done := collect(t, a.Run(context.Background(), "go"))

	if done.Reason != agentbox.StopApproval || done.Err != nil {
		t.Fatalf("Done = %s, %v; want approval, nil", done.Reason, done.Err)
	}
	if got, want := askedIDs(all), []string{"ok", "rm"}; !slices.Equal(got, want) {
		t.Fatalf("asked for %v, want %v", got, want)
	}
	req := of[agentbox.ApprovalRequest](all)[1]
	if req.Name != "run_command" || string(req.Args) != `{"command":"echo ran > rm.txt"}` || req.Step != 1 {
		t.Errorf("request = %+v", req)
	}
	var pending []string
	for _, c := range done.Pending {
		pending = append(pending, c.ID)
	}
	if want := []string{"ok", "rm"}; !slices.Equal(pending, want) {
		t.Errorf("Pending = %v, want %v", pending, want)
	}
	// The calls that need no approval ran; the others did not.
	for _, id := range []string{"w", "ls"} {
		if r := result(t, all, id); r.Err != nil {
			t.Errorf("%s: %v", id, r.Err)
		}
	}
	if started := of[agentbox.ToolStart](all); len(started) != 2 {
		t.Errorf("%d ToolStarts, want 2 (w, ls)", len(started))
	}
	if _, ok := sb.File("ok.txt"); ok {
		t.Fatal("a command waiting for approval ran")
	}
	if len(p.Requests()) != 1 {
		t.Fatalf("%d model requests, want 1", len(p.Requests()))
	}

	all, done = collect(t, a.Continue(context.Background(), done.Messages,
		agentbox.Approval{ID: "ok", Approved: true},
		agentbox.Approval{ID: "rm", Reason: "do not write files"}))
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done = %s, %v", done.Reason, done.Err)
	}
	if _, ok := sb.File("ok.txt"); !ok {
		t.Error("the approved command did not run")
	}
	if _, ok := sb.File("rm.txt"); ok {
		t.Error("the denied command ran")
	}
	denied := result(t, all, "rm")
	if !errors.Is(denied.Err, agentbox.ErrDenied) || denied.Output != "Error: the user denied this call: do not write files" {
		t.Errorf("denied result = %q, %v", denied.Output, denied.Err)
	}
	if r := result(t, all, "ok"); r.Err != nil || r.Step != 0 {
		t.Errorf("approved result = %+v", r)
	}
	// The model got every result, in call order.
	reqs := p.Requests()
	msgs := reqs[1].Messages
	var order []string
	for _, m := range msgs[2:] {
		order = append(order, m.ToolCallID)
	}
	if want := []string{"w", "ok", "rm", "ls"}; !slices.Equal(order, want) {
		t.Errorf("tool messages in order %v, want %v", order, want)
	}
	if got := msgs[4].Content; got != denied.Output {
		t.Errorf("the model read %q for the denied call", got)
	}
}

func TestApproveCallbackAsksInOrder(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	var asked []string
	a := agentbox.New(approvalScript(), agentbox.Options{
		Sandbox:       sb,
		NeedsApproval: commandsOutside("ls"),
		Approve: func(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
			asked = append(asked, req.ID)
			if _, ok := sb.File("a.txt"); ok {
				t.Error("a call of the step ran before every answer came")
			}
			return agentbox.Approval{Approved: req.ID == "ok"}, nil
		},
	})
	all, done := collect(t, a.Run(context.Background(), "go"))
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done = %s, %v", done.Reason, done.Err)
	}
	if want := []string{"ok", "rm"}; !slices.Equal(asked, want) || !slices.Equal(askedIDs(all), want) {
		t.Fatalf("asked %v, events %v; want %v", asked, askedIDs(all), want)
	}
	if r := result(t, all, "rm"); r.Output != "Error: the user denied this call" {
		t.Errorf("denied without a reason: %q", r.Output)
	}
	if _, ok := sb.File("ok.txt"); !ok {
		t.Error("the approved command did not run")
	}
	// Each request comes before its call's ToolStart, and after its ToolInput.
	pos := map[string]int{}
	for i, ev := range all {
		switch ev := ev.(type) {
		case agentbox.ToolInput:
			if _, ok := pos["input "+ev.ID]; !ok {
				pos["input "+ev.ID] = i
			}
		case agentbox.ApprovalRequest:
			pos["ask "+ev.ID] = i
		case agentbox.ToolStart:
			pos["start "+ev.ID] = i
		}
	}
	if !(pos["input ok"] < pos["ask ok"] && pos["ask ok"] < pos["ask rm"] && pos["ask rm"] < pos["start w"]) {
		t.Errorf("events out of order: %v", pos)
	}
}

func TestRequireApprovalWrapsATool(t *testing.T) {
	hello := agentbox.NewTool("hello", "Says hello.", func(ctx context.Context, env *agentbox.Env, args struct{}) (string, error) {
		return "hello", nil
	})
	for _, tool := range []agentbox.Tool{
		agentbox.RequireApproval(hello),
		agentbox.RequireApproval(agentbox.Exclusive(hello)),
		agentbox.Exclusive(agentbox.RequireApproval(hello)),
	} {
		p := agentboxtest.NewProvider(calls(call("h", "hello", "")), agentboxtest.Reply("ok"))
		a := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{tool}})
		all, done := collect(t, a.Run(context.Background(), "go"))
		if done.Reason != agentbox.StopApproval || !slices.Equal(askedIDs(all), []string{"h"}) {
			t.Fatalf("Done %s, asked %v", done.Reason, askedIDs(all))
		}
		_, done = collect(t, a.Continue(context.Background(), done.Messages, agentbox.Approval{ID: "h", Approved: true}))
		if done.Reason != agentbox.StopCompleted {
			t.Fatalf("after approval: %s, %v", done.Reason, done.Err)
		}
	}
	if _, ok := agentbox.RequireApproval(agentbox.Exclusive(hello)).(agentbox.ExclusiveTool); !ok {
		t.Error("RequireApproval lost Exclusive")
	}
}

func TestCallsThatCannotRunAreNotAskedFor(t *testing.T) {
	p := agentboxtest.NewProvider(calls(
		call("bad", "run_command", `{"command":`),
		call("none", "no_such_tool", `{}`),
		call("list", "run_command", `["ls"]`),
	), agentboxtest.Reply("ok"))
	a := agentbox.New(p, agentbox.Options{Sandbox: agentboxtest.NewSandbox(), NeedsApproval: func(agentbox.ToolCall) bool { return true }})
	all, done := collect(t, a.Run(context.Background(), "go"))
	if done.Reason != agentbox.StopCompleted || len(askedIDs(all)) != 0 {
		t.Fatalf("Done %s, asked %v", done.Reason, askedIDs(all))
	}
}

func TestContinueChecksTheAnswers(t *testing.T) {
	a := agentbox.New(approvalScript(), agentbox.Options{Sandbox: agentboxtest.NewSandbox(), NeedsApproval: commandsOutside()})
	_, stopped := collect(t, a.Run(context.Background(), "go"))
	for _, tt := range []struct {
		name    string
		msgs    []agentbox.Message
		answers []agentbox.Approval
		want    string
	}{
		{"unknown call", stopped.Messages, []agentbox.Approval{{ID: "nope", Approved: true}}, `no call "nope" waits for an answer`},
		{"twice", stopped.Messages, []agentbox.Approval{{ID: "ok", Approved: true}, {ID: "ok"}}, `call "ok" is answered twice`},
		{"answered", stopped.Messages[:1], nil, "no tool call of the conversation waits"},
	} {
		all, done := collect(t, a.Continue(context.Background(), tt.msgs, tt.answers...))
		if done.Reason != agentbox.StopError || done.Err == nil || !strings.Contains(done.Err.Error(), tt.want) {
			t.Errorf("%s: Done %s, %v; want an error saying %q", tt.name, done.Reason, done.Err, tt.want)
		}
		if len(all) != 1 || len(done.Messages) != len(tt.msgs) {
			t.Errorf("%s: %d events, %d messages", tt.name, len(all), len(done.Messages))
		}
	}
}

func TestContinueAsksAgainForCallsWithoutAnswers(t *testing.T) {
	a := agentbox.New(approvalScript(), agentbox.Options{Sandbox: agentboxtest.NewSandbox(), NeedsApproval: commandsOutside("ls")})
	_, done := collect(t, a.Run(context.Background(), "go"))
	all, done := collect(t, a.Continue(context.Background(), done.Messages, agentbox.Approval{ID: "ok", Approved: true}))
	if done.Reason != agentbox.StopApproval || !slices.Equal(askedIDs(all), []string{"rm"}) || len(done.Pending) != 1 {
		t.Fatalf("Done %s, asked %v, pending %v", done.Reason, askedIDs(all), done.Pending)
	}
	if r := result(t, all, "ok"); r.Err != nil {
		t.Fatalf("the approved call: %v", r.Err)
	}
	_, done = collect(t, a.Continue(context.Background(), done.Messages, agentbox.Approval{ID: "rm"}))
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
}

func TestANewMessageInsteadOfAnAnswer(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	p := agentboxtest.NewProvider(calls(call("rm", "run_command", `{"command":"echo x > x.txt"}`)), agentboxtest.Reply("ok"))
	a := agentbox.New(p, agentbox.Options{Sandbox: sb, NeedsApproval: commandsOutside()})
	_, done := collect(t, a.Run(context.Background(), "go"))
	msgs := append(done.Messages, agentbox.Message{Role: agentbox.RoleUser, Content: "never mind"})
	_, done = collect(t, a.RunMessages(context.Background(), msgs))
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	sent := p.Requests()[1].Messages
	if len(sent) != 4 || sent[2].ToolCallID != "rm" || !strings.Contains(sent[2].Content, "not run") || sent[3].Content != "never mind" {
		t.Fatalf("the model got %+v", sent)
	}
	if _, ok := sb.File("x.txt"); ok {
		t.Error("the unanswered command ran")
	}
}

func TestSessionContinuesAcrossProcesses(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	p := approvalScript()
	a := agentbox.New(p, agentbox.Options{Sandbox: sb, NeedsApproval: commandsOutside("ls")})
	s := a.NewSession(agentbox.SessionOptions{})
	_, done := collect(t, s.Send(context.Background(), "go"))
	if done.Reason != agentbox.StopApproval || len(s.Pending()) != 2 {
		t.Fatalf("Done %s, pending %v", done.Reason, s.Pending())
	}
	// Another process resumes the session and answers.
	data, err := json.Marshal(s.State())
	if err != nil {
		t.Fatal(err)
	}
	var state agentbox.SessionState
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatal(err)
	}
	s2, err := a.ResumeSession(state, agentbox.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s2.Pending()) != 2 {
		t.Fatalf("the resumed session has %d pending calls", len(s2.Pending()))
	}
	all, done := collect(t, s2.Continue(context.Background(), agentbox.Approval{ID: "ok", Approved: true}, agentbox.Approval{ID: "rm"}))
	if done.Reason != agentbox.StopCompleted || len(s2.Pending()) != 0 {
		t.Fatalf("Done %s, %v; pending %v", done.Reason, done.Err, s2.Pending())
	}
	if !errors.Is(result(t, all, "rm").Err, agentbox.ErrDenied) {
		t.Error("the denied call was not denied")
	}
	if _, done := collect(t, s2.Continue(context.Background())); done.Err == nil {
		t.Error("a second Continue found calls waiting")
	}
}

func TestSessionSendInsteadOfAnAnswer(t *testing.T) {
	p := agentboxtest.NewProvider(calls(call("rm", "run_command", `{"command":"echo x"}`)), agentboxtest.Reply("ok"))
	a := agentbox.New(p, agentbox.Options{Sandbox: agentboxtest.NewSandbox(), NeedsApproval: commandsOutside()})
	s := a.NewSession(agentbox.SessionOptions{})
	collect(t, s.Send(context.Background(), "go"))
	_, done := collect(t, s.Send(context.Background(), "something else"))
	if done.Reason != agentbox.StopCompleted || len(s.Pending()) != 0 {
		t.Fatalf("Done %s, %v; pending %v", done.Reason, done.Err, s.Pending())
	}
	if got := p.Requests()[1].Messages[2].Content; !strings.Contains(got, "not run") {
		t.Errorf("the model read %q for the unanswered call", got)
	}
}

// TestApprovalWaits covers how a wait for an answer ends.
func TestApprovalWaits(t *testing.T) {
	hang := func(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
		<-ctx.Done()
		return agentbox.Approval{}, ctx.Err()
	}
	t.Run("timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sb := agentboxtest.NewSandbox()
			a := agentbox.New(approvalScript(), agentbox.Options{
				Sandbox: sb, NeedsApproval: commandsOutside("ls"), Approve: hang, ApprovalTimeout: time.Minute,
			})
			start := time.Now()
			all, done := collect(t, a.Run(context.Background(), "go"))
			if done.Reason != agentbox.StopApproval || len(done.Pending) != 2 {
				t.Fatalf("Done %s, %v, pending %d", done.Reason, done.Err, len(done.Pending))
			}
			if waited := time.Since(start); waited != time.Minute {
				t.Errorf("waited %v for two answers, want one ApprovalTimeout in all", waited)
			}
			if !slices.Equal(askedIDs(all), []string{"ok", "rm"}) {
				t.Errorf("asked %v", askedIDs(all))
			}
			if _, ok := sb.File("a.txt"); !ok {
				t.Error("the call that needs no approval did not run")
			}
		})
	})
	t.Run("cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sb := agentboxtest.NewSandbox()
			ctx, cancel := context.WithCancel(context.Background())
			asked := make(chan struct{})
			a := agentbox.New(approvalScript(), agentbox.Options{
				Sandbox: sb, NeedsApproval: commandsOutside("ls"),
				Approve: func(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
					close(asked)
					return hang(ctx, req)
				},
			})
			events := a.Run(ctx, "go")
			<-asked
			time.Sleep(time.Hour) // no limit of its own
			cancel()
			_, done := collect(t, events)
			if done.Reason != agentbox.StopCanceled || len(done.Pending) != 0 {
				t.Fatalf("Done %s, %v, pending %v", done.Reason, done.Err, done.Pending)
			}
			for _, m := range done.Messages[2:] {
				if !strings.Contains(m.Content, "not run") {
					t.Errorf("%s: %q", m.ToolCallID, m.Content)
				}
			}
			if n := len(done.Messages); n != 6 {
				t.Errorf("%d messages, want the prompt, the calls and 4 results", n)
			}
			if len(sb.Files()) != 0 {
				t.Errorf("a call of the cancelled step ran: %v", sb.Files())
			}
		})
	})
	t.Run("duration budget", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := agentbox.New(approvalScript(), agentbox.Options{
				Sandbox: agentboxtest.NewSandbox(), NeedsApproval: commandsOutside(), Approve: hang,
				Budget: agentbox.Budget{Duration: time.Minute},
			})
			_, done := collect(t, a.Run(context.Background(), "go"))
			if done.Reason != agentbox.StopBudget {
				t.Fatalf("Done %s, %v", done.Reason, done.Err)
			}
		})
	})
	t.Run("approver fails", func(t *testing.T) {
		var mu sync.Mutex
		n := 0
		a := agentbox.New(approvalScript(), agentbox.Options{
			Sandbox: agentboxtest.NewSandbox(), NeedsApproval: commandsOutside("ls"),
			Approve: func(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
				mu.Lock()
				defer mu.Unlock()
				n++
				return agentbox.Approval{}, errors.New("the terminal is gone")
			},
		})
		all, done := collect(t, a.Run(context.Background(), "go"))
		if done.Reason != agentbox.StopApproval || len(done.Pending) != 2 || n != 1 {
			t.Fatalf("Done %s, pending %d, asked %d times", done.Reason, len(done.Pending), n)
		}
		errs := of[agentbox.Error](all)
		if len(errs) != 1 || errs[0].Fatal || !strings.Contains(errs[0].Err.Error(), "the terminal is gone") {
			t.Errorf("errors: %v", errs)
		}
	})
}

func TestApprovalRequestJSON(t *testing.T) {
	data, err := json.Marshal(agentbox.ApprovalRequest{Step: 2, ID: "c1", Name: "run_command", Args: json.RawMessage(`{"command":"ls"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"approval_request","step":2,"id":"c1","name":"run_command","args":{"command":"ls"}}`; string(data) != want {
		t.Errorf("got %s\nwant %s", data, want)
	}
}

func TestPanickingApprovalCodeIsContained(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	a := agentbox.New(approvalScript(), agentbox.Options{
		Sandbox: sb,
		NeedsApproval: func(c agentbox.ToolCall) bool {
			if c.ID == "rm" {
				var none []int
				_ = none[5] // a policy that trips on what the model wrote
			}
			return false
		},
		Approve: func(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
			panic("the prompt broke")
		},
	})
	all, done := collect(t, a.Run(context.Background(), "go"))
	if done.Reason != agentbox.StopApproval || len(done.Pending) != 1 || done.Pending[0].ID != "rm" {
		t.Fatalf("Done %s, %v, pending %v", done.Reason, done.Err, done.Pending)
	}
	if _, ok := sb.File("rm.txt"); ok {
		t.Error("the call whose policy panicked ran")
	}
	errs := of[agentbox.Error](all)
	if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "Options.Approve panicked: the prompt broke") {
		t.Errorf("errors: %v", errs)
	}
}

func TestThePolicyIsAskedOnceACall(t *testing.T) {
	asked := map[string]int{}
	a := agentbox.New(approvalScript(), agentbox.Options{
		Sandbox: agentboxtest.NewSandbox(),
		NeedsApproval: func(c agentbox.ToolCall) bool {
			asked[c.ID]++
			return c.Name == "run_command"
		},
	})
	collect(t, a.Run(context.Background(), "go"))
	for id, n := range asked {
		if n != 1 {
			t.Errorf("the policy was asked about %s %d times", id, n)
		}
	}
	if len(asked) != 4 {
		t.Errorf("the policy was asked about %d calls, want 4", len(asked))
	}
}
