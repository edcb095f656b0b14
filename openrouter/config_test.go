package openrouter_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"github.com/google/go-cmp/cmp"
)

func TestFromEnv(t *testing.T) {
	t.Setenv("OPENROUTER_API_KEY", testKey)
	t.Setenv("OPENROUTER_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENROUTER_MODEL", "a/one, b/two:free")
	want := openrouter.Config{APIKey: testKey, BaseURL: "http://127.0.0.1:1/v1", Models: []string{"a/one", "b/two:free"}}
	if diff := cmp.Diff(want, openrouter.FromEnv()); diff != "" {
		t.Errorf("FromEnv (-want +got):\n%s", diff)
	}
}

func TestNewNeedsAKeyForOpenRouter(t *testing.T) {
	if _, err := openrouter.New(openrouter.Config{}); err == nil || !strings.Contains(err.Error(), "OPENROUTER_API_KEY") {
		t.Errorf("New without a key: %v", err)
	}
	if _, err := openrouter.New(openrouter.Config{BaseURL: "http://127.0.0.1:8080/v1"}); err != nil {
		t.Errorf("New without a key for a local server: %v", err)
	}
}

func TestOpenAIEnvironmentChangesNothing(t *testing.T) {
	srv := openroutertest.NewServer(t, openroutertest.FromStep(agentboxtest.Reply("ok")))
	t.Setenv("OPENAI_API_KEY", "sk-openai-wrong")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENAI_ORG_ID", "org-leak")
	t.Setenv("OPENAI_PROJECT_ID", "proj-leak")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "X-Leak: yes")
	p := newProvider(t, srv, openrouter.Config{Referer: "https://example.com", Title: "agentbox tests"})
	if resp, err := stream(t, p); err != nil || resp.Text != "ok" {
		t.Fatalf("Stream = %q, %v", resp.Text, err)
	}
	h := srv.Requests()[0].Header
	if h.Get("Authorization") != "Bearer "+testKey {
		t.Errorf("Authorization = %q, want the configured key", h.Get("Authorization"))
	}
	for _, k := range []string{"OpenAI-Organization", "OpenAI-Project", "X-Leak"} {
		if v := h.Get(k); v != "" {
			t.Errorf("header %s = %q came from the environment", k, v)
		}
	}
	if h.Get("HTTP-Referer") != "https://example.com" || h.Get("X-Title") != "agentbox tests" {
		t.Errorf("attribution headers = %q, %q", h.Get("HTTP-Referer"), h.Get("X-Title"))
	}
}

func TestRequestExtras(t *testing.T) {
	srv := openroutertest.NewServer(t, openroutertest.FromStep(agentboxtest.Reply("ok")))
	allow := false
	p := newProvider(t, srv, openrouter.Config{
		Models:         []string{"a/one", "b/two"},
		ServerFallback: true,
		Routing:        &openrouter.Routing{Order: []string{"anthropic"}, AllowFallbacks: &allow},
		Reasoning:      &openrouter.Reasoning{Effort: "high"},
	})
	if _, err := stream(t, p); err != nil {
		t.Fatal(err)
	}
	r := srv.ChatRequests()[0]
	got := map[string]any{"models": r["models"], "provider": r["provider"], "reasoning": r["reasoning"], "stream": r["stream"]}
	want := map[string]any{
		"models":    []any{"a/one", "b/two"},
		"provider":  map[string]any{"order": []any{"anthropic"}, "allow_fallbacks": false},
		"reasoning": map[string]any{"effort": "high"},
		"stream":    true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request extras (-want +got):\n%s", diff)
	}
}

func TestCheck(t *testing.T) {
	srv := openroutertest.NewServer(t)
	srv.APIKey = testKey
	srv.Models = []string{"a/one", "b/two"}
	if err := newProvider(t, srv, openrouter.Config{Models: []string{"a/one", "b/two"}}).Check(t.Context()); err != nil {
		t.Errorf("Check with a good key and models: %v", err)
	}
	err := newProvider(t, srv, openrouter.Config{Models: []string{"a/one", "c/missing"}}).Check(t.Context())
	var pe *agentbox.ProviderError
	if !errors.As(err, &pe) || pe.Kind != agentbox.KindModelNotFound || pe.Model != "c/missing" {
		t.Errorf("Check with a missing model: %v", err)
	}
	srv.APIKey = "sk-or-another"
	err = newProvider(t, srv, openrouter.Config{}).Check(t.Context())
	if !errors.As(err, &pe) || pe.Kind != agentbox.KindAuth || pe.StatusCode != http.StatusUnauthorized {
		t.Errorf("Check with a bad key: %v", err)
	}
}
