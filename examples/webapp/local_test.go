package main

import (
	"strings"
	"testing"

	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
)

// TestWithALocalModel serves the app with OPENROUTER_BASE_URL alone (a fake
// Ollama): a live model answers, with no key, and no model named.
func TestWithALocalModel(t *testing.T) {
	model := openroutertest.NewServer(t, openroutertest.FromStep(agentboxtest.Reply("Hello ", "from Ollama.")))
	model.Kind = openroutertest.Ollama
	model.Models = []string{"llama3.2:latest"}
	_, srv := startApp(t, map[string]string{"OPENROUTER_BASE_URL": model.URL})
	if cfg, err := get(t, srv.URL+"/api/config"); err != nil || !strings.Contains(cfg, `"live":true`) {
		t.Errorf("GET /api/config = %s, %v; want live", cfg, err)
	}
	var answer string
	for _, c := range chat(t, srv, userMessage("Hi")) {
		switch c["type"] {
		case "text-delta":
			answer += c["delta"].(string)
		case "error":
			t.Errorf("the chat failed: %v", c)
		}
	}
	if answer != "Hello from Ollama." {
		t.Errorf("answer %q, want the local model's", answer)
	}
	reqs := model.ChatRequests()
	if len(reqs) != 1 || reqs[0]["model"] != "llama3.2:latest" {
		t.Errorf("chat requests %v, want one for the server's model", reqs)
	}
}
