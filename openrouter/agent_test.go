package openrouter_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
)

// TestAgentOverOpenRouterQuirks runs the agent on streams with OpenRouter's
// quirks: a call finished with "stop", empty arguments, a call ID used again
// in the next step, and reasoning details to send back.
func TestAgentOverOpenRouterQuirks(t *testing.T) {
	details := json.RawMessage(`[{"type":"reasoning.text","text":"List again.","format":"anthropic-claude-v1","index":0}]`)
	srv := openroutertest.NewServer(t,
		transcript(t, "stop_with_tool_calls.sse"), // list_files, arguments "", finish "stop"
		openroutertest.FromStep(agentboxtest.Step{Raw: []agentbox.Chunk{
			{Reasoning: "List again.", ReasoningDetails: details},
			{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, ID: "call_s1", Name: "list_files"}}}, // the same ID again
			{FinishReason: agentbox.FinishToolCalls},
		}}),
		openroutertest.FromStep(agentboxtest.Reply("Done.")),
	)
	sb := agentboxtest.NewSandbox()
	sb.SetFile("a.txt", []byte("a"))
	agent := agentbox.New(newProvider(t, srv, openrouter.Config{}), agentbox.Options{Sandbox: sb})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var results []agentbox.ToolResult
	var done agentbox.Done
	for ev := range agent.Run(ctx, "List the files.") {
		switch ev := ev.(type) {
		case agentbox.ToolResult:
			results = append(results, ev)
		case agentbox.Done:
			done = ev
		}
	}
	if done.Err != nil || len(results) != 2 {
		t.Fatalf("Done %v, %d tool results; want success and 2", done.Err, len(results))
	}
	for _, r := range results {
		if r.Err != nil || r.Output == "" {
			t.Errorf("list_files with empty arguments: %q, %v", r.Output, r.Err)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	last, err := reqs[2].AgentboxRequest()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var sentDetails json.RawMessage
	for _, m := range last.Messages {
		for _, c := range m.ToolCalls {
			ids = append(ids, c.ID)
			if c.Arguments != "{}" {
				t.Errorf("call %s sent back with arguments %q, want {}", c.ID, c.Arguments)
			}
		}
		if m.ReasoningDetails != nil {
			sentDetails = m.ReasoningDetails
		}
	}
	if len(ids) != 2 || ids[0] == ids[1] || ids[0] == "" || ids[1] == "" {
		t.Errorf("tool call IDs sent back: %q, want two distinct ones", ids)
	}
	var got, want any
	json.Unmarshal(sentDetails, &got)
	json.Unmarshal(details, &want)
	if gotJSON, _ := json.Marshal(got); string(gotJSON) != mustJSON(want) {
		t.Errorf("reasoning details sent back = %s, want %s", sentDetails, details)
	}
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}
