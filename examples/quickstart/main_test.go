package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/examples/internal/replay"
	"github.com/agentbox/agentbox/local"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// needNode skips t when Node.js is not installed, but in CI, where it must be.
func needNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node is not installed, and CI must run the quickstart: %v", err)
		}
		t.Skipf("the recorded session runs Node.js, and node is not installed: %v", err)
	}
}

// request sends a request to url and returns the body of the answer.
func request(t *testing.T, method, url string) string {
	t.Helper()
	return requestWith(t, http.DefaultClient, method, url)
}

// requestWith is request with the given client.
func requestWith(t *testing.T, client *http.Client, method, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s, %q, %v", method, url, resp.Status, body, err)
	}
	return string(body)
}

func TestQuickstartBuildsAndServesTheApp(t *testing.T) {
	needNode(t)
	ctx := t.Context()
	sb, err := local.New(ctx, local.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	port, err := replay.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	got, err := run(ctx, &out, agentboxtest.NewProvider(replay.Steps(port)...), sb, defaultPrompt, true)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, name := range replay.Files {
		if data, err := os.ReadFile(filepath.Join(sb.Dir(), name)); err != nil || string(data) != replay.File(name) {
			t.Errorf("%s in the workspace = %q, %v; want the app's file", name, data, err)
		}
	}
	for _, want := range []string{
		"  ▶ write_file index.html, server.js, test.js\n",
		"  ✓ write_file ok (",
		"  ▶ run_command $ node test.js\n",
		"    │ ✓ GET / serves the counter page\n",
		"    │ ✓ POST /api/increment counts 1, 2\n",
		"    │ all checks passed\n",
		"  ✓ run_command ok (",
		"    │ counter app listening on port ",
		"  ✓ start_process ok (",
		"completed: 4 steps, 3 tool calls, 10543 tokens,",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The server runs: the page is served and the count kept.
	if got.url == "" {
		t.Fatalf("run gave no URL:\n%s", out.String())
	}
	if page := request(t, "GET", got.url+"/"); !strings.Contains(page, `<button id="add">+1</button>`) {
		t.Errorf("GET / = %q, want the counter page", page)
	}
	if count := request(t, "POST", got.url+"/api/increment"); count != `{"count":1}` {
		t.Errorf("POST /api/increment = %q, want {\"count\":1}", count)
	}
	if err := sb.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(got.url); err == nil {
		t.Errorf("the app still answers at %s after the sandbox closed", got.url)
	}
}

func TestQuickstartReportsTheURL(t *testing.T) {
	needNode(t)
	t.Setenv("OPENROUTER_API_KEY", "")
	var out strings.Builder
	if err := quickstart(t.Context(), &out, "another prompt", false); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out.String())
	}
	for _, want := range []string{"replaying a recorded session", "your own needs a live model", "Sandbox: local sandbox ", "The app answered at http://127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestQuickstartFailsWhenAStepFails(t *testing.T) {
	// The in-memory sandbox has no node: the check command fails, and a
	// recorded session cannot react to that.
	sb := agentboxtest.NewSandbox()
	var out strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := run(ctx, &out, agentboxtest.NewProvider(replay.Steps(4000)...), sb, defaultPrompt, true)
	if err == nil || !strings.Contains(err.Error(), "run_command: exit code 127") {
		t.Errorf("run with no node = %v, want an error naming the failed command\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "  ✗ run_command failed: exit code 127 (") {
		t.Errorf("output does not show the failed command:\n%s", out.String())
	}
}

func TestQuickstartWithALiveModel(t *testing.T) {
	needNode(t)
	port, err := replay.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// A fake OpenRouter plays the live model.
	srv := openroutertest.NewServer(t, openroutertest.FromSteps(replay.Steps(port)...)...)
	srv.APIKey = "sk-or-v1-quickstart-test"
	srv.Models = []string{"test/model"}
	t.Setenv("OPENROUTER_API_KEY", srv.APIKey)
	t.Setenv("OPENROUTER_BASE_URL", srv.URL)
	t.Setenv("OPENROUTER_MODEL", "test/model")
	var out strings.Builder
	if err := quickstart(t.Context(), &out, defaultPrompt, false); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Live model: test/model on " + srv.URL, "    │ all checks passed\n", "The app answered at http://127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Setenv("OPENROUTER_API_KEY", "sk-or-v1-wrong")
	out.Reset()
	if err := quickstart(t.Context(), &out, defaultPrompt, false); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("quickstart with a bad key: %v, want the 401 from the check", err)
	}
}

// TestQuickstartOnE2B runs the recorded session in an E2B sandbox (the
// fake): the app is served at its preview URL, and the sandbox is killed.
func TestQuickstartOnE2B(t *testing.T) {
	needNode(t)
	ctx := t.Context()
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb, err := e2b.New(ctx, srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	port, err := replay.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	got, err := run(ctx, &out, agentboxtest.NewProvider(replay.Steps(port)...), sb, defaultPrompt, true)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if want := fmt.Sprintf("https://%d-%s.%s", port, sb.ID(), e2btest.Domain); got.url != want {
		t.Errorf("the app's URL = %q, want its preview URL %q", got.url, want)
	}
	if page := requestWith(t, srv.Client(), http.MethodGet, got.url); !strings.Contains(page, "<button") {
		t.Errorf("GET %s = %q, want the counter page", got.url, page)
	}
	if err := sb.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Alive != 0 {
		t.Errorf("the fake counts %+v after Close, want none alive", st)
	}
}

func TestPrinterShowsFailures(t *testing.T) {
	var out strings.Builder
	p := printer{w: &out}
	for _, ev := range []agentbox.ToolResult{
		{Name: "write_file", Output: "Error: invalid arguments: missing required property \"files\"", Err: fmt.Errorf("%w: missing required property \"files\"", agentbox.ErrInvalidArguments)},
		{Name: "run_command", Output: "[exit code 1]", Exit: &agentbox.Exit{Code: 1}},
		{Name: "run_command", Output: "Error: the command was killed after 2s", Err: errors.New("the command was killed after 2s"), Exit: &agentbox.Exit{Code: -1, Killed: true, TimedOut: true}},
		{Name: "run_command", Output: "[exit code 0]", Exit: &agentbox.Exit{}},
	} {
		p.print(ev)
	}
	want := "  ✗ write_file failed: invalid arguments: missing required property \"files\" (0s)\n" +
		"  ✗ run_command failed: exit code 1 (0s)\n" +
		"  ✗ run_command failed: the command was killed after 2s (0s)\n" +
		"  ✓ run_command ok (0s)\n"
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}
}
