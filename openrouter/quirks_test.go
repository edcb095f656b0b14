package openrouter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"github.com/google/go-cmp/cmp"
)

// transcript returns a recorded SSE body from testdata.
func transcript(t *testing.T, name string) openroutertest.Response {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return openroutertest.Recorded(string(data))
}

// httpError returns a recorded error response from testdata/http_errors.
func httpError(t *testing.T, name string) openroutertest.Response {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "http_errors", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resp, err := http.ReadResponse(bufio.NewReader(f), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Header.Del("Content-Length")
	return openroutertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// stream streams one request and collects the response.
func stream(t *testing.T, p agentbox.Provider) (agentboxtest.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return agentboxtest.Collect(p.Stream(ctx, &agentbox.Request{Messages: []agentbox.Message{{Role: agentbox.RoleUser, Content: "Hi"}}}))
}

// providerError returns err as a ProviderError, failing t when it is not one.
func providerError(t *testing.T, err error) *agentbox.ProviderError {
	t.Helper()
	var pe *agentbox.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not an *agentbox.ProviderError", err, err)
	}
	return pe
}

func TestTranscripts(t *testing.T) {
	for _, tt := range []struct {
		file   string
		text   string
		calls  []agentbox.ToolCall
		finish agentbox.FinishReason
		usage  bool
	}{
		{file: "text_stream.sse", text: "Hello! How can I help today?", finish: agentbox.FinishStop, usage: true},
		{file: "crlf_keepalive.sse", text: "Hello, world", finish: agentbox.FinishStop, usage: true}, // quirks 3, 10
		{file: "error_null.sse", text: "Fine", finish: agentbox.FinishStop},                          // quirk 1
		{file: "tool_call_stream.sse", text: "I'll check the weather.", finish: agentbox.FinishToolCalls, usage: true, // quirk 4
			calls: []agentbox.ToolCall{{ID: "toolu_01A09q90qw90lq917835lq9", Name: "get_weather", Arguments: `{"location": "Paris, France", "unit": "celsius"}`}}},
		{file: "stop_with_tool_calls.sse", finish: agentbox.FinishStop, usage: true, // quirks 6, 7
			calls: []agentbox.ToolCall{{ID: "call_s1", Name: "list_files", Arguments: ""}}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			srv := openroutertest.NewServer(t, transcript(t, tt.file))
			resp, err := stream(t, newProvider(t, srv, openrouter.Config{}))
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if resp.Text != tt.text || resp.Finish != tt.finish || (resp.Usage != nil) != tt.usage {
				t.Errorf("text %q, finish %q, usage %+v; want %q, %q, usage %v", resp.Text, resp.Finish, resp.Usage, tt.text, tt.finish, tt.usage)
			}
			if diff := cmp.Diff(tt.calls, resp.Calls); diff != "" {
				t.Errorf("tool calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParallelToolCalls(t *testing.T) {
	srv := openroutertest.NewServer(t, transcript(t, "parallel_tool_calls.sse"))
	resp, err := stream(t, newProvider(t, srv, openrouter.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Calls) != 2 || resp.Calls[0].Name == "" || resp.Calls[1].Name == "" || resp.Calls[0].ID == resp.Calls[1].ID {
		t.Fatalf("calls = %+v, want two distinct calls", resp.Calls)
	}
	for _, c := range resp.Calls {
		if !json.Valid([]byte(c.Arguments)) {
			t.Errorf("call %s arguments %q are not JSON", c.Name, c.Arguments)
		}
	}
}

func TestMidStreamErrors(t *testing.T) { // quirk 1
	for _, tt := range []struct {
		file, text, code string
	}{
		{"mid_stream_error.sse", "", "502"},
		{"choice_error.sse", "Partial", "502"},
		{"finish_error_only.sse", "Partial", ""},
	} {
		t.Run(tt.file, func(t *testing.T) {
			srv := openroutertest.NewServer(t, transcript(t, tt.file))
			resp, err := stream(t, newProvider(t, srv, openrouter.Config{MaxRetries: -1}))
			pe := providerError(t, err)
			if pe.Kind != agentbox.KindMidStream || pe.Code != tt.code {
				t.Errorf("error %v: kind %q, code %q; want %q, %q", err, pe.Kind, pe.Code, agentbox.KindMidStream, tt.code)
			}
			if tt.text != "" && resp.Text != tt.text {
				t.Errorf("text before the error = %q, want %q", resp.Text, tt.text)
			}
		})
	}
}

func TestTruncatedStreamIsAnError(t *testing.T) { // quirk 2
	srv := openroutertest.NewServer(t, transcript(t, "truncated_tool_call.sse"))
	resp, err := stream(t, newProvider(t, srv, openrouter.Config{MaxRetries: -1}))
	if pe := providerError(t, err); pe.Kind != agentbox.KindTruncated {
		t.Errorf("error %v: kind %q, want truncated", err, pe.Kind)
	}
	if resp.Finish != "" {
		t.Errorf("a truncated stream finished with %q", resp.Finish)
	}
}

func TestReasoningDetailsAreMerged(t *testing.T) { // quirk 8
	srv := openroutertest.NewServer(t, transcript(t, "reasoning_stream.sse"))
	resp, err := stream(t, newProvider(t, srv, openrouter.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Reasoning != "The user asks for 17*3. 17*3 = 51." || resp.Text != "17 × 3 = 51." {
		t.Errorf("reasoning %q, text %q", resp.Reasoning, resp.Text)
	}
	var details []map[string]any
	if err := json.Unmarshal(resp.ReasoningDetails, &details); err != nil || len(details) != 1 {
		t.Fatalf("reasoning details %s: %v", resp.ReasoningDetails, err)
	}
	if details[0]["text"] != "The user asks for 17*3. 17*3 = 51." || details[0]["signature"] != "EqQBCkYIBxgCKkBexamplesignature" || details[0]["format"] != "anthropic-claude-v1" {
		t.Errorf("merged details = %v", details[0])
	}
}
