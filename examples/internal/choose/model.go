package choose

import (
	"context"
	"fmt"
	"os"

	"github.com/agentbox/agentbox/openrouter"
)

// Live reports whether the environment names a live model:
// OPENROUTER_API_KEY for OpenRouter, or OPENROUTER_BASE_URL alone for
// another server (a local model server needs no key).
func Live() bool {
	return os.Getenv("OPENROUTER_API_KEY") != "" || os.Getenv("OPENROUTER_BASE_URL") != ""
}

// Model returns the provider of the live model the environment names
// (openrouter.FromEnv, titled title), and the configuration it was made
// with; a nil provider when it names none (see Live). The models are
// OPENROUTER_MODEL's; without it, def on OpenRouter, and on another server
// the first model it lists, which Model asks it for. A server that lists
// none is an error saying to set OPENROUTER_MODEL.
func Model(ctx context.Context, def, title string) (*openrouter.Provider, openrouter.Config, error) {
	cfg := openrouter.FromEnv()
	if !Live() {
		return nil, cfg, nil
	}
	cfg.Title = title
	if len(cfg.Models) == 0 && (cfg.BaseURL == "" || cfg.BaseURL == openrouter.DefaultBaseURL) {
		cfg.Models = []string{def}
	}
	p, err := openrouter.New(cfg)
	if err != nil {
		return nil, cfg, err
	}
	if len(cfg.Models) > 0 {
		return p, cfg, nil
	}
	models, err := p.Models(ctx)
	if err != nil {
		return nil, cfg, fmt.Errorf("asking %s for its models (set OPENROUTER_MODEL to skip it): %w", cfg.BaseURL, err)
	}
	if len(models) == 0 {
		return nil, cfg, fmt.Errorf("the server at %s lists no model: set OPENROUTER_MODEL, or load one (e.g. ollama pull llama3.2)", cfg.BaseURL)
	}
	cfg.Models = models[:1]
	p, err = openrouter.New(cfg)
	return p, cfg, err
}
