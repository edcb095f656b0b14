package openaigo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openaigo"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// testKey is the key the tests' clients carry: not a real one.
const testKey = "sk-test-openaigo-0000000000000000000000000000000000000000"

// client returns an openai.Client for url, configured as a caller would:
// its key, and a middleware of its own.
func client(url string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(url),
		option.WithAPIKey(testKey),
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			r.Header.Set("X-Caller-Middleware", "yes")
			return next(r)
		}),
	}, opts...)...)
}

// newProvider returns a provider on a client of srv, with fast retries.
func newProvider(t *testing.T, srv *openroutertest.Server, cfg openrouter.Config) *openaigo.Provider {
	t.Helper()
	if cfg.Models == nil {
		cfg.Models = []string{"test/model"}
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Millisecond
	}
	p, err := openaigo.New(client(srv.URL), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stream streams one request and collects the response.
func stream(t *testing.T, p agentbox.Provider) (agentboxtest.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return agentboxtest.Collect(p.Stream(ctx, &agentbox.Request{Messages: []agentbox.Message{{Role: agentbox.RoleUser, Content: "Hi"}}}))
}

// transcript returns a recorded OpenRouter stream from openrouter/testdata.
func transcript(t *testing.T, name string) openroutertest.Response {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return openroutertest.Recorded(string(data))
}

// httpError returns a recorded error response from openrouter/testdata.
func httpError(t *testing.T, name string) openroutertest.Response {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "http_errors", name))
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

func providerError(t *testing.T, err error) *agentbox.ProviderError {
	t.Helper()
	var pe *agentbox.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not an *agentbox.ProviderError", err, err)
	}
	return pe
}

func TestProviderContract(t *testing.T) {
	agentboxtest.RunProviderTests(t, func(t *testing.T, steps ...agentboxtest.Step) agentboxtest.ProviderFixture {
		srv := openroutertest.NewServer(t, openroutertest.FromSteps(steps...)...)
		return agentboxtest.ProviderFixture{
			Provider: newProvider(t, srv, openrouter.Config{}),
			Requests: func() []agentbox.Request { return srv.AgentboxRequests(t) },
		}
	})
}

// TestTranscripts replays openrouter's recorded streams through a client.
func TestTranscripts(t *testing.T) {
	for _, tt := range []struct {
		file   string
		text   string
		calls  int
		finish agentbox.FinishReason
		kind   agentbox.ErrorKind // of the error, if one is expected
	}{
		{file: "text_stream.sse", text: "Hello! How can I help today?", finish: agentbox.FinishStop},
		{file: "crlf_keepalive.sse", text: "Hello, world", finish: agentbox.FinishStop},
		{file: "error_null.sse", text: "Fine", finish: agentbox.FinishStop},
		{file: "tool_call_stream.sse", text: "I'll check the weather.", calls: 1, finish: agentbox.FinishToolCalls},
		{file: "parallel_tool_calls.sse", calls: 2, finish: agentbox.FinishToolCalls},
		{file: "stop_with_tool_calls.sse", calls: 1, finish: agentbox.FinishStop},
		{file: "reasoning_stream.sse", text: "17 × 3 = 51.", finish: agentbox.FinishStop},
		{file: "mid_stream_error.sse", kind: agentbox.KindMidStream},
		{file: "choice_error.sse", text: "Partial", kind: agentbox.KindMidStream},
		{file: "finish_error_only.sse", text: "Partial", kind: agentbox.KindMidStream},
		{file: "truncated_tool_call.sse", calls: 1, kind: agentbox.KindTruncated}, // cut in its arguments
	} {
		t.Run(tt.file, func(t *testing.T) {
			srv := openroutertest.NewServer(t, transcript(t, tt.file))
			resp, err := stream(t, newProvider(t, srv, openrouter.Config{MaxRetries: -1}))
			if tt.kind != "" {
				if pe := providerError(t, err); pe.Kind != tt.kind || pe.Provider != "openai" {
					t.Errorf("error %v: kind %q, provider %q; want %q, openai", err, pe.Kind, pe.Provider, tt.kind)
				}
			} else if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if !strings.HasPrefix(resp.Text, tt.text) || resp.Finish != tt.finish || len(resp.Calls) != tt.calls {
				t.Errorf("text %q, finish %q, %d calls; want %q, %q, %d", resp.Text, resp.Finish, len(resp.Calls), tt.text, tt.finish, tt.calls)
			}
			for _, c := range resp.Calls {
				if tt.kind == "" && c.Arguments != "" && !json.Valid([]byte(c.Arguments)) {
					t.Errorf("call %s: arguments %q are not JSON", c.Name, c.Arguments)
				}
			}
		})
	}
}

func TestHTTPErrorsAreTyped(t *testing.T) {
	for _, tt := range []struct {
		file string
		kind agentbox.ErrorKind
	}{
		{"400_model_not_found.http", agentbox.KindModelNotFound},
		{"401_user_not_found.http", agentbox.KindAuth},
		{"402_insufficient_credits.http", agentbox.KindNoCredits},
		{"429_upstream_retry_after.http", agentbox.KindRateLimited},
		{"503_capacity.http", agentbox.KindUpstream},
	} {
		t.Run(tt.file, func(t *testing.T) {
			srv := openroutertest.NewServer(t, httpError(t, tt.file))
			_, err := stream(t, newProvider(t, srv, openrouter.Config{MaxRetries: -1}))
			if pe := providerError(t, err); pe.Kind != tt.kind || pe.StatusCode == 0 || !strings.HasPrefix(err.Error(), "openai: ") {
				t.Errorf("%v: kind %q, status %d; want %q", err, pe.Kind, pe.StatusCode, tt.kind)
			}
			if n := len(srv.ChatRequests()); n != 1 {
				t.Errorf("%d requests; want 1: the client's own retries are off", n)
			}
		})
	}
}

// TestThroughTheClient: requests carry what the client adds (its key, its
// middleware's headers) and the provider's attribution headers; retries
// and fallbacks are the provider's, reported.
func TestThroughTheClient(t *testing.T) {
	srv := openroutertest.NewServer(t,
		openroutertest.Status(502, `{"error":{"code":502,"message":"Provider returned error"}}`),
		openroutertest.Status(404, `{"error":{"code":404,"message":"No endpoints found"}}`),
		openroutertest.FromStep(agentboxtest.Reply("from b")),
	)
	p := newProvider(t, srv, openrouter.Config{Models: []string{"a/one", "b/two"}, MaxRetries: 1, Referer: "https://example.com", Title: "agentbox tests"})
	resp, err := stream(t, p)
	if err != nil || resp.Text != "from b" || len(resp.Warnings) != 2 {
		t.Fatalf("Stream = %q, %v, warnings %v; want the second model's answer after a retry and a fallback", resp.Text, err, resp.Warnings)
	}
	for i, r := range srv.Requests() {
		h := r.Header
		if h.Get("Authorization") != "Bearer "+testKey || h.Get("X-Caller-Middleware") != "yes" || h.Get("HTTP-Referer") != "https://example.com" || h.Get("X-Title") != "agentbox tests" || r.Path != "/api/v1/chat/completions" {
			t.Errorf("request %d to %s: headers %v", i, r.Path, h)
		}
	}
	srv.Models = []string{"a/one", "b/two"}
	if err := p.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
	if _, err := openaigo.New(client(srv.URL), openrouter.Config{APIKey: "sk"}); err == nil {
		t.Error("New took a key: the client has it")
	}
	if s := fmt.Sprintf("%v %+v %#v", p, p, p); strings.Contains(s, testKey) {
		t.Errorf("the provider prints the key: %s", s)
	}
}

// TestCredentialsNeverInErrors has servers echo what the client sent as
// credentials (a bearer token, Azure's api-key) in an error status and in
// the stream: no error may show them.
func TestCredentialsNeverInErrors(t *testing.T) {
	echo := func(r *http.Request) string {
		msg, _ := json.Marshal("bad credentials: " + r.Header.Get("Authorization") + r.Header.Get("Api-Key"))
		return string(msg)
	}
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"code":400,"message":%s,"metadata":{"raw":%s}}}`, echo(r), echo(r))
	}))
	defer status.Close()
	inStream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n")
		fmt.Fprintf(w, "data: {\"error\":{\"code\":502,\"message\":%s}}\n\n", echo(r))
	}))
	defer inStream.Close()
	const azureKey = "azure-key-0123456789abcdef"
	for _, c := range []openai.Client{
		client(status.URL), client(inStream.URL),
		openai.NewClient(option.WithBaseURL(status.URL), option.WithHeader("Api-Key", azureKey)),
	} {
		p, err := openaigo.New(c, openrouter.Config{Models: []string{"m"}, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stream(t, p)
		if pe := providerError(t, err); !strings.Contains(pe.Message, "bad credentials: ") || !strings.Contains(pe.Message, "[redacted]") {
			t.Errorf("error %v: want the server's message, the credentials redacted", err)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err), fmt.Sprint(providerError(t, err).Metadata)} {
			if strings.Contains(s, testKey) || strings.Contains(s, azureKey) {
				t.Errorf("an error shows a credential: %s", s)
			}
		}
	}
}

// TestTypicalImportsDoNotPullOpenAIGo: only this package compiles
// openai-go; what a typical program imports does not.
func TestTypicalImportsDoNotPullOpenAIGo(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	const module = "github.com/agentbox/agentbox"
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", module, module+"/openrouter", module+"/local", module+"/e2b", module+"/uistream").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/openai/") {
			t.Errorf("a typical program compiles %s", pkg)
		}
	}
	if !strings.Contains(string(out), module+"/openrouter\n") {
		t.Errorf("go list -deps did not list openrouter:\n%s", out)
	}
}
