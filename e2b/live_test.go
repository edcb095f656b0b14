package e2b_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
)

// TestLive runs against E2B's cloud, with E2B_API_KEY (and the other E2B_*
// variables) from the environment. It creates about twenty short-lived
// sandboxes.
func TestLive(t *testing.T) {
	cfg := e2b.FromEnv()
	if cfg.APIKey == "" && !cfg.Debug {
		t.Skip("E2B_API_KEY is not set: skipping the tests against E2B's cloud")
	}
	cfg.Lifetime = 2 * time.Minute
	cfg.Metadata = map[string]string{"agentbox-test": t.Name()}
	t.Run("Contract", func(t *testing.T) {
		agentboxtest.RunSandboxTests(t, func(t *testing.T) agentbox.Sandbox {
			sb, err := e2b.New(t.Context(), cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return sb
		})
	})
	t.Run("Preview", func(t *testing.T) {
		sb := newSandbox(t, cfg)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "site/index.html", Data: []byte("live preview\n")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "cd site && python3 -m http.server 8000"}); err != nil {
			t.Fatal(err)
		}
		url, err := sb.PreviewURL(ctx, 8000)
		if err != nil {
			t.Fatalf("PreviewURL: %v", err)
		}
		if body, err := get(ctx, http.DefaultClient, url); err != nil || body != "live preview\n" {
			t.Errorf("GET %s = %q, %v", url, body, err)
		}
	})
	t.Run("ConnectAndList", func(t *testing.T) {
		sb := newSandbox(t, cfg)
		infos, err := e2b.List(t.Context(), cfg, cfg.Metadata)
		found := false
		for _, info := range infos {
			found = found || info.ID == sb.ID()
		}
		if err != nil || !found {
			t.Errorf("List by metadata = %+v, %v; want %s among them", infos, err, sb.ID())
		}
		again, err := e2b.Connect(t.Context(), sb.ID(), cfg)
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		if res, err := again.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil || res.ExitCode != 0 {
			t.Errorf("Run after Connect = %+v, %v", res, err)
		}
	})
}
