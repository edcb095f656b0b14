package openrouter_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox/openrouter"
)

// TestLive talks to the real OpenRouter, only with OPENROUTER_API_KEY set
// (OPENROUTER_MODEL picks the model; a :free one costs nothing).
func TestLive(t *testing.T) {
	if os.Getenv("OPENROUTER_API_KEY") == "" {
		t.Skip("OPENROUTER_API_KEY is not set: the live OpenRouter test is skipped")
	}
	cfg := openrouter.FromEnv()
	if len(cfg.Models) == 0 {
		cfg.Models = []string{"meta-llama/llama-3.3-8b-instruct:free"}
	}
	p, err := openrouter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := p.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	resp, err := stream(t, p)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if strings.TrimSpace(resp.Text) == "" || resp.Finish == "" {
		t.Errorf("a live answer: text %q, finish %q", resp.Text, resp.Finish)
	}
	t.Logf("%s answered %q; usage %+v; warnings %v", cfg.Models[0], resp.Text, resp.Usage, resp.Warnings)
}
