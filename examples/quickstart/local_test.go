package main

import (
	"strings"
	"testing"

	"github.com/agentbox/agentbox/examples/internal/replay"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
)

// TestQuickstartWithALocalModel gives the quickstart OPENROUTER_BASE_URL
// alone, for a local model server (a fake Ollama playing the session): no
// key, no model named. It asks the server's first model, live.
func TestQuickstartWithALocalModel(t *testing.T) {
	needNode(t)
	port, err := replay.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := openroutertest.NewServer(t, openroutertest.FromSteps(replay.Steps(port)...)...)
	srv.Kind = openroutertest.Ollama
	srv.Models = []string{"qwen3:8b", "llama3.2:latest"}
	t.Setenv("OPENROUTER_API_KEY", "")
	t.Setenv("OPENROUTER_BASE_URL", srv.URL)
	t.Setenv("OPENROUTER_MODEL", "")
	var out strings.Builder
	if err := quickstart(t.Context(), &out, defaultPrompt, false); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Live model: qwen3:8b on " + srv.URL, "    │ all checks passed\n", "The app answered at http://127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, r := range srv.Requests() {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("%s %s sent Authorization with no key", r.Method, r.Path)
		}
	}
	t.Setenv("OPENROUTER_MODEL", "mistral-nemo")
	out.Reset()
	if err := quickstart(t.Context(), &out, defaultPrompt, false); err == nil || !strings.Contains(err.Error(), "no such model for mistral-nemo") || !strings.Contains(err.Error(), "qwen3:8b") {
		t.Errorf("quickstart with a model the server lacks: %v, want the check's error naming the models it has", err)
	}
}
