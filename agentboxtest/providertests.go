package agentboxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iter"
	"reflect"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/google/go-cmp/cmp"
)

// A ProviderFixture is a provider wired to a fake backend that replays steps.
type ProviderFixture struct {
	// Provider is the provider under test.
	Provider agentbox.Provider
	// Requests returns the requests the backend received, decoded back into
	// agentbox.Request.
	Requests func() []agentbox.Request
}

// RunProviderTests checks that a provider streams what its backend sends and
// sends the requests it is given.
//
// Each subtest calls setup with the steps it needs. setup must return a
// provider whose backend answers the i-th request with steps[i]: a fake
// server replays [Step.Chunks] in its wire format, stops after FailAfter
// chunks when Err or Hang is set, turns Err into an error (a response the
// provider does not retry) and, for Hang, waits until the client goes away.
// The fake server need not honour Delay and ChunkDelay.
func RunProviderTests(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	t.Helper()
	tests := []struct {
		name string
		test func(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture)
	}{
		{"Text", testText},
		{"Reasoning", testReasoning},
		{"ToolCalls", testToolCalls},
		{"Usage", testUsage},
		{"ErrorBeforeChunks", testErrorBeforeChunks},
		{"ErrorMidStream", testErrorMidStream},
		{"Cancel", testStreamCancel},
		{"EarlyBreak", testEarlyBreak},
		{"RequestRoundTrip", testRequestRoundTrip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, setup) })
	}
}

// errScripted is the error of failing steps.
var errScripted = errors.New("agentboxtest: scripted failure")

// simpleRequest returns a request with one user message.
func simpleRequest() *agentbox.Request {
	return &agentbox.Request{
		Model:    "agentboxtest/model",
		Messages: []agentbox.Message{{Role: agentbox.RoleUser, Content: "Hi"}},
	}
}

// A stream is what a provider streamed.
type stream struct {
	resp  Response
	err   error
	after int // how many times the sequence yielded after the error
}

// consume streams req from p, within the time tests have.
func consume(t *testing.T, p agentbox.Provider, req *agentbox.Request) stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	var (
		s      stream
		chunks []agentbox.Chunk
	)
	for c, err := range p.Stream(ctx, req) {
		switch {
		case s.err != nil:
			s.after++
		case err != nil:
			s.err = err
		default:
			chunks = append(chunks, c)
		}
	}
	s.resp, _ = Collect(replay(chunks))
	return s
}

// replay returns a sequence yielding chunks.
func replay(chunks []agentbox.Chunk) iter.Seq2[agentbox.Chunk, error] {
	return func(yield func(agentbox.Chunk, error) bool) {
		for _, c := range chunks {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// mustStream streams req from p and fails t on an error.
func mustStream(t *testing.T, p agentbox.Provider, req *agentbox.Request) Response {
	t.Helper()
	s := consume(t, p, req)
	if s.err != nil {
		t.Fatalf("Stream: %v (after %d chunks)", s.err, len(s.resp.Chunks))
	}
	if s.after > 0 {
		t.Errorf("Stream yielded %d times after the end", s.after)
	}
	return s.resp
}

func testText(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	fx := setup(t, Reply("Hel", "lo, ", "wor", "ld"))
	resp := mustStream(t, fx.Provider, simpleRequest())
	if resp.Text != "Hello, world" || resp.Finish != agentbox.FinishStop {
		t.Errorf("streamed text %q, finish %q; want %q, %q", resp.Text, resp.Finish, "Hello, world", agentbox.FinishStop)
	}
}

func testReasoning(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	fx := setup(t, Step{Reasoning: []string{"Let me ", "think", "."}, Text: []string{"Done."}})
	resp := mustStream(t, fx.Provider, simpleRequest())
	if resp.Reasoning != "Let me think." || resp.Text != "Done." {
		t.Errorf("streamed reasoning %q and text %q, want %q and %q", resp.Reasoning, resp.Text, "Let me think.", "Done.")
	}
}

func testToolCalls(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	want := []agentbox.ToolCall{
		{ID: "call_1", Name: "write_file", Arguments: `{"path":"a.txt","content":"héllo, wörld"}`},
		{ID: "call_2", Name: "run_command", Arguments: `{"cmd":"cat a.txt"}`},
	}
	var calls []Call
	for _, c := range want {
		calls = append(calls, Call{ID: c.ID, Name: c.Name, Args: c.Arguments, Split: 3})
	}
	fx := setup(t, Step{Text: []string{"Calling."}, Calls: calls})
	resp := mustStream(t, fx.Provider, simpleRequest())
	if diff := cmp.Diff(want, resp.Calls); diff != "" {
		t.Errorf("streamed tool calls mismatch (-want +got):\n%s", diff)
	}
	if resp.Finish != agentbox.FinishToolCalls {
		t.Errorf("finish reason %q, want %q", resp.Finish, agentbox.FinishToolCalls)
	}
}

func testUsage(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	want := &agentbox.Usage{PromptTokens: 120, CompletionTokens: 17, ReasoningTokens: 5, CachedTokens: 64, Cost: 0.00042}
	fx := setup(t, Step{Text: []string{"Hi"}, Usage: want})
	resp := mustStream(t, fx.Provider, simpleRequest())
	if diff := cmp.Diff(want, resp.Usage); diff != "" {
		t.Errorf("last usage mismatch (-want +got):\n%s", diff)
	}
}

func testErrorBeforeChunks(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	fx := setup(t, Step{Text: []string{"never"}, Err: errScripted})
	s := consume(t, fx.Provider, simpleRequest())
	if s.err == nil || len(s.resp.Chunks) > 0 || s.after > 0 {
		t.Errorf("a failing response streamed %d chunks, then error %v, then %d more yields; want no chunks and an error", len(s.resp.Chunks), s.err, s.after)
	}
}

func testErrorMidStream(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	fx := setup(t, Step{Text: []string{"a", "b", "c"}, Err: errScripted, FailAfter: 2})
	s := consume(t, fx.Provider, simpleRequest())
	if s.err == nil || s.resp.Text != "ab" || s.after > 0 {
		t.Errorf("a response failing after 2 chunks streamed text %q, then error %v, then %d more yields; want %q and an error", s.resp.Text, s.err, s.after, "ab")
	}
}

func testStreamCancel(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	fx := setup(t, Step{Text: []string{"a"}, Hang: true, FailAfter: 1})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for c, err := range fx.Provider.Stream(ctx, simpleRequest()) {
			if err != nil {
				r.err = err
				break
			}
			r.text += c.Text
			cancel()
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.text != "a" || !errors.Is(r.err, context.Canceled) {
			t.Errorf("a response cancelled after its first chunk streamed %q and error %v, want %q and an error matching context.Canceled", r.text, r.err, "a")
		}
	case <-time.After(patience):
		t.Fatalf("a response cancelled after its first chunk did not end in %v", patience)
	}
}

func testEarlyBreak(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	fx := setup(t, Reply("one", "two", "three"), Reply("second"))
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	for _, err := range fx.Provider.Stream(ctx, simpleRequest()) {
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		break
	}
	if resp := mustStream(t, fx.Provider, simpleRequest()); resp.Text != "second" {
		t.Errorf("after a stream left early, the next streamed %q, want %q", resp.Text, "second")
	}
}

func testRequestRoundTrip(t *testing.T, setup func(t *testing.T, steps ...Step) ProviderFixture) {
	req := &agentbox.Request{
		Model:     "agentboxtest/model",
		System:    "You are a careful engineer.",
		MaxTokens: 1000,
		Messages: []agentbox.Message{
			{Role: agentbox.RoleUser, Content: "Write a.txt and b.txt."},
			{
				Role:    agentbox.RoleAssistant,
				Content: "Writing both.",
				ToolCalls: []agentbox.ToolCall{
					{ID: "call_1", Name: "write_file", Arguments: `{"path":"a.txt","content":"a"}`},
					{ID: "call_2", Name: "write_file", Arguments: `{"path":"b.txt","content":"b"}`},
				},
				ReasoningDetails: json.RawMessage(`[{"type":"reasoning.text","text":"Two files.","format":"unknown","index":0}]`),
			},
			{Role: agentbox.RoleTool, ToolCallID: "call_1", Name: "write_file", Content: "wrote a.txt"},
			{Role: agentbox.RoleTool, ToolCallID: "call_2", Name: "write_file", Content: "wrote b.txt"},
		},
		Tools: []agentbox.ToolSpec{{
			Name:        "write_file",
			Description: "Writes a whole file.",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"required":["path","content"],"additionalProperties":false}`),
		}},
	}
	want := normalize(*req)
	fx := setup(t, Reply("ok"))
	mustStream(t, fx.Provider, req)
	reqs := fx.Requests()
	if len(reqs) != 1 {
		t.Fatalf("the backend received %d requests, want 1", len(reqs))
	}
	if diff := cmp.Diff(want, normalize(reqs[0]), cmp.Comparer(jsonEqual)); diff != "" {
		t.Errorf("request mismatch (-sent +received):\n%s", diff)
	}
}

// normalize returns a copy of r without what wire formats may drop: the Name
// of tool messages, and empty lists of tool calls.
func normalize(r agentbox.Request) agentbox.Request {
	r = copyRequest(r)
	for i, m := range r.Messages {
		if m.Role == agentbox.RoleTool {
			r.Messages[i].Name = ""
		}
		if len(m.ToolCalls) == 0 {
			r.Messages[i].ToolCalls = nil
		}
	}
	return r
}

// jsonEqual reports whether a and b are the same JSON value; texts that are
// not JSON must be equal.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}
