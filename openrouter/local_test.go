package openrouter_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"github.com/google/go-cmp/cmp"
)

// localProvider returns a provider for srv with no key, as a local model
// server is used.
func localProvider(t *testing.T, srv *openroutertest.Server, models ...string) *openrouter.Provider {
	t.Helper()
	p, err := openrouter.New(openrouter.Config{BaseURL: srv.URL, Models: models, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// localServers are the servers TestLocalServers runs against: each lists
// served, and the model asked for is asked.
var localServers = []struct {
	kind          openroutertest.Kind
	served, asked string
}{
	{openroutertest.Ollama, "llama3.2:latest", "llama3.2"}, // Ollama finds a model without its tag
	{openroutertest.VLLM, "meta-llama/Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct"},
	{openroutertest.LlamaCpp, "/models/Llama-3.2-3B-Instruct-Q4_K_M.gguf", "llama3.2"}, // any name is its one model
}

// TestCheckOnLocalServers checks models on servers that are not
// OpenRouter: no /key, their own /v1/models shapes, no key at all.
func TestCheckOnLocalServers(t *testing.T) {
	for _, tt := range localServers {
		t.Run(string(tt.kind), func(t *testing.T) {
			srv := openroutertest.NewServer(t)
			srv.Kind = tt.kind
			srv.Models = []string{tt.served, "qwen2.5-coder:7b"}
			if tt.kind == openroutertest.LlamaCpp {
				srv.Models = srv.Models[:1] // it serves one
			}
			if err := localProvider(t, srv, tt.asked).Check(t.Context()); err != nil {
				t.Errorf("Check(%s) on %s listing %s: %v", tt.asked, tt.kind, tt.served, err)
			}
			models, err := localProvider(t, srv).Models(t.Context())
			if err != nil || !slices.Contains(models, tt.served) {
				t.Errorf("Models = %q, %v; want %s among them", models, err, tt.served)
			}
			if tt.kind == openroutertest.LlamaCpp {
				return // serves anything asked
			}
			err = localProvider(t, srv, "mistral-nemo").Check(t.Context())
			pe := providerError(t, err)
			if pe.Kind != agentbox.KindModelNotFound || pe.Model != "mistral-nemo" || !strings.Contains(pe.Hint, "the server has "+tt.served) || strings.Contains(pe.Hint, "openrouter.ai") {
				t.Errorf("Check of a missing model: %v (kind %q), want model not found, with the models the server has", err, pe.Kind)
			}
		})
	}
}

// TestLocalServers streams a response with reasoning, text, two tool calls
// and usage from each local server, in its form: each tool call whole in
// one chunk, reasoning as reasoning_content or reasoning, usage only when
// asked for (the provider asks) and without a cost; then a model the
// server lacks.
func TestLocalServers(t *testing.T) {
	step := agentboxtest.Step{
		Reasoning: []string{"Two ", "files."},
		Text:      []string{"Writing ", "both."},
		Calls: []agentboxtest.Call{
			{ID: "call_1", Name: "write_file", Args: `{"path":"a.txt","content":"<a> & b"}`, Split: 5},
			{ID: "call_2", Name: "run_command", Args: `{"command":"cat a.txt"}`, Split: 4},
		},
		Usage: &agentbox.Usage{PromptTokens: 120, CompletionTokens: 17, Cost: 0.5},
	}
	wantCalls := []agentbox.ToolCall{
		{ID: "call_1", Name: "write_file", Arguments: `{"path":"a.txt","content":"<a> & b"}`},
		{ID: "call_2", Name: "run_command", Arguments: `{"command":"cat a.txt"}`},
	}
	for _, tt := range localServers {
		t.Run(string(tt.kind), func(t *testing.T) {
			srv := openroutertest.NewServer(t, openroutertest.FromStep(step), openroutertest.FromStep(agentboxtest.Reply("never")))
			srv.Kind = tt.kind
			srv.Models = []string{tt.served}
			resp, err := stream(t, localProvider(t, srv, tt.asked))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Reasoning != "Two files." || resp.Text != "Writing both." || resp.Finish != agentbox.FinishToolCalls {
				t.Errorf("reasoning %q, text %q, finish %q", resp.Reasoning, resp.Text, resp.Finish)
			}
			if diff := cmp.Diff(wantCalls, resp.Calls); diff != "" {
				t.Errorf("tool calls (-want +got):\n%s", diff)
			}
			if want := (&agentbox.Usage{PromptTokens: 120, CompletionTokens: 17}); !cmp.Equal(want, resp.Usage) {
				t.Errorf("usage %+v, want %+v (no cost)", resp.Usage, want)
			}
			whole := 0
			for _, c := range resp.Chunks {
				if len(c.ToolCalls) == 2 && c.ToolCalls[0].ID != "" && c.ToolCalls[1].ID != "" {
					whole++
				}
			}
			if whole != 1 {
				t.Errorf("%d chunks held both whole calls, want 1: the fake streams calls as %s does", whole, tt.kind)
			}
			if h := srv.Requests()[0].Header; h.Get("Authorization") != "" {
				t.Errorf("Authorization %q sent with no key", h.Get("Authorization"))
			}
			if tt.kind == openroutertest.LlamaCpp {
				return
			}
			_, err = stream(t, localProvider(t, srv, "mistral-nemo"))
			if pe := providerError(t, err); pe.Kind != agentbox.KindModelNotFound || pe.StatusCode != http.StatusNotFound || !strings.Contains(pe.Message, "mistral-nemo") {
				t.Errorf("a model %s lacks: %v (kind %q), want model not found with the server's message", tt.kind, err, pe.Kind)
			}
		})
	}
}

// TestLocalServerKey: vLLM and llama.cpp's server check a key when started
// with one (--api-key); a wrong one is an auth error, from Check and Stream.
func TestLocalServerKey(t *testing.T) {
	for _, kind := range []openroutertest.Kind{openroutertest.VLLM, openroutertest.LlamaCpp} {
		srv := openroutertest.NewServer(t, openroutertest.FromStep(agentboxtest.Reply("ok")))
		srv.Kind = kind
		srv.APIKey = "local-secret"
		srv.Models = []string{"m"}
		p, err := openrouter.New(openrouter.Config{BaseURL: srv.URL, APIKey: "wrong-secret", Models: []string{"m"}, Name: "local"})
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{p.Check(t.Context()), func() error { _, err := stream(t, p); return err }()} {
			if pe := providerError(t, err); pe.Kind != agentbox.KindAuth || pe.Provider != "local" || !strings.HasPrefix(err.Error(), "local: 401 ") {
				t.Errorf("%s with a wrong key: %v (kind %q, provider %q), want auth, named local", kind, err, pe.Kind, pe.Provider)
			}
		}
		p, err = openrouter.New(openrouter.Config{BaseURL: srv.URL, APIKey: "local-secret", Models: []string{"m"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Check(t.Context()); err != nil {
			t.Errorf("%s with its key: %v", kind, err)
		}
	}
}

// TestCheckModelListShapes reads the model lists of servers as they answer
// GET /v1/models: OpenAI's, Ollama's with no model (data null), llama.cpp's
// router mode (aliases, status), and a server without /models.
func TestCheckModelListShapes(t *testing.T) {
	for _, tt := range []struct {
		name, list string
		status     int
		ask        string
		found      bool
		models     []string
	}{
		{"openai", `{"object":"list","data":[{"id":"gpt-4.1","object":"model","created":1744316542,"owned_by":"system"},{"id":"gpt-4.1-mini","object":"model","created":1744317547,"owned_by":"system"}]}`, 200, "gpt-4.1-mini", true, []string{"gpt-4.1", "gpt-4.1-mini"}},
		{"openai, missing", `{"object":"list","data":[{"id":"gpt-4.1","object":"model","created":1744316542,"owned_by":"system"}]}`, 200, "gpt-5", false, []string{"gpt-4.1"}},
		{"ollama, none pulled", `{"object":"list","data":null}`, 200, "llama3.2", false, nil},
		{"ollama, a tag asked", `{"object":"list","data":[{"id":"qwen3:8b","object":"model","created":1767225600,"owned_by":"library"}]}`, 200, "qwen3:8b", true, []string{"qwen3:8b"}},
		{"ollama, another tag", `{"object":"list","data":[{"id":"qwen3:8b","object":"model","created":1767225600,"owned_by":"library"}]}`, 200, "qwen3", false, []string{"qwen3:8b"}},
		{"llama.cpp router", `{"object":"list","data":[{"id":"ggml-org/gemma-3-4b-it-GGUF:Q4_K_M","aliases":["gemma3"],"tags":[],"object":"model","owned_by":"llamacpp","created":1767225600,"status":{"value":"unloaded"}}]}`, 200, "gemma3", true, []string{"ggml-org/gemma-3-4b-it-GGUF:Q4_K_M", "gemma3"}},
		{"llama.cpp router, missing", `{"object":"list","data":[{"id":"a.gguf","aliases":[],"object":"model","owned_by":"llamacpp","created":1767225600,"status":{"value":"loaded"}}]}`, 200, "b", false, []string{"a.gguf"}},
		{"no /models", `{"detail":"Not Found"}`, 404, "anything", true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path != "/v1/models" {
					w.WriteHeader(http.StatusNotFound)
					w.Write([]byte(`{"error":{"message":"Invalid URL (GET /v1/key)","type":"invalid_request_error","param":null,"code":null}}`))
					return
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.list))
			}))
			defer srv.Close()
			p, err := openrouter.New(openrouter.Config{BaseURL: srv.URL + "/v1", Models: []string{tt.ask}})
			if err != nil {
				t.Fatal(err)
			}
			err = p.Check(t.Context())
			var pe *agentbox.ProviderError
			if found := err == nil; found != tt.found || (!found && (!errors.As(err, &pe) || pe.Kind != agentbox.KindModelNotFound)) {
				t.Errorf("Check(%s) = %v, want found %v", tt.ask, err, tt.found)
			}
			if models, err := p.Models(context.Background()); err != nil || !cmp.Equal(models, tt.models) {
				t.Errorf("Models = %q, %v; want %q", models, err, tt.models)
			}
		})
	}
}
