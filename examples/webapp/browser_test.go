package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox/examples/internal/replay"
	"github.com/chromedp/chromedp"
)

// chromium returns the Chromium to drive: $CHROMIUM, or chromium on the
// PATH. Without one, the test fails in CI, where .ci/run installs it, and is
// skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path, _ = exec.LookPath("chromium")
	}
	if path != "" {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the browser test (.ci/run installs Debian's chromium)")
	}
	t.Skip("chromium is not installed (e.g. apt-get install chromium, or set CHROMIUM): the browser test needs it")
	return ""
}

// TestInABrowser drives the page in headless Chromium: it sends the prompt,
// waits for the streamed answer and the tool calls, finds the app the agent
// built inside the preview iframe and presses its button there, and saves a
// screenshot.
func TestInABrowser(t *testing.T) {
	exe := chromium(t)
	needNode(t)
	_, srv := startApp(t, nil)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	// text returns the text of the element sel selects, or fails t.
	text := func(sel chromedp.CSS, opts ...chromedp.QueryOption) string {
		t.Helper()
		s, err := chromedp.Run(browser, chromedp.Text(sel, opts...))
		if err != nil {
			t.Fatalf("the text of %s: %v", sel, err)
		}
		return s
	}
	count := func(sel chromedp.CSSAll) int {
		t.Helper()
		nodes, err := chromedp.Run(browser, chromedp.Nodes(sel, chromedp.AtLeast(0)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return len(nodes)
	}

	err := chromedp.Do(browser,
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(chromedp.ID("prompt")),
		chromedp.Poll[chromedp.Void](`document.getElementById("prompt").value !== ""`), // the config has come
	)
	if err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	prompt, err := chromedp.Run(browser, chromedp.Value(chromedp.ID("prompt")))
	if status := text("#status"); err != nil || prompt != replay.Prompt || !strings.Contains(status, "recorded session · local sandbox") {
		t.Errorf("the page starts with prompt %q (%v) and status %q", prompt, err, status)
	}

	err = chromedp.Do(browser,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("prompt").value = ""`),
		chromedp.SendKeys(chromedp.ID("prompt"), replay.Prompt),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(`.message.assistant[data-done="true"]`)),
	)
	if err != nil {
		t.Fatalf("sending the prompt: %v", err)
	}
	answer := text(".message.assistant")
	t.Logf("the answer: %q", answer)
	for _, want := range []string{"I'll build it in three files", "All checks pass.", "the counter app is running"} {
		if !strings.Contains(answer, want) {
			t.Errorf("the streamed answer lacks %q", want)
		}
	}
	terminal := text("#terminal")
	for _, want := range []string{"▶ write_file", "index.html, server.js, test.js", "$ node test.js", "▶ start_process", "is running; port"} {
		if !strings.Contains(terminal, want) {
			t.Errorf("the terminal pane lacks %q:\n%s", want, terminal)
		}
	}
	if done, failed := count(".tool.ok"), count(".tool.failed"); done != 3 || failed != 0 {
		t.Errorf("the terminal shows %d tool calls done and %d failed, want 3 and 0", done, failed)
	}
	src, err := chromedp.Run(browser, chromedp.AttributeValue(chromedp.ID("preview"), "src"))
	if err != nil || !strings.HasPrefix(src.Value, "http://127.0.0.1:") {
		t.Fatalf("the preview iframe shows %q (%v), want the app's URL", src.Value, err)
	}

	// The app, inside the preview iframe, once it has loaded there: press
	// +1. The iframe's node is taken after the load, so that it holds the
	// app's document.
	if err := chromedp.Do(browser, chromedp.WaitVisible(chromedp.CSS(`#preview[data-loaded="true"]`))); err != nil {
		t.Fatalf("the preview iframe did not load: %v", err)
	}
	frames, err := chromedp.Run(browser, chromedp.Nodes(chromedp.ID("preview")))
	if err != nil {
		t.Fatal(err)
	}
	in := chromedp.FromNode(frames[0])
	inApp, cancelApp := context.WithTimeout(browser, 30*time.Second)
	defer cancelApp()
	err = chromedp.Do(inApp,
		chromedp.WaitVisible(chromedp.ID("add"), in),
		chromedp.Poll[chromedp.Void](`document.getElementById("count").textContent === "0"`, chromedp.WithPollingInFrame(frames[0]), chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click(chromedp.ID("add"), in),
		chromedp.Poll[chromedp.Void](`document.getElementById("count").textContent === "1"`, chromedp.WithPollingInFrame(frames[0]), chromedp.WithPollingTimeout(10*time.Second)),
	)
	if err != nil {
		t.Fatalf("the app in the preview iframe (the count goes from 0 to 1 with +1): %v", err)
	}

	png, err := chromedp.Run(browser, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "webapp.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
