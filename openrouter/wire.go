package openrouter

import (
	"encoding/json"

	"github.com/agentbox/agentbox"
)

// chatRequest is the body of POST /chat/completions.
type chatRequest struct {
	Model       string        `json:"model"`
	Models      []string      `json:"models,omitempty"`
	Messages    []chatMessage `json:"messages"`
	Tools       []chatTool    `json:"tools,omitempty"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
	Temperature *float64      `json:"temperature,omitempty"`
	Stream      bool          `json:"stream"`
	// StreamOptions asks for usage: OpenRouter sends it always, but
	// OpenAI, Ollama and vLLM only when asked.
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	Provider      *Routing       `json:"provider,omitempty"`
	Reasoning     *Reasoning     `json:"reasoning,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role             string          `json:"role"`
	Content          *string         `json:"content"`
	ToolCalls        []chatToolCall  `json:"tool_calls,omitempty"`
	ToolCallID       string          `json:"tool_call_id,omitempty"`
	Reasoning        string          `json:"reasoning,omitempty"`
	ReasoningDetails json.RawMessage `json:"reasoning_details,omitempty"`
}

type chatToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type chatTool struct {
	Type     string       `json:"type"`
	Function chatToolSpec `json:"function"`
}

type chatToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// newChatRequest returns the wire form of req, for model.
func newChatRequest(req *agentbox.Request, model string) *chatRequest {
	r := &chatRequest{
		Model:         model,
		MaxTokens:     req.MaxTokens,
		Temperature:   req.Temperature,
		Stream:        true,
		StreamOptions: &streamOptions{IncludeUsage: true},
		Messages:      make([]chatMessage, 0, len(req.Messages)+1),
	}
	if req.System != "" {
		r.Messages = append(r.Messages, chatMessage{Role: "system", Content: &req.System})
	}
	for _, m := range req.Messages {
		cm := chatMessage{
			Role:             string(m.Role),
			ToolCallID:       m.ToolCallID,
			Reasoning:        m.Reasoning,
			ReasoningDetails: m.ReasoningDetails,
		}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			content := m.Content
			cm.Content = &content
		}
		for _, c := range m.ToolCalls {
			args := c.Arguments
			if args == "" {
				args = "{}"
			}
			cm.ToolCalls = append(cm.ToolCalls, chatToolCall{ID: c.ID, Type: "function", Function: chatFunction{Name: c.Name, Arguments: args}})
		}
		r.Messages = append(r.Messages, cm)
	}
	for _, t := range req.Tools {
		params := t.Parameters
		if len(params) == 0 {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		r.Tools = append(r.Tools, chatTool{Type: "function", Function: chatToolSpec{Name: t.Name, Description: t.Description, Parameters: params}})
	}
	return r
}

// chunk is one streamed chunk of a chat completion. Fields that are null or
// missing decode to their zero values.
type chunk struct {
	// Model is the model that answers, as JSON: a RawMessage reuses its
	// buffer from chunk to chunk, where a string would be made anew.
	Model   json.RawMessage `json:"model"`
	Choices []choice        `json:"choices"`
	Usage   *usage          `json:"usage"`
	Error   *wireError      `json:"error"`
}

type choice struct {
	Delta        delta      `json:"delta"`
	FinishReason string     `json:"finish_reason"`
	Error        *wireError `json:"error"`
}

type delta struct {
	Content   string `json:"content"`
	Reasoning string `json:"reasoning"`
	// ReasoningContent is the reasoning as llama.cpp, older vLLM and
	// DeepSeek name it.
	ReasoningContent string          `json:"reasoning_content"`
	ReasoningDetails json.RawMessage `json:"reasoning_details"`
	ToolCalls        []toolCallDelta `json:"tool_calls"`
}

type toolCallDelta struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type usage struct {
	PromptTokens        int64   `json:"prompt_tokens"`
	CompletionTokens    int64   `json:"completion_tokens"`
	Cost                float64 `json:"cost"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

// wireError is an error as OpenRouter reports it, in a response body or in a
// chunk.
type wireError struct {
	Code         json.RawMessage `json:"code"` // a number, or sometimes a string
	Message      string          `json:"message"`
	Metadata     map[string]any  `json:"metadata"`
	ErrorType    string          `json:"error_type"`
	Availability *availability   `json:"availability"`
}

// availability is the newer form of an error's cause.
type availability struct {
	Code       string  `json:"code"`
	Retryable  bool    `json:"retryable"`
	RetryAfter float64 `json:"retry_after"` // seconds
}

// agentboxUsage returns u as agentbox counts it.
func (u *usage) agentboxUsage() *agentbox.Usage {
	return &agentbox.Usage{
		PromptTokens:     u.PromptTokens,
		CompletionTokens: u.CompletionTokens,
		ReasoningTokens:  u.CompletionTokensDetails.ReasoningTokens,
		CachedTokens:     u.PromptTokensDetails.CachedTokens,
		Cost:             u.Cost,
	}
}
