package agentbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
)

// A Provider streams model responses.
//
// Stream sends one request and yields the response as it arrives. The sequence
// ends after the chunk carrying the finish reason (usage may follow it), or
// with a non-nil error, after which nothing more is yielded. Errors reported
// after some chunks were yielded mean the response is incomplete: the agent
// discards that step. Implementations must stop promptly when ctx is done, and
// must release everything they hold when the consumer stops iterating early.
//
// Retries and model fallbacks are the provider's business; it reports each one
// to the caller as a [Chunk] with a Warning, which the agent turns into a
// non-fatal [Error] event.
type Provider interface {
	Stream(ctx context.Context, req *Request) iter.Seq2[Chunk, error]
}

// A Request is one call to the model.
type Request struct {
	// Model names the model, e.g. "anthropic/claude-sonnet-4.5". Empty means
	// the provider's configured default.
	Model string
	// System is the system prompt, sent before Messages.
	System string
	// Messages is the conversation so far, oldest first.
	Messages []Message
	// Tools are the tools the model may call.
	Tools []ToolSpec
	// MaxTokens caps the length of the response; 0 leaves it to the provider.
	MaxTokens int
	// Temperature, when non-nil, sets the sampling temperature.
	Temperature *float64
}

// Role is the author of a [Message].
type Role string

// The roles of a conversation.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// A Message is one turn of the conversation.
type Message struct {
	Role Role `json:"role"`
	// Content is the text of the turn: the user's prompt, the model's answer,
	// or the result of a tool call.
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID and Name identify the call a tool turn answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	Name       string `json:"name,omitempty"`
	// Reasoning is the model's visible reasoning on an assistant turn.
	Reasoning string `json:"reasoning,omitempty"`
	// ReasoningDetails is the provider's opaque record of the reasoning; some
	// models require it back on the turn that made tool calls.
	ReasoningDetails json.RawMessage `json:"reasoning_details,omitempty"`
}

// A ToolCall is a complete call of a tool by the model.
type ToolCall struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Arguments is the JSON text the model wrote. On an assistant message the
	// agent keeps it as received; tools get it normalised ("" becomes "{}").
	Arguments string `json:"arguments"`
}

// A ToolSpec describes a tool to the model.
type ToolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Parameters is the JSON Schema of the arguments object.
	Parameters json.RawMessage `json:"parameters"`
}

// A Chunk is one piece of a streamed response. Any combination of its fields
// may be set.
type Chunk struct {
	// Text is a piece of the answer.
	Text string
	// Reasoning is a piece of the model's visible reasoning.
	Reasoning string
	// ReasoningDetails, when set, replaces the step's opaque reasoning record.
	ReasoningDetails json.RawMessage
	// ToolCalls are pieces of tool calls, keyed by Index: the first piece of a
	// call usually has its ID and Name, and Arguments are split anywhere.
	ToolCalls []ToolCallDelta
	// Usage, when non-nil, is the usage of the whole response so far; the
	// last one of a step counts.
	Usage *Usage
	// FinishReason, when set, says why the response ended.
	FinishReason FinishReason
	// Warning is a non-fatal problem the provider recovered from, such as a
	// retry after a 429 or a fallback to another model; a retry matches
	// [ErrRetrying], a fallback [ErrFallingBack].
	Warning error
	// Model, when set, is the model that answers, as the provider names it:
	// after a fallback, another than the one asked for.
	Model string
}

// The warnings of providers ([Chunk].Warning) match these, by what the
// provider did.
var (
	// ErrRetrying: the provider sends the request again, after the error
	// the warning wraps.
	ErrRetrying = errors.New("retrying")
	// ErrFallingBack: the provider asks the next model, after the error the
	// warning wraps.
	ErrFallingBack = errors.New("falling back to another model")
)

// A ToolCallDelta is a piece of a streamed tool call.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// FinishReason says why a model response ended.
type FinishReason string

// The finish reasons of the OpenAI chat completions protocol.
const (
	FinishStop          FinishReason = "stop"
	FinishLength        FinishReason = "length"
	FinishToolCalls     FinishReason = "tool_calls"
	FinishContentFilter FinishReason = "content_filter"
	FinishError         FinishReason = "error"
)

// Usage counts tokens and cost.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	// ReasoningTokens and CachedTokens are parts of CompletionTokens and
	// PromptTokens respectively.
	ReasoningTokens int64 `json:"reasoning_tokens,omitempty"`
	CachedTokens    int64 `json:"cached_tokens,omitempty"`
	// Cost is in US dollars, when the provider reports it.
	Cost float64 `json:"cost,omitempty"`
}

// TotalTokens is the sum of prompt and completion tokens.
func (u Usage) TotalTokens() int64 { return u.PromptTokens + u.CompletionTokens }

// String says what the usage is in words: "1200 in, 85 out tokens", with
// the cost when there is one ("…, $0.0031").
func (u Usage) String() string {
	s := strconv.FormatInt(u.PromptTokens, 10) + " in, " + strconv.FormatInt(u.CompletionTokens, 10) + " out tokens"
	if u.Cost > 0 {
		s += ", $" + strconv.FormatFloat(u.Cost, 'f', -1, 64)
	}
	return s
}

// Add adds v to u.
func (u *Usage) Add(v Usage) {
	u.PromptTokens += v.PromptTokens
	u.CompletionTokens += v.CompletionTokens
	u.ReasoningTokens += v.ReasoningTokens
	u.CachedTokens += v.CachedTokens
	u.Cost += v.Cost
}

// ErrorKind classifies an error at one of the library's boundaries, from a
// model provider (a [ProviderError]) or a sandbox service (such as an
// *e2b.Error), so that callers can react without parsing messages or
// knowing which package failed. [KindOf] finds the kind of any error.
type ErrorKind string

// The kinds of boundary errors. Most come from providers; KindAuth,
// KindRateLimited, KindTimeout and KindUpstream also describe sandbox
// services, and KindSandboxGone, KindNotFound and KindPaused only them.
const (
	KindUnknown        ErrorKind = "unknown"
	KindBadRequest     ErrorKind = "bad_request"     // 400 other than an unknown model
	KindAuth           ErrorKind = "auth"            // 401/403: the key or token is missing, wrong or disabled
	KindNoCredits      ErrorKind = "no_credits"      // 402: the balance does not cover the request
	KindModeration     ErrorKind = "moderation"      // 403: the input was flagged
	KindModelNotFound  ErrorKind = "model_not_found" // 400/404: no such model, or no endpoint serves the request
	KindTimeout        ErrorKind = "timeout"         // 408, the provider timed out, or a command ran past its Timeout ([ErrTimeout])
	KindRateLimited    ErrorKind = "rate_limited"    // 429 that clears after a delay (a sandbox service's quota of sandboxes, too)
	KindQuotaExhausted ErrorKind = "quota_exhausted" // 429 from a daily cap: retrying now is futile
	KindUpstream       ErrorKind = "upstream"        // 5xx: the provider behind the gateway, or the sandbox service, failed
	KindTruncated      ErrorKind = "truncated"       // the stream ended without finishing
	KindMidStream      ErrorKind = "mid_stream"      // the provider reported an error during the stream
	KindSandboxGone    ErrorKind = "sandbox_gone"    // the sandbox died, expired or was deleted ([ErrSandboxGone])
	KindNotFound       ErrorKind = "not_found"       // a file or process in the sandbox does not exist ([io/fs.ErrNotExist])
	KindPaused         ErrorKind = "paused"          // the sandbox is paused and could not be resumed
)

// A ProviderError is the one error type providers return, so that a caller can
// tell an exhausted balance from a missing model from a rate limit.
type ProviderError struct {
	Provider   string         // the provider's name, e.g. "openrouter"
	Kind       ErrorKind      // the classification
	StatusCode int            // the HTTP status, 0 when there was none
	Code       string         // the provider's own error code, if any
	Message    string         // what the provider said
	Model      string         // the model the request was for
	Metadata   map[string]any // the provider's extra details, if any
	Retryable  bool           // whether the same request may succeed later
	RetryAfter time.Duration  // how long to wait before retrying, when known
	Hint       string         // what to do about it
	Err        error          // the underlying error, if any
}

// Error returns one line saying what happened and what to do, e.g.
// "openrouter: 402 insufficient credits for some/model: add credits".
func (e *ProviderError) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider)
		b.WriteString(": ")
	}
	if e.StatusCode != 0 {
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteByte(' ')
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg == "" {
		msg = strings.ReplaceAll(string(e.Kind), "_", " ")
	}
	b.WriteString(msg)
	if e.Model != "" {
		b.WriteString(" for ")
		b.WriteString(e.Model)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ProviderError) Unwrap() error { return e.Err }

// ErrorKind returns e.Kind, for [KindOf].
func (e *ProviderError) ErrorKind() ErrorKind { return e.Kind }
