package agentbox_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
)

func TestEventsMarshalWithType(t *testing.T) {
	for _, tc := range []struct {
		ev   agentbox.Event
		want string
	}{
		{agentbox.Token{Step: 1, Text: "hi"}, `{"type":"token","step":1,"text":"hi"}`},
		{agentbox.Token{Step: 2, Text: "hmm", Reasoning: true}, `{"type":"token","step":2,"text":"hmm","reasoning":true}`},
		{agentbox.ToolInput{Step: 1, ID: "c1", Name: "read_file", Delta: `{"pa`}, `{"type":"tool_input","step":1,"id":"c1","name":"read_file","delta":"{\"pa"}`},
		{agentbox.Preview{Step: 3, ID: "c9", Port: 5173, URL: "http://127.0.0.1:5173"},
			`{"type":"preview","step":3,"id":"c9","port":5173,"url":"http://127.0.0.1:5173"}`},
		{agentbox.ToolStart{Step: 1, ID: "c1", Name: "read_file", Args: json.RawMessage(`{"path":"a"}`)},
			`{"type":"tool_start","step":1,"id":"c1","name":"read_file","args":{"path":"a"}}`},
		{agentbox.ToolStart{Step: 1, ID: "c2", Name: "x"}, `{"type":"tool_start","step":1,"id":"c2","name":"x","args":null}`},
		{agentbox.ToolOutput{Step: 1, ID: "c1", Stream: "stderr", Text: "warn\n"},
			`{"type":"tool_output","step":1,"id":"c1","stream":"stderr","text":"warn\n"}`},
		{agentbox.ToolResult{Step: 1, ID: "c1", Name: "run_command", Output: "ok", Duration: 1500 * time.Microsecond},
			`{"type":"tool_result","step":1,"id":"c1","name":"run_command","output":"ok","duration_ms":1.5}`},
		{agentbox.ToolResult{ID: "c1", Name: "x", Output: "Error: bad", Err: errors.New("bad")},
			`{"type":"tool_result","step":0,"id":"c1","name":"x","output":"Error: bad","error":"bad","duration_ms":0}`},
		{agentbox.Error{Err: errors.New("429, retrying"), Fatal: false}, `{"type":"error","error":"429, retrying","fatal":false}`},
		{agentbox.Done{Reason: agentbox.StopCanceled, Err: errors.New("context canceled"), Steps: 2,
			Usage:    agentbox.Usage{PromptTokens: 5, CompletionTokens: 7, ReasoningTokens: 2, CachedTokens: 1, Cost: 0.25},
			Messages: []agentbox.Message{{Role: agentbox.RoleUser, Content: "hi"}}, Elapsed: 2 * time.Second},
			`{"type":"done","reason":"canceled","usage":{"prompt_tokens":5,"completion_tokens":7,"reasoning_tokens":2,"cached_tokens":1,"cost":0.25},"steps":2,"messages":[{"role":"user","content":"hi"}],"error":"context canceled","elapsed_ms":2000}`},
	} {
		got, err := json.Marshal(tc.ev)
		if err != nil || string(got) != tc.want {
			t.Errorf("json.Marshal(%T) =\n%s, %v\nwant\n%s", tc.ev, got, err, tc.want)
		}
	}
}

func TestProviderErrorText(t *testing.T) {
	cause := errors.New("connection reset")
	for _, tc := range []struct {
		err  *agentbox.ProviderError
		want string
	}{
		{&agentbox.ProviderError{Provider: "openrouter", StatusCode: 429, Kind: agentbox.KindRateLimited, Message: "rate limited", Model: "m", RetryAfter: 3 * time.Second, Hint: "wait or add a fallback model"},
			"openrouter: 429 rate limited for m (retry after 3s): wait or add a fallback model"},
		{&agentbox.ProviderError{Kind: agentbox.KindTruncated}, "truncated"},
		{&agentbox.ProviderError{Provider: "p", Kind: agentbox.KindUpstream, Err: cause}, "p: connection reset"},
		{&agentbox.ProviderError{Kind: agentbox.KindModelNotFound, Model: "x/y"}, "model not found for x/y"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	if err := (&agentbox.ProviderError{Err: cause}); !errors.Is(err, cause) {
		t.Errorf("ProviderError does not unwrap to its cause")
	}
}

func TestUsageAdd(t *testing.T) {
	u := agentbox.Usage{PromptTokens: 1, CompletionTokens: 2, ReasoningTokens: 3, CachedTokens: 4, Cost: 0.5}
	u.Add(u)
	if want := (agentbox.Usage{PromptTokens: 2, CompletionTokens: 4, ReasoningTokens: 6, CachedTokens: 8, Cost: 1}); u != want || u.TotalTokens() != 6 {
		t.Errorf("Add: %+v, total %d", u, u.TotalTokens())
	}
}
