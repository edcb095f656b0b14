package uistream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

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
// input, output, errorText}; of AI SDK 4, {type:"text", text},
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
}

// toolInvocation is a tool call of AI SDK 4.
type toolInvocation struct {
	State      string          `json:"state"` // "partial-call", "call" or "result"
	ToolCallID string          `json:"toolCallId"`
	ToolName   string          `json:"toolName"`
	Args       json.RawMessage `json:"args"`
	Result     json.RawMessage `json:"result"`
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
	last := req.Messages[len(req.Messages)-1]
	if last.Role != "user" {
		return nil, badRequest("the last message is from %q; want the user's", last.Role)
	}
	if strings.TrimSpace(last.text()) == "" {
		return nil, badRequest("the last message has no text")
	}
	return &req, nil
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
// without a result are left out, as are messages of other roles.
func (req *chatRequest) history() []agentbox.Message {
	var msgs []agentbox.Message
	for i := range req.Messages[:len(req.Messages)-1] {
		m := &req.Messages[i]
		switch m.Role {
		case "user":
			if text := m.text(); text != "" {
				msgs = append(msgs, agentbox.Message{Role: agentbox.RoleUser, Content: text})
			}
		case "assistant":
			msgs = m.appendAssistant(msgs)
		}
	}
	return msgs
}

// appendAssistant appends to msgs the turns of an assistant message: one
// assistant message per run of text and tool calls, a tool message after it
// for each of its calls.
func (m *uiMessage) appendAssistant(msgs []agentbox.Message) []agentbox.Message {
	turn := agentbox.Message{Role: agentbox.RoleAssistant}
	var results []agentbox.Message
	flush := func() {
		if turn.Content != "" || len(turn.ToolCalls) > 0 {
			msgs = append(msgs, turn)
			msgs = append(msgs, results...)
		}
		turn, results = agentbox.Message{Role: agentbox.RoleAssistant}, nil
	}
	call := func(id, name string, args json.RawMessage, result string) {
		if id == "" || name == "" {
			return
		}
		turn.ToolCalls = append(turn.ToolCalls, agentbox.ToolCall{ID: id, Name: name, Arguments: argumentsText(args)})
		results = append(results, agentbox.Message{Role: agentbox.RoleTool, ToolCallID: id, Name: name, Content: result})
	}
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
		if inv != nil && inv.State == "result" {
			call(inv.ToolCallID, inv.ToolName, inv.Args, resultText(inv.Result))
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
		case strings.HasPrefix(p.Type, "tool-") || p.Type == "dynamic-tool":
			name := p.ToolName
			if name == "" {
				name = strings.TrimPrefix(p.Type, "tool-")
			}
			switch p.State {
			case "output-available":
				call(p.ToolCallID, name, p.Input, resultText(p.Output))
			case "output-error":
				call(p.ToolCallID, name, p.Input, p.ErrorText.s)
			}
		}
	}
	flush()
	return msgs
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
