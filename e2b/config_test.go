package e2b_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/internal/testkit"
)

func TestFromEnv(t *testing.T) {
	t.Setenv("E2B_API_KEY", "e2b_from_env_0000000000")
	t.Setenv("E2B_DOMAIN", "e2b.example.org")
	t.Setenv("E2B_API_URL", "https://api.internal:8443")
	t.Setenv("E2B_SANDBOX_URL", "https://sandbox.internal")
	t.Setenv("E2B_DEBUG", "true")
	want := e2b.Config{
		APIKey: "e2b_from_env_0000000000", Domain: "e2b.example.org", APIURL: "https://api.internal:8443",
		SandboxURL: "https://sandbox.internal", Debug: true,
	}
	got := e2b.FromEnv()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromEnv mismatch (-want +got):\n%s", diff)
	}
	if s := got.String(); strings.Contains(s, "e2b_from_env") || !strings.Contains(s, "APIKey: set") {
		t.Errorf("String() = %s, want the key left out", s)
	}
}

// TestDebugMode talks to a local envd, as the official SDKs do with
// E2B_DEBUG: no control plane call at all, envd at localhost:49983, previews
// at localhost:{port}.
func TestDebugMode(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{Debug: true})
	cfg := e2b.Config{Debug: true, HTTPClient: srv.DebugClient()} // no API key needed
	sb, err := e2b.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New in debug mode: %v", err)
	}
	if sb.ID() != e2b.DebugSandboxID {
		t.Errorf("ID() = %q, want %q", sb.ID(), e2b.DebugSandboxID)
	}
	var out strings.Builder
	if res, err := sb.Run(t.Context(), agentbox.Command{Cmd: "echo local envd", Stdout: &out}); err != nil || res.ExitCode != 0 || out.String() != "local envd\n" {
		t.Errorf("Run = %+v, %v, %q", res, err, out.String())
	}
	port := testkit.FreePort(t)
	if _, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: serverCommand(t, port)}); err != nil {
		t.Fatal(err)
	}
	url, err := sb.PreviewURL(t.Context(), port)
	if want := "http://localhost:" + itoa(port); err != nil || url != want {
		t.Errorf("PreviewURL = %q, %v; want %q", url, err, want)
	}
	if err := sb.SetLifetime(t.Context(), 0); err != nil {
		t.Errorf("SetLifetime in debug mode: %v, want nil (nothing to extend)", err)
	}
	if infos, err := e2b.List(t.Context(), cfg, nil); err != nil || len(infos) != 1 || infos[0].ID != e2b.DebugSandboxID {
		t.Errorf("List in debug mode = %+v, %v", infos, err)
	}
	if err := sb.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.Host != "localhost:49983" {
			t.Errorf("debug mode sent %s %s to %s, want only envd at localhost:49983", r.Method, r.Path, r.Host)
		}
	}
	if st := srv.Stats(); st.Alive != 1 || st.Killed != 0 {
		t.Errorf("after Close in debug mode the fake counts %+v: the local envd must stay", st)
	}
	// What the sandbox started did not.
	if body, err := get(t.Context(), srv.Client(), url); err == nil {
		t.Errorf("the server started in debug mode still answers after Close: %q", body)
	}
}

// TestSandboxURL routes envd requests to one address, with the sandbox
// chosen by the E2b-Sandbox-Id header (E2B_SANDBOX_URL).
func TestSandboxURL(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := e2b.Config{APIKey: srv.APIKey(), APIURL: srv.URL(), SandboxURL: srv.URL(), HTTPClient: srv.Client()}
	sb := newSandbox(t, cfg)
	var out strings.Builder
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "echo routed", Stdout: &out}); err != nil || out.String() != "routed\n" {
		t.Fatalf("Run through SandboxURL = %q, %v", out.String(), err)
	}
	host := strings.TrimPrefix(srv.URL(), "https://")
	for _, r := range srv.Requests() {
		if r.Host != host {
			t.Errorf("%s %s went to %s, want %s", r.Method, r.Path, r.Host, host)
		}
		if strings.HasPrefix(r.Path, "/process.") && (r.Header.Get("E2b-Sandbox-Id") != sb.ID() || r.Header.Get("E2b-Sandbox-Port") != "49983") {
			t.Errorf("%s lacks the routing headers: %v", r.Path, r.Header)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
