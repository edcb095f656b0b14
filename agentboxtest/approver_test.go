package agentboxtest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

func TestApprover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := agentboxtest.NewApprover(agentbox.Approval{ID: "yes", Approved: true}, agentbox.Approval{ID: "no", Reason: "why"})
		asked := a.Asked()
		got, err := a.Approve(t.Context(), agentbox.ApprovalRequest{ID: "yes"})
		if err != nil || !got.Approved {
			t.Fatalf("yes = %+v, %v", got, err)
		}
		select {
		case <-asked:
		default:
			t.Error("Asked was not closed by a request")
		}
		got, _ = a.Approve(t.Context(), agentbox.ApprovalRequest{ID: "no"})
		if got.Approved || got.Reason != "why" {
			t.Fatalf("no = %+v", got)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		if _, err := a.Approve(ctx, agentbox.ApprovalRequest{ID: "unknown"}); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Minute {
			t.Errorf("an unscripted call = %v after %v; want the deadline after a minute", err, time.Since(start))
		}
		if n := len(a.Requests()); n != 3 {
			t.Errorf("%d requests recorded, want 3", n)
		}
	})
}

// A run whose model calls a tool that needs approval, answered by a
// scripted person.
func ExampleApprover() {
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c1", Name: "run_command", Args: `{"command":"echo hi"}`}}},
		agentboxtest.Reply("ok"),
	)
	person := agentboxtest.NewApprover(agentbox.Approval{ID: "c1", Reason: "not now"})
	agent := agentbox.New(provider, agentbox.Options{
		Sandbox:       agentboxtest.NewSandbox(),
		NeedsApproval: func(agentbox.ToolCall) bool { return true },
		Approve:       person.Approve,
	})
	for ev := range agent.Run(context.Background(), "say hi") {
		if r, ok := ev.(agentbox.ToolResult); ok {
			fmt.Println(r.Output)
		}
	}
	fmt.Println(len(person.Requests()), "request")
	// Output:
	// Error: the user denied this call: not now
	// 1 request
}
