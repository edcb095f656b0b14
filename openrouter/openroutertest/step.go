package openroutertest

import (
	"encoding/json"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// FromStep returns a response streaming step's chunks as OpenRouter does,
// ending with data: [DONE]. A step with Err fails as RunProviderTests
// expects: before any chunk, with a 400; after FailAfter chunks, with a
// mid-stream error chunk. A step with Hang sends FailAfter chunks and waits.
// Warnings are left out; delays become Delay and EventDelay. A server of a
// local Kind sends a step that does not fail in that server's form.
func FromStep(step agentboxtest.Step) Response {
	chunks := step.Chunks()
	resp := Response{Delay: step.Delay, EventDelay: step.ChunkDelay}
	failing := step.Err != nil || step.Hang
	if failing {
		chunks = chunks[:min(max(step.FailAfter, 0), len(chunks))]
	}
	if step.Err != nil && !step.Hang && len(chunks) == 0 {
		msg, _ := json.Marshal(step.Err.Error())
		return Status(400, `{"error":{"code":400,"message":`+string(msg)+`}}`)
	}
	for _, c := range chunks {
		if c.Warning == nil {
			resp.Events = append(resp.Events, ChunkJSON(c))
		}
	}
	switch {
	case step.Hang:
		resp.Hang = true
	case step.Err != nil:
		msg, _ := json.Marshal(step.Err.Error())
		resp.Events = append(resp.Events, `{"id":"gen-openroutertest","object":"chat.completion.chunk","error":{"code":400,"message":`+string(msg)+`},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`)
	default:
		resp.Events = append(resp.Events, "[DONE]")
		resp.step = &step
	}
	return resp
}

// FromSteps returns a response for each step.
func FromSteps(steps ...agentboxtest.Step) []Response {
	out := make([]Response, len(steps))
	for i, s := range steps {
		out[i] = FromStep(s)
	}
	return out
}

// ChunkJSON returns c as the data of an OpenRouter chunk.
func ChunkJSON(c agentbox.Chunk) string {
	type function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	}
	type toolCall struct {
		Index    int      `json:"index"`
		ID       string   `json:"id,omitempty"`
		Type     string   `json:"type,omitempty"`
		Function function `json:"function"`
	}
	delta := map[string]any{"role": "assistant", "content": c.Text}
	if c.Reasoning != "" {
		delta["reasoning"] = c.Reasoning
	}
	if c.ReasoningDetails != nil {
		delta["reasoning_details"] = c.ReasoningDetails
	}
	if len(c.ToolCalls) > 0 {
		var calls []toolCall
		for _, d := range c.ToolCalls {
			tc := toolCall{Index: d.Index, ID: d.ID, Function: function{Name: d.Name, Arguments: d.Arguments}}
			if d.ID != "" {
				tc.Type = "function"
			}
			calls = append(calls, tc)
		}
		delta["tool_calls"] = calls
		delta["content"] = nil
	}
	out := map[string]any{"id": "gen-openroutertest", "object": "chat.completion.chunk", "model": "openroutertest/model"}
	var finish any
	if c.FinishReason != "" {
		finish = string(c.FinishReason)
	}
	if c.Usage != nil && c.Text == "" && c.Reasoning == "" && c.ToolCalls == nil && c.FinishReason == "" {
		out["choices"] = []any{}
	} else {
		out["choices"] = []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "native_finish_reason": finish}}
	}
	if c.Usage != nil {
		u := c.Usage
		out["usage"] = map[string]any{
			"prompt_tokens":             u.PromptTokens,
			"completion_tokens":         u.CompletionTokens,
			"total_tokens":              u.TotalTokens(),
			"cost":                      u.Cost,
			"prompt_tokens_details":     map[string]any{"cached_tokens": u.CachedTokens},
			"completion_tokens_details": map[string]any{"reasoning_tokens": u.ReasoningTokens},
		}
	}
	data, _ := json.Marshal(out)
	return string(data)
}
