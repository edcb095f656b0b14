package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// approvalSteps are a model's steps that write two files with commands,
// then answer.
func approvalSteps() []agentboxtest.Step {
	return []agentboxtest.Step{
		{Text: []string{"I'll write two files."}, Calls: []agentboxtest.Call{
			{ID: "yes", Name: "run_command", Args: `{"command":"echo approved > approved.txt"}`},
			{ID: "no", Name: "run_command", Args: `{"command":"echo denied > denied.txt"}`},
		}},
		agentboxtest.Reply("One file is written; you denied the other."),
	}
}

// byType returns the chunks of type typ, by their toolCallId.
func byType(chunks []map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, c := range chunks {
		if c["type"] == typ {
			id, _ := c["toolCallId"].(string)
			out[id] = c
		}
	}
	return out
}

// finishOf returns the finish chunk of a stream.
func finishOf(t *testing.T, chunks []map[string]any) map[string]any {
	t.Helper()
	for _, c := range chunks {
		if c["type"] == "finish" {
			return c
		}
	}
	t.Fatalf("the stream has no finish chunk: %v", chunks)
	return nil
}

// answerPart is the tool part of a run_command call answered in the page.
func answerPart(id, command string, approved bool, reason string) map[string]any {
	approval := map[string]any{"id": id, "approved": approved}
	if reason != "" {
		approval["reason"] = reason
	}
	return map[string]any{"type": "tool-run_command", "toolCallId": id, "state": "approval-responded",
		"input": map[string]string{"command": command}, "approval": approval}
}

// TestApprovalsAsked runs a chat with -approve: the two commands of the
// model's step are asked for, and the turn stops; the answers (one
// approved, one denied) continue the same message, and only the approved
// command runs.
func TestApprovalsAsked(t *testing.T) {
	model := agentboxtest.NewProvider(approvalSteps()...)
	_, srv := startAppSettings(t, nil, settings{model: model, approve: true})
	if cfg, err := get(t, srv.URL+"/api/config"); err != nil || !strings.Contains(cfg, `"approve":true`) {
		t.Errorf("GET /api/config = %s, %v; want approve true", cfg, err)
	}

	user := userMessage("Write two files.")
	chunks := chat(t, srv, user)
	asked := byType(chunks, "tool-approval-request")
	for _, id := range []string{"yes", "no"} {
		if c := asked[id]; c == nil || c["approvalId"] != id {
			t.Errorf("call %s: approval request %v, want one with approvalId %q", id, c, id)
		}
		if byType(chunks, "tool-input-available")[id] == nil {
			t.Errorf("call %s has no tool-input-available before its approval request", id)
		}
	}
	if len(asked) != 2 || len(byType(chunks, "tool-output-available")) != 0 {
		t.Errorf("%d approval requests and %d outputs, want 2 and none", len(asked), len(byType(chunks, "tool-output-available")))
	}
	finish := finishOf(t, chunks)
	if meta, _ := finish["messageMetadata"].(map[string]any); finish["finishReason"] != "tool-calls" || meta["reason"] != "approval" {
		t.Errorf("finish %v, want finishReason tool-calls, reason approval", finish)
	}
	messageID, _ := chunks[0]["messageId"].(string)
	if chunks[0]["type"] != "start" || messageID == "" {
		t.Fatalf("the stream starts with %v, want start with a messageId", chunks[0])
	}
	if _, err := get(t, srv.URL+"/api/file?chat=chat-1&path=approved.txt"); err == nil {
		t.Errorf("approved.txt is written before the answer")
	}

	answered, _ := json.Marshal(map[string]any{"id": messageID, "role": "assistant", "parts": []any{
		map[string]string{"type": "text", "text": "I'll write two files."},
		answerPart("yes", "echo approved > approved.txt", true, ""),
		answerPart("no", "echo denied > denied.txt", false, "not that one"),
	}})
	body, _ := json.Marshal(map[string]any{"id": "chat-1", "trigger": "submit-message", "messageId": messageID,
		"messages": []json.RawMessage{json.RawMessage(user), answered}})
	chunks = post(t, srv, string(body))
	if chunks[0]["type"] != "start" || chunks[0]["messageId"] != messageID {
		t.Errorf("the continuation starts with %v, want start with messageId %q", chunks[0], messageID)
	}
	if c := byType(chunks, "tool-output-available")["yes"]; c == nil {
		t.Errorf("the approved call has no output: %v", chunks)
	}
	if c := byType(chunks, "tool-output-denied")["no"]; c == nil || byType(chunks, "tool-output-available")["no"] != nil {
		t.Errorf("the denied call: %v, want tool-output-denied and no output", c)
	}
	if n := len(byType(chunks, "tool-input-start")) + len(byType(chunks, "tool-input-available")); n != 0 {
		t.Errorf("the continuation sends the calls' input again (%d chunks)", n)
	}
	var text string
	for _, c := range chunks {
		if c["type"] == "text-delta" {
			text += c["delta"].(string)
		}
	}
	if f := finishOf(t, chunks); text != "One file is written; you denied the other." || f["finishReason"] != "stop" {
		t.Errorf("the continuation says %q and ends %v", text, f)
	}

	if got, err := get(t, srv.URL+"/api/file?chat=chat-1&path=approved.txt"); err != nil || got != "approved\n" {
		t.Errorf("approved.txt: %q, %v; want the approved command's file", got, err)
	}
	if got, err := get(t, srv.URL+"/api/file?chat=chat-1&path=denied.txt"); err == nil {
		t.Errorf("denied.txt exists (%q): the denied command ran", got)
	}
	reqs := model.Requests()
	if len(reqs) != 2 {
		t.Fatalf("the model got %d requests, want 2", len(reqs))
	}
	for _, m := range reqs[1].Messages {
		if m.Role == agentbox.RoleTool && m.ToolCallID == "no" && !strings.Contains(m.Content, "denied this call: not that one") {
			t.Errorf("the model read %q for the denied call, want the denial and its reason", m.Content)
		}
	}
}

// TestANewMessageInsteadOfApproving sends a message while two commands
// wait: they do not run, and the model reads so.
func TestANewMessageInsteadOfApproving(t *testing.T) {
	model := agentboxtest.NewProvider(approvalSteps()...)
	_, srv := startAppSettings(t, nil, settings{model: model, approve: true})
	first := userMessage("Write two files.")
	chunks := chat(t, srv, first)
	if n := len(byType(chunks, "tool-approval-request")); n != 2 {
		t.Fatalf("%d approval requests, want 2", n)
	}
	assistant := `{"id":"a","role":"assistant","parts":[{"type":"text","text":"I'll write two files."}]}`
	chunks = chat(t, srv, first+","+assistant+","+userMessage("No, leave it."))
	if f := finishOf(t, chunks); f["finishReason"] != "stop" {
		t.Errorf("the next message ends %v", f)
	}
	for _, name := range []string{"approved.txt", "denied.txt"} {
		if _, err := get(t, srv.URL+"/api/file?chat=chat-1&path="+name); err == nil {
			t.Errorf("%s exists: a command ran without approval", name)
		}
	}
	reqs := model.Requests()
	notRun := 0
	for _, m := range reqs[len(reqs)-1].Messages {
		if m.Role == agentbox.RoleTool && strings.Contains(m.Content, "not run") {
			notRun++
		}
	}
	if notRun != 2 {
		t.Errorf("the model read %d calls as not run, want 2", notRun)
	}
}
