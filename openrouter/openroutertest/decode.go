package openroutertest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
)

// AgentboxRequest decodes a chat completion request back into the
// agentbox.Request it was made from: a system message becomes System.
func (r Request) AgentboxRequest() (agentbox.Request, error) {
	var wire struct {
		Model    string `json:"model"`
		Messages []struct {
			Role      string  `json:"role"`
			Content   *string `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
			ToolCallID       string          `json:"tool_call_id"`
			Reasoning        string          `json:"reasoning"`
			ReasoningDetails json.RawMessage `json:"reasoning_details"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name        string          `json:"name"`
				Description string          `json:"description"`
				Parameters  json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
		MaxTokens   int      `json:"max_tokens"`
		Temperature *float64 `json:"temperature"`
	}
	if err := r.JSON(&wire); err != nil {
		return agentbox.Request{}, err
	}
	req := agentbox.Request{Model: wire.Model, MaxTokens: wire.MaxTokens, Temperature: wire.Temperature}
	for _, m := range wire.Messages {
		content := ""
		if m.Content != nil {
			content = *m.Content
		}
		if m.Role == "system" {
			req.System = content
			continue
		}
		msg := agentbox.Message{
			Role:             agentbox.Role(m.Role),
			Content:          content,
			ToolCallID:       m.ToolCallID,
			Reasoning:        m.Reasoning,
			ReasoningDetails: m.ReasoningDetails,
		}
		for _, c := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, agentbox.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
		}
		req.Messages = append(req.Messages, msg)
	}
	for _, t := range wire.Tools {
		req.Tools = append(req.Tools, agentbox.ToolSpec{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	return req, nil
}

// AgentboxRequests returns the chat completion requests received so far,
// decoded as the agentbox.Requests they carry, as
// agentboxtest.ProviderFixture.Requests wants them; one that is not JSON
// fails t.
func (s *Server) AgentboxRequests(t testing.TB) []agentbox.Request {
	t.Helper()
	var reqs []agentbox.Request
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, "/chat/completions") {
			req, err := r.AgentboxRequest()
			if err != nil {
				t.Errorf("openroutertest: a chat request is not JSON: %v", err)
			}
			reqs = append(reqs, req)
		}
	}
	return reqs
}
