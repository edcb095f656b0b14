package uistream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/uistream"
)

// commandsNeedApproval is a policy: every run_command call needs approval.
func commandsNeedApproval(c agentbox.ToolCall) bool { return c.Name == "run_command" }

// approvalProvider makes, in one step, a write_file call and two
// run_command calls, then replies, then takes more steps.
func approvalProvider(more ...agentboxtest.Step) *agentboxtest.Provider {
	return agentboxtest.NewProvider(append([]agentboxtest.Step{
		{Calls: []agentboxtest.Call{
			{ID: "w", Name: "write_file", Args: `{"files":[{"content":"hi","path":"a.txt"}]}`},
			{ID: "c1", Name: "run_command", Args: `{"command":"echo approved-output"}`},
			{ID: "c2", Name: "run_command", Args: `{"command":"rm -r ."}`},
		}},
		agentboxtest.Reply("Ran the echo; left the files."),
	}, more...)...)
}

// approvalHandler serves an agent whose run_command calls need approval.
func approvalHandler(p *agentboxtest.Provider, opened *sandboxes) *uistream.Handler {
	agent := agentbox.New(p, agentbox.Options{Open: opened.open, NeedsApproval: commandsNeedApproval})
	n := 0
	return uistream.New(agent, uistream.Options{MessageID: func() string { n++; return "msg-" + string(rune('0'+n)) }})
}

func TestTheAISDKChatAnswersApprovals(t *testing.T) {
	dir := aiSDK(t)
	var opened sandboxes
	p := approvalProvider()
	h := approvalHandler(p, &opened)
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()

	out := node(t, "AI_SDK_DIR", dir, "approve.mjs", srv.URL+"/api/chat", "chat-1", "clean up", "not that one")
	var res struct {
		Asked, Messages []sdkMessage
		Requests        []struct {
			Trigger, MessageID string
			Messages           []struct{ ID, Role string }
		}
		Errors []struct{ Name, Message string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("the client reported %v", res.Errors)
	}
	if got := partStates(res.Asked); got != "user: text | assistant: step-start tool-write_file/output-available tool-run_command/approval-requested tool-run_command/approval-requested" {
		t.Errorf("after the first turn the client has\n%s", got)
	}
	if len(res.Requests) != 2 {
		t.Fatalf("the client sent %d requests, want the message and the answers", len(res.Requests))
	}
	answers := res.Requests[1]
	if last := answers.Messages[len(answers.Messages)-1]; answers.Trigger != "submit-message" || last.Role != "assistant" || answers.MessageID != last.ID || last.ID != "msg-1" {
		t.Errorf("the answers were sent with trigger %q, messageId %q, last message %+v", answers.Trigger, answers.MessageID, last)
	}
	if got := partStates(res.Messages); got != "user: text | assistant: step-start tool-write_file/output-available tool-run_command/output-available tool-run_command/output-denied step-start text" {
		t.Errorf("at the end the client has\n%s", got)
	}
	final := res.Messages[len(res.Messages)-1]
	for _, part := range final.Parts {
		switch {
		case part.ToolCallID == "c1" && !strings.Contains(part.Output.(string), "approved-output"):
			t.Errorf("the approved call's output is %q", part.Output)
		case part.Type == "text" && part.Text != "Ran the echo; left the files.":
			t.Errorf("the next step's text is %q", part.Text)
		}
	}
	if final.Metadata["reason"] != string(agentbox.StopCompleted) {
		t.Errorf("the message's metadata is %v", final.Metadata)
	}
	// The model read the approved call's output and the denial.
	reqs := p.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want 2", len(reqs))
	}
	var results []string
	for _, m := range reqs[1].Messages {
		if m.Role == agentbox.RoleTool {
			results = append(results, m.ToolCallID+"="+m.Content)
		}
	}
	if got := strings.Join(results, "; "); !strings.Contains(got, "c1=approved-output") || !strings.Contains(got, "c2=Error: the user denied this call: not that one") {
		t.Errorf("the model read %s", got)
	}
}

// partStates sums up messages: each one's role and parts, tool parts with
// their state.
func partStates(msgs []sdkMessage) string {
	var out []string
	for _, m := range msgs {
		var parts []string
		for _, p := range m.Parts {
			s := p.Type
			if strings.HasPrefix(p.Type, "tool-") {
				s += "/" + p.State
			}
			parts = append(parts, s)
		}
		out = append(out, m.Role+": "+strings.Join(parts, " "))
	}
	return strings.Join(out, " | ")
}

// TestTheAISDK4ChatAnswersApprovals: useChat 1.2's client gets the calls
// waiting for approval as calls without a result, the turn finishing with
// "tool-calls"; answered with addToolResult, they get their results in the
// same message, and the turn goes on.
func TestTheAISDK4ChatAnswersApprovals(t *testing.T) {
	dir := aiSDK4(t)
	var opened sandboxes
	p := approvalProvider()
	h := approvalHandler(p, &opened)
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()

	out := node(t, "AI_SDK4_DIR", dir, "approve4.mjs", srv.URL+"/api/chat", "chat-4", "clean up", "not that one")
	var res struct {
		Asked, Messages []sdk4Message
		Finishes        []string
		Errors          []sdk4Error
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Errors) > 0 || strings.Join(res.Finishes, " ") != "tool-calls stop" {
		t.Fatalf("the client finished %v, with errors %v", res.Finishes, res.Errors)
	}
	if got, want := res.Asked[1].summary(), "step-start tool-invocation/write_file/result/0 tool-invocation/run_command/call/0 tool-invocation/run_command/call/0"; got != want {
		t.Errorf("after the first turn:\n%s\nwant\n%s", got, want)
	}
	if len(res.Messages) != 2 {
		t.Fatalf("%d messages at the end, want the user's and one answer", len(res.Messages))
	}
	final := res.Messages[1]
	if got, want := final.summary(), "step-start tool-invocation/write_file/result/0 tool-invocation/run_command/result/0 tool-invocation/run_command/result/0 step-start text=Ran the echo; left the files."; got != want {
		t.Errorf("at the end:\n%s\nwant\n%s", got, want)
	}
	results := map[string]any{}
	for _, part := range final.Parts {
		results[part.ToolInvocation.ToolCallID] = part.ToolInvocation.Result
	}
	if r, _ := results["c1"].(string); !strings.Contains(r, "approved-output") {
		t.Errorf("the approved call's result is %#v", results["c1"])
	}
	if r := results["c2"]; r != "Error: the user denied this call: not that one" {
		t.Errorf("the denied call's result is %#v", r)
	}
}

// answer is how the user answers a call: approved, or denied with a reason.
type answer struct {
	approved bool
	reason   string
}

// continuation returns the request an AI SDK 5+ client sends to answer the
// calls of turn, the chunks of a stream that asked for approvals: the
// messages before, then the assistant message that stream built, its calls
// asked for in state "approval-responded" with the answers given (or
// "approval-requested" when answers has none for them).
func continuation(t *testing.T, chatID string, before []string, turn []map[string]any, answers map[string]answer) string {
	t.Helper()
	type part map[string]any
	var parts []part
	byID := map[string]part{}
	messageID := ""
	for _, c := range turn {
		call, _ := c["toolCallId"].(string)
		switch c["type"] {
		case "start":
			messageID = c["messageId"].(string)
		case "start-step":
			parts = append(parts, part{"type": "step-start"})
		case "text-start":
			parts = append(parts, part{"type": "text", "text": "", "state": "done"})
		case "text-delta":
			parts[len(parts)-1]["text"] = parts[len(parts)-1]["text"].(string) + c["delta"].(string)
		case "tool-input-start":
			p := part{"type": "tool-" + c["toolName"].(string), "toolCallId": call, "state": "input-streaming"}
			byID[call] = p
			parts = append(parts, p)
		case "tool-input-available":
			byID[call]["input"], byID[call]["state"] = c["input"], "input-available"
		case "tool-output-available":
			byID[call]["output"], byID[call]["state"] = c["output"], "output-available"
		case "tool-output-error":
			byID[call]["errorText"], byID[call]["state"] = c["errorText"], "output-error"
		case "tool-approval-request":
			byID[call]["approval"], byID[call]["state"] = map[string]any{"id": c["approvalId"]}, "approval-requested"
			if a, ok := answers[call]; ok {
				byID[call]["approval"] = map[string]any{"id": c["approvalId"], "approved": a.approved, "reason": a.reason}
				byID[call]["state"] = "approval-responded"
			}
		}
	}
	assistant, err := json.Marshal(map[string]any{"id": messageID, "role": "assistant", "parts": parts})
	if err != nil {
		t.Fatal(err)
	}
	msgs := append(slices.Clone(before), string(assistant))
	return fmt.Sprintf(`{"id":%q,"trigger":"submit-message","messageId":%q,"messages":[%s]}`, chatID, messageID, strings.Join(msgs, ","))
}

// userMessage is a user message of AI SDK 5+.
func userMessage(id, text string) string {
	return `{"id":"` + id + `","role":"user","parts":[{"type":"text","text":` + quote(text) + `}]}`
}

// approveOneDenyOne answers the calls of approvalProvider.
var approveOneDenyOne = map[string]answer{"c1": {approved: true}, "c2": {reason: "not that one"}}

// TestApprovalStreams checks the streams of a turn that asks for approvals
// and of the one that answers them: the calls asked for have their input,
// then tool-approval-request, and the turn finishes with "tool-calls"; the
// answer's stream continues the message (its messageId), without the calls'
// inputs, with the approved call's output and the denied one's
// tool-output-denied, then the next step.
func TestApprovalStreams(t *testing.T) {
	var opened sandboxes
	h := approvalHandler(approvalProvider(), &opened)
	defer h.Close(context.Background())
	code, body := post(t, h, chatBody("chat-1", "clean up"))
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	asked := chunks(t, body)
	golden(t, "approval.golden", body)
	if got := find(asked, "tool-approval-request"); len(got) != 2 || got[0]["approvalId"] != "c1" || got[1]["toolCallId"] != "c2" {
		t.Errorf("approval requests %v", got)
	}
	finish := asked[len(asked)-1]
	if meta := finish["messageMetadata"].(map[string]any); finish["finishReason"] != "tool-calls" || meta["reason"] != "approval" || meta["steps"] != 1.0 {
		t.Errorf("finish %v", finish)
	}

	code, body = post(t, h, continuation(t, "chat-1", []string{userMessage("u1", "clean up")}, asked, approveOneDenyOne))
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	cs := chunksContinued(t, body)
	golden(t, "approval/continued.golden", body)
	if cs[0]["messageId"] != "msg-1" {
		t.Errorf("the answer's stream starts %v, want the message it continues", cs[0])
	}
	got := strings.Join(types(cs), " ")
	if want := "start data-tool-output tool-output-available tool-output-denied start-step text-start text-delta text-end finish-step finish"; got != want {
		t.Errorf("the answer's stream:\n%s\nwant\n%s", got, want)
	}
	if finish := cs[len(cs)-1]; finish["finishReason"] != "stop" {
		t.Errorf("finish %v", finish)
	}
}

// TestAFreshHandlerContinuesTheChat answers, to a Handler that has not seen
// the chat (as after a restart), the calls another asked for: it rebuilds
// the conversation from the request, the answered calls waiting, and the
// model gets what the first Handler's session would have given it.
func TestAFreshHandlerContinuesTheChat(t *testing.T) {
	var openedA, openedB sandboxes
	pa := approvalProvider()
	pb := agentboxtest.NewProvider(agentboxtest.Reply("Ran the echo; left the files."))
	ha, hb := approvalHandler(pa, &openedA), approvalHandler(pb, &openedB)
	defer ha.Close(context.Background())
	defer hb.Close(context.Background())
	_, body := post(t, ha, chatBody("chat-1", "clean up"))
	next := continuation(t, "chat-1", []string{userMessage("u1", "clean up")}, chunks(t, body), approveOneDenyOne)
	for _, h := range []*uistream.Handler{ha, hb} {
		code, body := post(t, h, next)
		if cs := chunksContinued(t, body); code != 200 || cs[0]["messageId"] != "msg-1" || len(find(cs, "tool-output-denied")) != 1 {
			t.Fatalf("%d %s", code, body)
		}
	}
	session, rebuilt := pa.Requests()[1].Messages, pb.Requests()[0].Messages
	if len(session) != 5 || session[4].Content != "Error: the user denied this call: not that one" {
		t.Fatalf("the session's conversation: %+v", session)
	}
	// The fresh sandbox has no a.txt: the approved command ran there too.
	if diff := cmp.Diff(session, rebuilt); diff != "" {
		t.Errorf("the conversation rebuilt from the request differs from the session's (-session +rebuilt):\n%s", diff)
	}
}

// TestHistoryOfAnswers: a chat the handler has no session for gets, from
// earlier messages, denied calls with their denial and no calls left
// unanswered.
func TestHistoryOfAnswers(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("ok"))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{})
	defer h.Close(context.Background())
	earlier := `{"id":"a1","role":"assistant","parts":[{"type":"step-start"},` +
		`{"type":"tool-run_command","toolCallId":"x1","state":"approval-requested","input":{"command":"ls"},"approval":{"id":"x1"}},` +
		`{"type":"tool-run_command","toolCallId":"x2","state":"output-denied","input":{"command":"rm x"},"approval":{"id":"x2","approved":false,"reason":"no"}},` +
		`{"type":"text","text":"Asked."}]}`
	body := `{"id":"h","trigger":"submit-message","messages":[` + userMessage("u1", "first") + `,` + earlier + `,` + userMessage("u2", "again") + `]}`
	if code, resp := post(t, h, body); code != 200 {
		t.Fatalf("%d %s", code, resp)
	}
	want := []agentbox.Message{
		{Role: agentbox.RoleUser, Content: "first"},
		{Role: agentbox.RoleAssistant, ToolCalls: []agentbox.ToolCall{{ID: "x2", Name: "run_command", Arguments: `{"command":"rm x"}`}}},
		{Role: agentbox.RoleTool, ToolCallID: "x2", Name: "run_command", Content: "Error: the user denied this call: no"},
		{Role: agentbox.RoleAssistant, Content: "Asked."},
		{Role: agentbox.RoleUser, Content: "again"},
	}
	if diff := cmp.Diff(want, p.Requests()[0].Messages); diff != "" {
		t.Errorf("the history (-want +got):\n%s", diff)
	}
}

// TestBadContinuationsAreRefused: a continuation that answers nothing, or
// calls that do not wait, is refused with 400, and the chat takes the next
// request.
func TestBadContinuationsAreRefused(t *testing.T) {
	var opened sandboxes
	h := approvalHandler(approvalProvider(), &opened)
	defer h.Close(context.Background())
	_, body := post(t, h, chatBody("chat-1", "clean up"))
	asked := chunks(t, body)
	before := []string{userMessage("u1", "clean up")}
	wrongID := strings.Replace(continuation(t, "chat-1", before, asked, approveOneDenyOne), `"toolCallId":"c2"`, `"toolCallId":"zz"`, 1)
	noApproved := strings.Replace(continuation(t, "chat-1", before, asked, approveOneDenyOne), `"approved":true,`, ``, 1)
	for _, tc := range []struct{ name, body, says string }{
		{"no answers", continuation(t, "chat-1", before, asked, nil), "answers no tool call"},
		{"no approved", noApproved, `with no boolean`},
		{"a call that does not wait", wrongID, `does not wait for approval`},
		{"twice", strings.Replace(continuation(t, "chat-1", before, asked, approveOneDenyOne), `"toolCallId":"c2"`, `"toolCallId":"c1"`, 1), "answered twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := post(t, h, tc.body); code != 400 || !strings.Contains(body, tc.says) {
				t.Errorf("%d %s, want 400 saying %s", code, body, tc.says)
			}
		})
	}
	// The chat still waits, and takes the answers, once.
	answers := continuation(t, "chat-1", before, asked, approveOneDenyOne)
	if code, body := post(t, h, answers); code != 200 || !strings.Contains(body, "tool-output-denied") {
		t.Errorf("the answers after the refusals: %d %s", code, body)
	}
	if code, body := post(t, h, answers); code != 400 || !strings.Contains(body, "no tool call of this chat waits") {
		t.Errorf("the answers again: %d %s, want 400", code, body)
	}
}

// TestAMessageInsteadOfAnswers: a user message sent while calls wait runs;
// the model reads that the calls were not run, and they never run.
func TestAMessageInsteadOfAnswers(t *testing.T) {
	var opened sandboxes
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c1", Name: "run_command", Args: `{"command":"echo asked"}`}}},
		agentboxtest.Reply("Fine."),
	)
	h := approvalHandler(p, &opened)
	defer h.Close(context.Background())
	_, body := post(t, h, chatBody("chat-1", "clean up"))
	asked := chunks(t, body)
	if len(find(asked, "tool-approval-request")) != 1 {
		t.Fatalf("no approval asked for:\n%s", body)
	}
	// The user writes on instead of answering.
	code, body := post(t, h, chatBody("chat-1", "clean up", "never mind"))
	if cs := chunks(t, body); code != 200 || cs[len(cs)-1]["finishReason"] != "stop" {
		t.Fatalf("%d %s", code, body)
	}
	msgs := p.Requests()[1].Messages
	if len(msgs) != 4 || msgs[2].ToolCallID != "c1" || !strings.Contains(msgs[2].Content, "not run") || msgs[3].Content != "never mind" {
		t.Errorf("the model got %+v", msgs)
	}
	if code, body := post(t, h, continuation(t, "chat-1", []string{userMessage("u1", "clean up")}, asked, map[string]answer{"c1": {approved: true}})); code != 400 {
		t.Errorf("answers after the user wrote on: %d %s, want 400", code, body)
	}
}

// TestAContinuedTurnResumes: a page that reloads while the answers' turn
// runs gets that turn back, the same stream, continuing the same message.
func TestAContinuedTurnResumes(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	opened := &sandboxes{handler: func(ctx context.Context, sb *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		if cmd.Cmd != "build" {
			return agentboxtest.Shell(ctx, sb, cmd)
		}
		close(started)
		select {
		case <-release:
			return agentbox.Result{}, nil
		case <-ctx.Done():
			return agentbox.Result{ExitCode: -1}, ctx.Err()
		}
	}}
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "b", Name: "run_command", Args: `{"command":"build"}`}}},
		agentboxtest.Reply("built"),
	)
	h := approvalHandler(p, opened)
	mux := http.NewServeMux()
	mux.Handle("/api/chat", h)
	mux.Handle("/api/chat/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer h.Close(context.Background())

	_, body := post(t, h, chatBody("a", "build it"))
	next := continuation(t, "a", []string{userMessage("u1", "build it")}, chunks(t, body), map[string]answer{"b": {approved: true}})
	resp, err := srv.Client().Post(srv.URL+"/api/chat", "application/json", strings.NewReader(next))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the approved command did not start")
	}
	resumed := get(t, srv, "/api/chat/a/stream")
	if resumed.StatusCode != 200 {
		t.Fatalf("resume: %s", resumed.Status)
	}
	close(release)
	first, errA := io.ReadAll(resp.Body)
	again, errB := io.ReadAll(resumed.Body)
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	cs := chunksContinued(t, string(again))
	if !bytes.Equal(first, again) || cs[0]["messageId"] != "msg-1" || len(find(cs, "tool-output-available")) != 1 {
		t.Errorf("the resumed stream:\n%s\nthe first:\n%s", again, first)
	}
}

// TestEncoderApprovals encodes approvals as a run makes them: asked for
// after the call's input, with the input written once; a call denied at
// once (Options.Approve) ends with tool-output-denied; the calls of a
// continued run (step 0) get no input, only their outputs.
func TestEncoderApprovals(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewEncoder(&b, "m")
	args := json.RawMessage(`{"command":"ls"}`)
	encodeAll(t, enc,
		agentbox.ToolInput{Step: 1, ID: "a", Name: "run_command"},
		agentbox.ToolInput{Step: 1, ID: "b", Name: "run_command"},
		agentbox.ApprovalRequest{Step: 1, ID: "a", Name: "run_command", Args: args},
		agentbox.ApprovalRequest{Step: 1, ID: "b", Name: "run_command", Args: args},
		agentbox.ToolStart{Step: 1, ID: "a", Name: "run_command", Args: args},
		agentbox.ToolResult{Step: 1, ID: "a", Name: "run_command", Output: "Error: the user denied this call", Err: agentbox.ErrDenied},
		agentbox.Done{Reason: agentbox.StopApproval, Steps: 1, Pending: []agentbox.ToolCall{{ID: "b"}}},
	)
	cs := chunks(t, b.String())
	want := "start start-step tool-input-start tool-input-start tool-input-available tool-approval-request " +
		"tool-input-available tool-approval-request tool-output-denied finish-step finish"
	if got := strings.Join(types(cs), " "); got != want {
		t.Errorf("asked:\n%s\nwant\n%s", got, want)
	}
	if finish := cs[len(cs)-1]; finish["finishReason"] != "tool-calls" {
		t.Errorf("finish %v", finish)
	}

	b.Reset()
	enc = uistream.NewEncoder(&b, "m")
	encodeAll(t, enc,
		agentbox.ApprovalRequest{ID: "c", Name: "run_command", Args: args}, // asked again
		agentbox.ToolStart{ID: "b", Name: "run_command", Args: args},
		agentbox.ToolOutput{ID: "b", Stream: "stdout", Text: "x\n"},
		agentbox.ToolResult{ID: "b", Name: "run_command", Output: "x"},
		agentbox.Token{Step: 1, Text: "ok"},
		agentbox.Done{Reason: agentbox.StopCompleted, Steps: 1},
	)
	cs = chunksContinued(t, b.String())
	want = "start tool-approval-request data-tool-output tool-output-available start-step text-start text-delta text-end finish-step finish"
	if got := strings.Join(types(cs), " "); got != want {
		t.Errorf("continued:\n%s\nwant\n%s", got, want)
	}
}

// TestDataStreamEncoderApprovals: a call asked for is a complete tool call
// without a result, and the turn finishes with "tool-calls"; the calls of a
// continued run (step 0) get their results only.
func TestDataStreamEncoderApprovals(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewDataStreamEncoder(&b, "m")
	args := json.RawMessage(`{"command":"ls"}`)
	encodeAll(t, enc,
		agentbox.ToolInput{Step: 1, ID: "a", Name: "run_command", Delta: `{"command":"ls"}`},
		agentbox.ApprovalRequest{Step: 1, ID: "a", Name: "run_command", Args: args},
		agentbox.Done{Reason: agentbox.StopApproval, Steps: 1},
	)
	want := `f:{"messageId":"m"}
b:{"toolCallId":"a","toolName":"run_command"}
c:{"toolCallId":"a","argsTextDelta":"{\"command\":\"ls\"}"}
9:{"toolCallId":"a","toolName":"run_command","args":{"command":"ls"}}
e:{"finishReason":"tool-calls","isContinued":false}
8:[{"type":"usage","value":{"promptTokens":0,"completionTokens":0,"totalTokens":0}},{"type":"finish","reason":"approval","steps":1,"usage":{"prompt_tokens":0,"completion_tokens":0}}]
d:{"finishReason":"tool-calls","usage":{"promptTokens":0,"completionTokens":0}}
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("asked (-want +got):\n%s", diff)
	}

	b.Reset()
	enc = uistream.NewDataStreamEncoder(&b, "m")
	encodeAll(t, enc,
		agentbox.ToolStart{ID: "a", Name: "run_command", Args: args},
		agentbox.ToolResult{ID: "a", Name: "run_command", Output: "x"},
		agentbox.Token{Step: 1, Text: "ok"},
		agentbox.Done{Reason: agentbox.StopCompleted, Steps: 1},
	)
	if got := b.String(); !strings.HasPrefix(got, `a:{"toolCallId":"a","result":"x"}`+"\n"+`f:{"messageId":"m"}`+"\n0:\"ok\"\n") || strings.Contains(got, "9:") {
		t.Errorf("continued:\n%s", got)
	}
}

// encodeAll encodes evs with enc, failing t on an error.
func encodeAll(t *testing.T, enc interface{ Encode(agentbox.Event) error }, evs ...agentbox.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	}
}
