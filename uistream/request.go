package uistream

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/agentbox/agentbox"
)

// chatRequest is the body a chat client POSTs.
type chatRequest struct {
	ID        string      `json:"id"`
	Messages  []uiMessage `json:"messages"`
	Trigger   string      `json:"trigger"`
	MessageID string      `json:"messageId"`
}

// uiMessage is a message as chat clients keep it: parts, of which the text
// ones matter here.
type uiMessage struct {
	ID    string   `json:"id"`
	Role  string   `json:"role"`
	Parts []uiPart `json:"parts"`
}

type uiPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
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

// text joins the message's text parts.
func (m uiMessage) text() string {
	var b strings.Builder
	for _, p := range m.Parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// history turns the messages before the last into a conversation: the text
// of the user's and the assistant's turns, for a session the handler does
// not have (it expired, or the server restarted).
func (req *chatRequest) history() []agentbox.Message {
	var msgs []agentbox.Message
	for _, m := range req.Messages[:len(req.Messages)-1] {
		text := m.text()
		if text == "" {
			continue
		}
		switch m.Role {
		case "user":
			msgs = append(msgs, agentbox.Message{Role: agentbox.RoleUser, Content: text})
		case "assistant":
			msgs = append(msgs, agentbox.Message{Role: agentbox.RoleAssistant, Content: text})
		}
	}
	return msgs
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
