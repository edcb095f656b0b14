package uistream

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/agentbox/agentbox"
)

// chatRequest is the body a chat client POSTs: {id, messages, trigger,
// messageId} from AI SDK 5 and later, {id, messages} from AI SDK 4. Other
// fields (an app's own) are ignored.
type chatRequest struct {
	ID        string      `json:"id"`
	Messages  []uiMessage `json:"messages"`
	Trigger   string      `json:"trigger"`
	MessageID string      `json:"messageId"`
	// answers are the user's answers to the tool calls waiting for
	// approval, when the last message is the assistant's that holds them:
	// the request continues that message. Nil for a request whose last
	// message is the user's.
	answers []agentbox.Approval
}

// uiMessage is a message as chat clients keep it. AI SDK 5 and later have
// parts; AI SDK 4 has the text as content, the tool calls as
// toolInvocations (with state "result" once they have one), and, from
// @ai-sdk/react 1.2 on, the same as parts.
type uiMessage struct {
	ID              string           `json:"id"`
	Role            string           `json:"role"`
	Content         flexText         `json:"content"`
	ToolInvocations []toolInvocation `json:"toolInvocations"`
	Parts           []uiPart         `json:"parts"`
}

// uiPart is a part of a message: of AI SDK 5, {type:"text", text}, or a tool
// call {type:"tool-NAME" or "dynamic-tool", toolName, toolCallId, state,
// input, output, errorText, approval}; of AI SDK 4, {type:"text", text},
// {type:"reasoning", reasoning} or {type:"tool-invocation",
// toolInvocation}; of both, {type:"step-start"}. The rest are not for the
// model.
type uiPart struct {
	Type           string          `json:"type"`
	Text           flexText        `json:"text"`
	ToolInvocation *toolInvocation `json:"toolInvocation"`
	ToolName       string          `json:"toolName"`
	ToolCallID     string          `json:"toolCallId"`
	State          string          `json:"state"`
	Input          json.RawMessage `json:"input"`
	Output         json.RawMessage `json:"output"`
	ErrorText      flexText        `json:"errorText"`
	Approval       *partApproval   `json:"approval"`
}

// partApproval is the approval of a tool part of AI SDK 5 and later: the
// approval's ID, and, once the user answered (state "approval-responded",
// then "output-denied" for a denial), the answer.
type partApproval struct {
	ID       string          `json:"id"`
	Approved json.RawMessage `json:"approved"`
	Reason   flexText        `json:"reason"`
}

// isTool reports whether p is a tool call of AI SDK 5 and later.
func (p *uiPart) isTool() bool {
	return p.Type != "tool-invocation" && strings.HasPrefix(p.Type, "tool-") || p.Type == "dynamic-tool"
}

// toolName is the name of the tool p calls.
func (p *uiPart) toolName() string {
	if p.ToolName != "" {
		return p.ToolName
	}
	return strings.TrimPrefix(p.Type, "tool-")
}

// answer returns the user's answer of a tool part in state
// "approval-responded", or an error when it has none.
func (p *uiPart) answer() (agentbox.Approval, error) {
	a := agentbox.Approval{ID: p.ToolCallID}
	if p.Approval != nil {
		a.Reason = p.Approval.Reason.s
		switch string(bytes.TrimSpace(p.Approval.Approved)) {
		case "true":
			a.Approved = true
			return a, nil
		case "false":
			return a, nil
		}
	}
	return a, badRequest(`tool call %q is %q with no boolean "approval.approved"`, capText(p.ToolCallID), p.State)
}

// toolInvocation is a tool call of AI SDK 4.
type toolInvocation struct {
	State      string          `json:"state"` // "partial-call", "call" or "result"
	ToolCallID string          `json:"toolCallId"`
	ToolName   string          `json:"toolName"`
	Args       json.RawMessage `json:"args"`
	Result     json.RawMessage `json:"result"`
}

// answer returns the user's answer of an AI SDK 4 tool call waiting for
// approval, which the page gave with addToolResult: a result
// {"approved": true} or {"approved": false, "reason": "…"}. False when inv
// holds no such answer.
func (inv *toolInvocation) answer() (agentbox.Approval, bool) {
	if inv == nil || inv.State != "result" {
		return agentbox.Approval{}, false
	}
	var r struct {
		Approved *bool    `json:"approved"`
		Reason   flexText `json:"reason"`
	}
	if json.Unmarshal(inv.Result, &r) != nil || r.Approved == nil {
		return agentbox.Approval{}, false
	}
	return agentbox.Approval{ID: inv.ToolCallID, Approved: *r.Approved, Reason: r.Reason.s}, true
}

// flexText is a text of a message: a JSON string, or an array of parts of
// which the text ones ({type:"text", text}) are joined (apps such as
// bolt.diy send the content of a message with images so). Any other value
// is no text. Set says the field was there, not null.
type flexText struct {
	s   string
	set bool
}

// UnmarshalJSON reads a string, an array of parts or anything else.
func (t *flexText) UnmarshalJSON(b []byte) error {
	*t = flexText{}
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		t.set = true
		return json.Unmarshal(b, &t.s)
	case b[0] == '[':
		t.set = true
		var parts []struct {
			Type string   `json:"type"`
			Text flexText `json:"text"`
		}
		if json.Unmarshal(b, &parts) != nil {
			return nil // not parts: no text
		}
		var sb strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				sb.WriteString(p.Text.s)
			}
		}
		t.s = sb.String()
	default:
		t.set = true
	}
	return nil
}

// The triggers of chat requests.
const (
	triggerSubmit     = "submit-message"
	triggerRegenerate = "regenerate-message"
	maxChatIDLength   = 256
)

// A requestError is a request the handler refuses, with its HTTP status.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// readRequest decodes and checks the body of r, at most limit bytes.
func readRequest(w http.ResponseWriter, r *http.Request, limit int64) (*chatRequest, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	var req chatRequest
	if err := dec.Decode(&req); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over %d bytes", limit)}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &requestError{http.StatusRequestTimeout, "the request body did not arrive in time"}
		}
		return nil, badRequest("the request body is not a chat request: %v", err)
	}
	if dec.More() {
		return nil, badRequest("the request body has more than one JSON value")
	}
	switch {
	case req.ID == "":
		return nil, badRequest(`the chat request has no "id"`)
	case len(req.ID) > maxChatIDLength:
		return nil, badRequest(`the chat "id" is over %d bytes`, maxChatIDLength)
	case req.Trigger != "" && req.Trigger != triggerSubmit && req.Trigger != triggerRegenerate:
		return nil, badRequest(`unknown "trigger" %q: want %q or %q`, req.Trigger, triggerSubmit, triggerRegenerate)
	case len(req.Messages) == 0:
		return nil, badRequest(`the chat request has no "messages"`)
	}
	last := &req.Messages[len(req.Messages)-1]
	if last.Role == "assistant" && req.Trigger != triggerRegenerate {
		return req.continuation(last)
	}
	if last.Role != "user" {
		return nil, badRequest("the last message is from %q; want the user's", last.Role)
	}
	if strings.TrimSpace(last.text()) == "" {
		return nil, badRequest("the last message has no text")
	}
	return &req, nil
}

// continuation checks a request whose last message, last, is the
// assistant's, and returns it with the answers that message holds.
func (req *chatRequest) continuation(last *uiMessage) (*chatRequest, error) {
	answers, err := last.answers()
	if err != nil {
		return nil, err
	}
	if len(answers) == 0 {
		return nil, badRequest(`the last message is from "assistant" and answers no tool call waiting for approval; want the user's, or the assistant's with answers`)
	}
	req.answers = answers
	return req, nil
}

// answers returns the answers an assistant message holds to its tool calls
// waiting for approval: of AI SDK 5 and later, its tool parts in state
// "approval-responded"; of AI SDK 4, its tool invocations whose result is
// an answer (see toolInvocation.answer). A call is answered once.
func (m *uiMessage) answers() ([]agentbox.Approval, error) {
	var out []agentbox.Approval
	seen := map[string]bool{}
	add := func(a agentbox.Approval) error {
		switch {
		case a.ID == "":
			return badRequest("an answered tool call has no toolCallId")
		case seen[a.ID]:
			return badRequest("tool call %q is answered twice", capText(a.ID))
		}
		seen[a.ID] = true
		out = append(out, a)
		return nil
	}
	for i := range m.Parts {
		p := &m.Parts[i]
		var err error
		switch {
		case p.Type == "tool-invocation":
			if a, ok := p.ToolInvocation.answer(); ok {
				err = add(a)
			}
		case p.isTool() && p.State == "approval-responded":
			a, aerr := p.answer()
			err = cmp.Or(aerr, add(a))
		}
		if err != nil {
			return nil, err
		}
	}
	for i := range m.ToolInvocations { // the same calls as the parts, from @ai-sdk/react 1.2 on
		if a, ok := m.ToolInvocations[i].answer(); ok && !seen[a.ID] {
			if err := add(a); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// answersWaiting checks that each answer of a continuation is to one of
// waiting, the calls of the chat waiting for approval; nil for a request
// that is no continuation.
func (req *chatRequest) answersWaiting(waiting []agentbox.ToolCall) error {
	if req.answers == nil {
		return nil
	}
	if len(waiting) == 0 {
		return badRequest("no tool call of this chat waits for approval: the answers come too late, or twice")
	}
	for _, a := range req.answers {
		if !slices.ContainsFunc(waiting, func(c agentbox.ToolCall) bool { return c.ID == a.ID }) {
			return badRequest("tool call %q does not wait for approval", capText(a.ID))
		}
	}
	return nil
}

// capText shortens s, an ID from the request, to quote it in an error.
func capText(s string) string {
	if len(s) <= 100 {
		return s
	}
	n := 100
	for n > 0 && !utf8.RuneStart(s[n]) {
		n-- // do not cut a character
	}
	return s[:n] + "…"
}

// continuedID returns the ID of the assistant message a continuation
// continues: the request's messageId, else the message's own.
func (req *chatRequest) continuedID() string {
	return cmp.Or(req.MessageID, req.Messages[len(req.Messages)-1].ID)
}

// text is the text of a message: its content (AI SDK 4), else its text
// parts joined.
func (m *uiMessage) text() string {
	if m.Content.s != "" {
		return m.Content.s
	}
	var b strings.Builder
	for _, p := range m.Parts {
		if p.Type == "text" {
			b.WriteString(p.Text.s)
		}
	}
	return b.String()
}

// history turns the messages before the last into a conversation, for a
// session the handler does not have (it expired, or the server restarted):
// the text of the user's turns, and of the assistant's, the text and the
// tool calls that have a result, each call in the assistant message that
// made it followed by a tool message with its result, as the session's own
// history has them. A message's parts say the order; a message of AI SDK 4
// without parts is read as @ai-sdk/react 1.2 reads it: its tool
// invocations, then its content. The assistant's reasoning, which the
// session cannot give back with its provider's record of it, and calls
// without a result are left out, as are messages of other roles. A denied
// call (state "output-denied") has its denial as its result, as the model
// read it.
//
// A continuation's last message, the assistant's, is part of the history:
// its calls waiting for approval (state "approval-responded" or
// "approval-requested"; of AI SDK 4, those whose result is an answer) are
// calls without a tool message, as the session has the calls that wait.
// Such calls of earlier messages, which the user left unanswered, are left
// out.
func (req *chatRequest) history() []agentbox.Message {
	var msgs []agentbox.Message
	n := len(req.Messages) - 1
	if req.answers != nil {
		n++
	}
	for i := range req.Messages[:n] {
		m := &req.Messages[i]
		switch m.Role {
		case "user":
			if text := m.text(); text != "" {
				msgs = append(msgs, agentbox.Message{Role: agentbox.RoleUser, Content: text})
			}
		case "assistant":
			msgs = m.appendAssistant(msgs, req.answers != nil && i == n-1)
		}
	}
	return msgs
}

// denialText is the result the model read for a call the user denied with
// reason, as agentbox gives it.
func denialText(reason string) string {
	if strings.TrimSpace(reason) == "" {
		return "Error: " + agentbox.ErrDenied.Error()
	}
	return "Error: " + agentbox.ErrDenied.Error() + ": " + reason
}

// appendAssistant appends to msgs the turns of an assistant message: one
// assistant message per run of text and tool calls, a tool message after it
// for each of its calls that has a result. With waiting, the calls waiting
// for approval are kept, without a tool message; else they are left out.
func (m *uiMessage) appendAssistant(msgs []agentbox.Message, waiting bool) []agentbox.Message {
	turn := agentbox.Message{Role: agentbox.RoleAssistant}
	var results []agentbox.Message
	flush := func() {
		if turn.Content != "" || len(turn.ToolCalls) > 0 {
			msgs = append(msgs, turn)
			msgs = append(msgs, results...)
		}
		turn, results = agentbox.Message{Role: agentbox.RoleAssistant}, nil
	}
	call := func(id, name string, args json.RawMessage, result *string) {
		if id == "" || name == "" || result == nil && !waiting {
			return
		}
		turn.ToolCalls = append(turn.ToolCalls, agentbox.ToolCall{ID: id, Name: name, Arguments: argumentsText(args)})
		if result != nil {
			results = append(results, agentbox.Message{Role: agentbox.RoleTool, ToolCallID: id, Name: name, Content: *result})
		}
	}
	done := func(s string) *string { return &s }
	text := func(s string) {
		if s == "" {
			return
		}
		if len(turn.ToolCalls) > 0 {
			flush() // text after calls answers their results
		}
		turn.Content += s
	}
	invocation := func(inv *toolInvocation) {
		switch _, answer := inv.answer(); {
		case answer:
			call(inv.ToolCallID, inv.ToolName, inv.Args, nil)
		case inv != nil && inv.State == "result":
			call(inv.ToolCallID, inv.ToolName, inv.Args, done(resultText(inv.Result)))
		}
	}
	if len(m.Parts) == 0 {
		for i := range m.ToolInvocations {
			invocation(&m.ToolInvocations[i])
		}
		text(m.Content.s)
		flush()
		return msgs
	}
	for i := range m.Parts {
		p := &m.Parts[i]
		switch {
		case p.Type == "text":
			text(p.Text.s)
		case p.Type == "step-start":
			if len(turn.ToolCalls) > 0 {
				flush()
			}
		case p.Type == "tool-invocation":
			invocation(p.ToolInvocation)
		case p.isTool():
			p.addCall(call, done)
		}
	}
	flush()
	return msgs
}

// addCall adds p, a tool part of AI SDK 5 and later, with call: a call with
// its result, or, when it waits for approval, without one.
func (p *uiPart) addCall(call func(id, name string, args json.RawMessage, result *string), done func(string) *string) {
	name := p.toolName()
	switch p.State {
	case "output-available":
		call(p.ToolCallID, name, p.Input, done(resultText(p.Output)))
	case "output-error":
		call(p.ToolCallID, name, p.Input, done(p.ErrorText.s))
	case "output-denied":
		reason := ""
		if p.Approval != nil {
			reason = p.Approval.Reason.s
		}
		call(p.ToolCallID, name, p.Input, done(denialText(reason)))
	case "approval-responded", "approval-requested":
		call(p.ToolCallID, name, p.Input, nil)
	}
}

// argumentsText is the text of a call's arguments as the model wrote them:
// a JSON object as it is; a JSON string, which is how the stream sends
// arguments that were not JSON, its text; nothing, none.
func argumentsText(args json.RawMessage) string {
	args = bytes.TrimSpace(args)
	switch {
	case len(args) == 0 || string(args) == "null":
		return ""
	case args[0] == '"':
		var s string
		if json.Unmarshal(args, &s) == nil {
			return s
		}
	}
	return string(args)
}

// resultText is the text of a call's result: a JSON string's text, any
// other JSON value as JSON.
func resultText(result json.RawMessage) string {
	result = bytes.TrimSpace(result)
	if len(result) > 0 && result[0] == '"' {
		var s string
		if json.Unmarshal(result, &s) == nil {
			return s
		}
	}
	if string(result) == "null" {
		return ""
	}
	return string(result)
}

// userMessages counts the user's messages of the request.
func (req *chatRequest) userMessages() int {
	n := 0
	for _, m := range req.Messages {
		if m.Role == "user" {
			n++
		}
	}
	return n
}

// userMessages counts the user's messages of a conversation.
func userMessages(msgs []agentbox.Message) int {
	n := 0
	for _, m := range msgs {
		if m.Role == agentbox.RoleUser {
			n++
		}
	}
	return n
}
