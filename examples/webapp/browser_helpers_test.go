package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
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

// The widths the page is tested at.
const (
	desktopWidth, desktopHeight = 1280, 860
	phoneWidth, phoneHeight     = 390, 844
)

// startBrowser starts one headless Chromium for the test, within limit, and
// returns its context: each tab the test opens (openTab) is a target of it.
func startBrowser(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), limit)
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
		chromedp.WindowSize(desktopWidth, desktopHeight),
	)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(browser); err != nil { // starts it
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	return browser
}

// A tab is a page of the app in a tab of the test's browser, at a width.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// openTab opens url in a new tab of browser, width × height pixels, with
// the script init run in each document before the page's own.
func openTab(t *testing.T, browser context.Context, url string, width, height int64, init string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	steps := []chromedp.Action[chromedp.Void]{}
	if width < desktopWidth {
		steps = append(steps, chromedp.EmulateViewport(width, height, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	} else {
		steps = append(steps, chromedp.EmulateViewport(width, height))
	}
	if init != "" {
		steps = append(steps, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: init})
			return err
		}))
	}
	steps = append(steps,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("prompt")),
		chromedp.Poll[chromedp.Void](`document.getElementById("prompt").value !== ""`), // the config has come
	)
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("loading the page at %d px: %v", width, err)
	}
	return &tab{t, ctx}
}

// do runs the steps, or fails the test saying what they were for.
func (p *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the visible text of the element sel selects, waiting up to
// 10 s for it.
func (p *tab) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("the text of %s: %v", sel, err)
	}
	return s
}

// count returns how many elements sel selects.
func (p *tab) count(sel string) int {
	p.t.Helper()
	nodes, err := chromedp.Run(p.ctx, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
	if err != nil {
		p.t.Fatalf("%s: %v", sel, err)
	}
	return len(nodes)
}

// eval evaluates the JavaScript expression js in the page.
func eval[T any](p *tab, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// wait waits, up to limit, until the JavaScript expression js is true.
func (p *tab) wait(what, js string, limit time.Duration) {
	p.t.Helper()
	p.do(what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(limit)))
}

// send types text into the prompt and presses Enter.
func (p *tab) send(text string) {
	p.t.Helper()
	p.do("sending "+text,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("prompt").value = ""`),
		chromedp.SendKeys(chromedp.ID("prompt"), text),
		chromedp.KeyEvent("\r"),
	)
}

// shot saves a screenshot of the viewport as name.png in the test's
// artifact directory.
func (p *tab) shot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(p.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// chromedpEval evaluates js in the page, for its effects.
func chromedpEval(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](js)
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }

// jsString2 returns v as JSON, with <, > and & as they are.
func jsString2(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
