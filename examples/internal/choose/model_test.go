package choose_test

import (
	"strings"
	"testing"

	"github.com/agentbox/agentbox/examples/internal/choose"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
)

// setEnv sets the variables choose.Model reads.
func setEnv(t *testing.T, key, baseURL, model string) {
	t.Setenv("OPENROUTER_API_KEY", key)
	t.Setenv("OPENROUTER_BASE_URL", baseURL)
	t.Setenv("OPENROUTER_MODEL", model)
}

func TestModel(t *testing.T) {
	ollama := openroutertest.NewServer(t)
	ollama.Kind = openroutertest.Ollama
	ollama.Models = []string{"qwen3:8b", "llama3.2:latest"}
	empty := openroutertest.NewServer(t)
	empty.Kind = openroutertest.Ollama
	for _, tt := range []struct {
		name                string
		key, baseURL, model string
		live                bool
		models              string // the models the provider asks, or the error's start
		base                string
	}{
		{name: "nothing set: the recording"},
		{name: "OpenRouter with its key", key: "sk-or-test", live: true, models: "anthropic/claude-sonnet-4.5"},
		{name: "OpenRouter, a model named", key: "sk-or-test", model: "a/one,b/two:free", live: true, models: "a/one b/two:free"},
		{name: "a base URL alone: its first model", baseURL: ollama.URL, live: true, models: "qwen3:8b", base: ollama.URL},
		{name: "a base URL and a model", baseURL: ollama.URL, model: "llama3.2", live: true, models: "llama3.2", base: ollama.URL},
		{name: "a server with no model", baseURL: empty.URL, live: true, models: "the server at " + empty.URL + " lists no model: set OPENROUTER_MODEL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.key, tt.baseURL, tt.model)
			if choose.Live() != tt.live {
				t.Errorf("Live() = %v, want %v", choose.Live(), tt.live)
			}
			p, cfg, err := choose.Model(t.Context(), "anthropic/claude-sonnet-4.5", "test")
			switch {
			case !tt.live:
				if p != nil || err != nil {
					t.Errorf("Model = %v, %v; want no provider", p, err)
				}
			case strings.HasPrefix(tt.models, "the server"):
				if err == nil || !strings.HasPrefix(err.Error(), tt.models) {
					t.Errorf("Model: %v, want an error starting %q", err, tt.models)
				}
			default:
				if err != nil || p == nil || strings.Join(cfg.Models, " ") != tt.models || cfg.BaseURL != tt.base || cfg.Title != "test" {
					t.Errorf("Model = %v, models %q on %q, %v; want models %q on %q", p, cfg.Models, cfg.BaseURL, err, tt.models, tt.base)
				}
			}
		})
	}
	// The provider found on Ollama passes its check: no key, the model's
	// tag left out.
	setEnv(t, "", ollama.URL, "llama3.2")
	p, _, err := choose.Model(t.Context(), "unused", "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(t.Context()); err != nil {
		t.Errorf("Check on Ollama: %v", err)
	}
}
