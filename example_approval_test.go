package agentbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// A person approves commands outside an allow-list before they run. Here
// the program answers at once; a terminal program would ask on its
// standard input.
func ExampleOptions_approve() {
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{
			{ID: "c1", Name: "run_command", Args: `{"command":"ls"}`},
			{ID: "c2", Name: "run_command", Args: `{"command":"rm -rf node_modules"}`},
		}},
		agentboxtest.Reply("Listed the files; I was not allowed to remove node_modules."),
	)
	allowed := []string{"ls", "npm install", "npm test"}
	agent := agentbox.New(provider, agentbox.Options{
		Sandbox: agentboxtest.NewSandbox(),
		NeedsApproval: func(call agentbox.ToolCall) bool {
			var args agentbox.RunCommandArgs
			json.Unmarshal([]byte(call.Arguments), &args)
			return call.Name == "run_command" && !slices.Contains(allowed, strings.TrimSpace(args.Command))
		},
		Approve: func(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
			fmt.Printf("? %s %s\n", req.Name, req.Args)
			return agentbox.Approval{Approved: false, Reason: "keep node_modules"}, nil
		},
	})
	for ev := range agent.Run(context.Background(), "Clean up") {
		switch ev := ev.(type) {
		case agentbox.ToolResult:
			fmt.Printf("← %s: %s\n", ev.ID, strings.ReplaceAll(ev.Output, "\n", " / "))
		case agentbox.Done:
			fmt.Println(ev.Reason, ev.Err)
		}
	}
	// Output:
	// ? run_command {"command":"rm -rf node_modules"}
	// ← c1: [exit code 0]
	// ← c2: Error: the user denied this call: keep node_modules
	// completed <nil>
}

// Without Options.Approve the run stops at the calls that need approval,
// and goes on when the answers come: in a server, in a later request.
func ExampleAgent_Continue() {
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c1", Name: "run_command", Args: `{"command":"echo deployed"}`}}},
		agentboxtest.Reply("Deployed."),
	)
	agent := agentbox.New(provider, agentbox.Options{
		Sandbox:       agentboxtest.NewSandbox(),
		NeedsApproval: func(call agentbox.ToolCall) bool { return call.Name == "run_command" },
	})
	var done agentbox.Done
	for ev := range agent.Run(context.Background(), "Deploy") {
		switch ev := ev.(type) {
		case agentbox.ApprovalRequest:
			fmt.Printf("? %s %s\n", ev.Name, ev.Args)
		case agentbox.Done:
			done = ev
		}
	}
	fmt.Println(done.Reason, len(done.Pending), "call waits")

	answer := agentbox.Approval{ID: done.Pending[0].ID, Approved: true}
	for ev := range agent.Continue(context.Background(), done.Messages, answer) {
		switch ev := ev.(type) {
		case agentbox.ToolResult:
			fmt.Printf("← %s\n", strings.ReplaceAll(ev.Output, "\n", " / "))
		case agentbox.Token:
			fmt.Println(ev.Text)
		case agentbox.Done:
			fmt.Println(ev.Reason)
		}
	}
	// Output:
	// ? run_command {"command":"echo deployed"}
	// approval 1 call waits
	// ← deployed / [exit code 0]
	// Deployed.
	// completed
}
