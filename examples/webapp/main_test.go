package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/examples/internal/replay"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// needNode fails t in CI and skips it elsewhere when Node.js, which the
// recorded session's app runs on, is missing.
func needNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node is not installed, and CI must run the webapp's session: %v", err)
		}
		t.Skipf("the recorded session runs Node.js, and node is not installed: %v", err)
	}
}

// startApp serves the app with the environment variables env, and none of
// those it reads otherwise: by default, offline, with the recorded session
// and local sandboxes.
func startApp(t *testing.T, env map[string]string) (*app, *httptest.Server) {
	t.Helper()
	return startAppWith(t, env, nil)
}

// startAppWith is startApp with model, when not nil, answering every chat.
func startAppWith(t *testing.T, env map[string]string, model agentbox.Provider) (*app, *httptest.Server) {
	t.Helper()
	return startAppSettings(t, env, settings{model: model})
}

// startAppSettings is startApp with the settings s; their hosts are
// devbox.
func startAppSettings(t *testing.T, env map[string]string, s settings) (*app, *httptest.Server) {
	t.Helper()
	for _, v := range []string{"OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_MODEL", "E2B_API_KEY", "E2B_DEBUG", "E2B_SANDBOX_URL", "WEBAPP_PROMPT"} {
		t.Setenv(v, env[v])
	}
	s.hosts = []string{"devbox"}
	a, err := newApp(io.Discard, s)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.chats.Close(ctx); err != nil {
			t.Errorf("closing the chats: %v", err)
		}
		srv.Close()
	})
	return a, srv
}

func get(t *testing.T, url string) (string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), err
}

// chat posts a message to the chat and returns the stream's chunks.
func chat(t *testing.T, srv *httptest.Server, messages string) []map[string]any {
	t.Helper()
	return post(t, srv, `{"id":"chat-1","trigger":"submit-message","messages":[`+messages+`]}`)
}

// post posts body, a chat request, and returns the stream's chunks.
func post(t *testing.T, srv *httptest.Server, body string) []map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/chat", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Vercel-Ai-Ui-Message-Stream") != "v1" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /api/chat: %s %s", resp.Status, b)
	}
	var chunks []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

func userMessage(text string) string {
	b, _ := json.Marshal(map[string]any{"id": "u", "role": "user", "parts": []map[string]string{{"type": "text", "text": text}}})
	return string(b)
}

func TestThePageAndItsConfig(t *testing.T) {
	_, srv := startApp(t, nil)
	page, err := get(t, srv.URL+"/")
	if err != nil || !strings.Contains(page, `id="preview"`) || !strings.Contains(page, "/api/chat") {
		t.Errorf("GET /: %v, a page without the preview or the chat:\n%.200s", err, page)
	}
	if _, err := get(t, srv.URL+"/nothing"); err == nil {
		t.Errorf("GET /nothing answered 200")
	}
	cfg, err := get(t, srv.URL+"/api/config")
	want, _ := json.Marshal(pageConfig{Live: false, Prompt: replay.Prompt, Sandbox: "local"})
	if err != nil || strings.TrimSpace(cfg) != string(want) {
		t.Errorf("GET /api/config = %s, %v; want %s", cfg, err, want)
	}
}

// TestTheAppSurvivesTheNextMessage builds the app in a chat's first message
// and checks that it still runs, at the same preview URL, after the second.
func TestTheAppSurvivesTheNextMessage(t *testing.T) {
	needNode(t)
	_, srv := startApp(t, nil)
	var preview string
	var tools []string
	for _, c := range chat(t, srv, userMessage(replay.Prompt)) {
		switch c["type"] {
		case "data-preview":
			preview = c["data"].(map[string]any)["url"].(string)
		case "tool-output-available":
			tools = append(tools, c["toolCallId"].(string))
		case "tool-output-error", "error":
			t.Errorf("the session failed: %v", c)
		}
	}
	if len(tools) != 3 || preview == "" {
		t.Fatalf("first message: tools %v, preview %q; want 3 tools and a preview", tools, preview)
	}
	if page, err := get(t, preview); err != nil || !strings.Contains(page, `id="add"`) {
		t.Fatalf("the preview %s: %v %.100s", preview, err, page)
	}
	var answer string
	for _, c := range chat(t, srv, userMessage(replay.Prompt)+`,{"id":"a","role":"assistant","parts":[{"type":"text","text":"Done"}]},`+userMessage("Make it blue.")) {
		if c["type"] == "text-delta" {
			answer += c["delta"].(string)
		}
	}
	if answer != replay.Later {
		t.Errorf("second message answered %q", answer)
	}
	if page, err := get(t, preview+"/api/count"); err != nil || !strings.Contains(page, "count") {
		t.Errorf("after the second message the app no longer answers at %s: %v", preview, err)
	}
}

// TestWithOpenRouterAndE2B runs a chat with the services the environment
// names: OpenRouter (a fake playing the recorded session) and E2B (the fake,
// in debug mode, whose previews are at localhost).
func TestWithOpenRouterAndE2B(t *testing.T) {
	needNode(t)
	port, err := replay.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	model := openroutertest.NewServer(t, openroutertest.FromSteps(replay.Steps(port)...)...)
	model.APIKey = "sk-or-v1-webapp-test"
	sandboxes := e2btest.NewServer(t, e2btest.Options{Debug: true})
	_, srv := startApp(t, map[string]string{
		"OPENROUTER_API_KEY": model.APIKey, "OPENROUTER_BASE_URL": model.URL, "OPENROUTER_MODEL": "test/model",
		"E2B_DEBUG": "true", "E2B_SANDBOX_URL": sandboxes.DebugURL(),
		"WEBAPP_PROMPT": "Build it.",
	})
	cfg, err := get(t, srv.URL+"/api/config")
	if want := `{"live":true,"prompt":"Build it.","sandbox":"e2b"}`; err != nil || strings.TrimSpace(cfg) != want {
		t.Errorf("GET /api/config = %s, %v; want %s", cfg, err, want)
	}
	var preview string
	for _, c := range chat(t, srv, userMessage("Build it.")) {
		switch c["type"] {
		case "data-preview":
			preview = c["data"].(map[string]any)["url"].(string)
		case "tool-output-error", "error":
			t.Errorf("the session failed: %v", c)
		}
	}
	if want := fmt.Sprintf("http://localhost:%d", port); preview != want {
		t.Fatalf("preview %q, want E2B's debug preview %s", preview, want)
	}
	if page, err := get(t, preview); err != nil || !strings.Contains(page, `id="add"`) {
		t.Errorf("the preview %s: %v %.100s", preview, err, page)
	}
	if n := len(sandboxes.Commands()); n < 2 {
		t.Errorf("envd ran %d commands, want the session's", n)
	}
}

// TestOtherHostsAreRefused sends requests as a browser does for a page of
// another site whose name points at this machine (DNS rebinding).
func TestOtherHostsAreRefused(t *testing.T) {
	a, _ := startApp(t, nil)
	for host, want := range map[string]int{
		"127.0.0.1:8080": 200, "localhost:8080": 200, "[::1]:8080": 200, "devbox:8080": 200, "app.localhost": 200,
		"evil.example:8080": 403, "evil.example": 403, "devbox.evil.example:8080": 403,
	} {
		for _, path := range []string{"/", "/api/config", "/api/chat"} {
			req := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if got := rec.Code; (want == 403) != (got == 403) || (want == 200 && path != "/api/chat" && got != 200) {
				t.Errorf("GET %s with Host %s: %d, want %d", path, host, got, want)
			}
		}
	}
}

// TestTheServerLimits serves the app with the server main makes: a request
// with headers over maxHeaderBytes gets 431, and the server has the
// timeouts a public server needs, but no WriteTimeout, which would cut
// every chat's stream at that length.
func TestTheServerLimits(t *testing.T) {
	a, _ := startApp(t, nil)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = newServer(a)
	srv.Start()
	defer srv.Close()
	if _, err := get(t, srv.URL+"/api/config"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/config", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 2*maxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("headers of %d bytes: %s, want 431", 2*maxHeaderBytes, resp.Status)
	}
	if c := srv.Config; c.ReadHeaderTimeout <= 0 || c.ReadTimeout <= 0 || c.IdleTimeout <= 0 || c.WriteTimeout != 0 {
		t.Errorf("ReadHeaderTimeout %v, ReadTimeout %v, IdleTimeout %v, WriteTimeout %v; want the first three set and no WriteTimeout",
			c.ReadHeaderTimeout, c.ReadTimeout, c.IdleTimeout, c.WriteTimeout)
	}
}

// TestBoltDiysChatPage chats with the webapp as bolt.diy's own chat page
// does (useChat 1.2.12's client code, bolt.diy's request body, the AI SDK 4
// data stream): the first message builds the app although the page is
// reloaded mid-turn and resumes it; the second is answered in the same
// sandbox.
func TestBoltDiysChatPage(t *testing.T) {
	needNode(t)
	dir := os.Getenv("AI_SDK4_DIR")
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("AI_SDK4_DIR is not set; .ci/run installs @ai-sdk/ui-utils there")
		}
		t.Skip("AI_SDK4_DIR is not set: run `npm install --prefix DIR @ai-sdk/ui-utils@1.2.11` and set AI_SDK4_DIR=DIR")
	}
	_, srv := startApp(t, nil)
	// The script's turns take seconds: a hang is cut short, its output and
	// errors shown.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/bolt.mjs", srv.URL+"/api/chat", replay.Prompt, "Make it blue.")
	cmd.Env = append(os.Environ(), "AI_SDK4_DIR="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v (context: %v)\n%s\nstderr: %s", err, ctx.Err(), out, stderr.String())
	}
	type turn struct {
		Message *struct {
			Content string
			Parts   []struct {
				Type           string
				ToolInvocation struct {
					State, ToolName string
				} `json:"toolInvocation"`
			}
			Annotations []map[string]any
		}
		Finish *struct{ FinishReason string }
		Errors []struct{ Name, Message string }
	}
	var chat struct{ Cut, Resumed, Next turn }
	if err := json.Unmarshal(out, &chat); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(chat.Cut.Errors) != 1 || chat.Cut.Errors[0].Name != "AbortError" {
		t.Errorf("the reloaded page's request ended with %v, want its abort", chat.Cut.Errors)
	}
	r := chat.Resumed
	if r.Message == nil || len(r.Errors) > 0 || r.Finish == nil || r.Finish.FinishReason != "stop" {
		t.Fatalf("the resumed turn: %s", out)
	}
	var tools []string
	for _, p := range r.Message.Parts {
		if p.Type == "tool-invocation" {
			if p.ToolInvocation.State != "result" {
				t.Errorf("tool %s is in state %q, want result", p.ToolInvocation.ToolName, p.ToolInvocation.State)
			}
			tools = append(tools, p.ToolInvocation.ToolName)
		}
	}
	var preview string
	for _, a := range r.Message.Annotations {
		if a["type"] == "preview" {
			preview, _ = a["url"].(string)
		}
	}
	if len(tools) != 3 || r.Message.Content == "" || preview == "" {
		t.Fatalf("the resumed turn: tools %v, text %q, preview %q; want 3 tools, text and a preview:\n%s", tools, r.Message.Content, preview, out)
	}
	if page, err := get(t, preview); err != nil || !strings.Contains(page, `id="add"`) {
		t.Fatalf("the preview %s: %v %.100s", preview, err, page)
	}
	n := chat.Next
	if n.Message == nil || len(n.Errors) > 0 || n.Message.Content != replay.Later || n.Finish == nil || n.Finish.FinishReason != "stop" {
		t.Errorf("the second message: %s", out)
	}
	if page, err := get(t, preview+"/api/count"); err != nil || !strings.Contains(page, "count") {
		t.Errorf("after the second message the app no longer answers at %s: %v", preview, err)
	}
}
