package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox/examples/internal/replay"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestInABrowser drives the page in headless Chromium, at a desktop's
// width and then at a phone's, each in a chat of its own: it sends the
// prompt, waits for the streamed answer and the tool calls, finds the app
// the agent built inside the preview iframe and presses its button there,
// reads a file in the files view, and saves screenshots.
func TestInABrowser(t *testing.T) {
	needNode(t)
	_, srv := startApp(t, nil)
	browser := startBrowser(t, 2*time.Minute)

	t.Run("desktop", func(t *testing.T) {
		p := openTab(t, browser, srv.URL, desktopWidth, desktopHeight, "")
		prompt, err := chromedp.Run(p.ctx, chromedp.Value(chromedp.ID("prompt")))
		if status := p.text("#status"); err != nil || prompt != replay.Prompt || !strings.Contains(status, "ready · recorded session · local sandbox") {
			t.Errorf("the page starts with prompt %q (%v) and status %q", prompt, err, status)
		}
		if n := p.count("#tabs button"); n != 4 || eval[bool](p, `getComputedStyle(document.getElementById("tabs")).display !== "none"`) {
			t.Errorf("%d tabs, shown at %d px: want the panes side by side", n, desktopWidth)
		}
		buildTheApp(t, p)
		p.shot("desktop-built")

		// The files view lists the workspace and shows a file chosen.
		p.wait("the files listed", `document.querySelector('#tree button[data-path="server.js"]') !== null`, 10*time.Second)
		p.do("opening server.js", chromedp.Click(chromedp.CSS(`#tree button[data-path="server.js"]`)))
		p.wait("server.js shown", `document.getElementById("code").textContent === `+jsString(replay.File("server.js")), 10*time.Second)
		if head := p.text("#file-head"); !strings.Contains(head, "server.js") || !strings.Contains(head, "read-only") {
			t.Errorf("the file's head says %q", head)
		}
		if n := p.count(`#tree button[aria-current="true"]`); n != 1 {
			t.Errorf("%d files marked as the one shown, want 1", n)
		}
		p.shot("desktop-files")

		// Keyboard: Shift+Enter starts a new line, Enter sends; the focus
		// is shown.
		users := p.count(".message.user")
		p.do("typing two lines",
			chromedp.Evaluate[chromedp.Void](`document.getElementById("prompt").value = ""`),
			chromedp.SendKeys(chromedp.ID("prompt"), "one"),
			chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierShift)),
			chromedp.SendKeys(chromedp.ID("prompt"), "two"),
		)
		if v := eval[string](p, `document.getElementById("prompt").value`); v != "one\ntwo" || p.count(".message.user") != users {
			t.Errorf("Shift+Enter: the prompt holds %q, %d messages sent", v, p.count(".message.user")-users)
		}
		p.do("tabbing to Send", chromedp.KeyEvent(kb.Tab))
		if got := eval[string](p, `document.activeElement.id + " " + getComputedStyle(document.activeElement).outlineStyle`); got != "send solid" {
			t.Errorf("after Tab the focus and its outline: %q, want the Send button outlined", got)
		}
		p.do("sending with Enter", chromedp.Focus(chromedp.ID("prompt")), chromedp.KeyEvent("\r"))
		p.wait("the message sent", `document.querySelectorAll(".message.user").length === `+itoa(users+1)+` && document.querySelector('.message.assistant:last-of-type[data-done="true"]') !== null`, 10*time.Second)
		if got := eval[string](p, `[...document.querySelectorAll(".message.user")].pop().textContent`); got != "one\ntwo" {
			t.Errorf("the message sent is %q", got)
		}
	})

	t.Run("phone", func(t *testing.T) {
		p := openTab(t, browser, srv.URL, phoneWidth, phoneHeight, "")
		noSideways(t, p, phoneWidth)
		if !eval[bool](p, `getComputedStyle(document.getElementById("tabs")).display === "flex"`) {
			t.Fatalf("no tabs at %d px", phoneWidth)
		}
		p.shot("phone-start")
		buildTheApp(t, p)
		noSideways(t, p, phoneWidth)
		p.shot("phone-chat")
		for _, pane := range []string{"preview", "files", "terminal"} {
			p.do("the "+pane+" tab", chromedp.Click(chromedp.ID("tab-"+pane)))
			visible := eval[[]string](p, `[...document.querySelectorAll(".pane")].filter((e) => e.offsetParent !== null).map((e) => e.id)`)
			if len(visible) != 1 || visible[0] != pane+"-pane" {
				t.Errorf("with the %s tab chosen the panes shown are %v", pane, visible)
			}
			if pane == "files" {
				p.wait("a file shown", `document.getElementById("code").textContent.length > 0`, 10*time.Second)
			}
			noSideways(t, p, phoneWidth)
			p.shot("phone-" + pane)
		}
		// At 360 px, the narrowest phones, nothing scrolls sideways either.
		p.do("360 px", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulatePortrait), chromedp.Click(chromedp.ID("tab-chat")))
		noSideways(t, p, 360)
		p.shot("phone-360-chat")
	})
}

// buildTheApp sends the recorded session's prompt in p and checks the turn:
// the streamed answer, the tool calls in the terminal, the app in the
// preview iframe (sandboxed, with its controls), whose +1 it presses.
func buildTheApp(t *testing.T, p *tab) {
	t.Helper()
	p.do("sending the prompt",
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("stop")),
		chromedp.WaitReady(chromedp.CSS(`.message.assistant[data-done="true"]`)),
	)
	answer := p.text(".message.assistant")
	for _, want := range []string{"I'll build it in three files", "All checks pass.", "the counter app is running", "run_command", "node test.js"} {
		if !strings.Contains(answer, want) {
			t.Errorf("the streamed answer lacks %q:\n%s", want, answer)
		}
	}
	if n := p.count(".message.assistant code"); n != 3 {
		t.Errorf("the answer has %d inline code spans, want 3 (its markdown rendered)", n)
	}
	if got := p.text("#state"); got != "ready" {
		t.Errorf("after the turn the status is %q, want ready", got)
	}
	if !eval[bool](p, `document.getElementById("stop").hidden && !document.getElementById("send").hidden`) {
		t.Errorf("after the turn the Stop button is still shown")
	}
	terminal := eval[string](p, `document.getElementById("terminal").textContent`)
	for _, want := range []string{"▶ write_file", "index.html, server.js, test.js", "$ node test.js", "[exit code 0]", "▶ start_process", "is running; port"} {
		if !strings.Contains(terminal, want) {
			t.Errorf("the terminal pane lacks %q:\n%s", want, terminal)
		}
	}
	if done, chips, failed := p.count(".tool.ok"), p.count(".chip.ok"), p.count(".tool.failed, .chip.failed"); done != 3 || chips != 3 || failed != 0 {
		t.Errorf("%d tool calls done in the terminal, %d chips done, %d failed; want 3, 3 and 0", done, chips, failed)
	}
	frame, err := chromedp.Run(p.ctx, chromedp.Attributes(chromedp.ID("preview")))
	if err != nil || !strings.HasPrefix(frame["src"], "http://127.0.0.1:") {
		t.Fatalf("the preview iframe shows %q (%v), want the app's URL", frame["src"], err)
	}
	if got, want := strings.Fields(frame["sandbox"]), []string{"allow-scripts", "allow-forms", "allow-same-origin", "allow-popups", "allow-modals"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the preview's sandbox is %q, want %q", got, want)
	}
	open, err := chromedp.Run(p.ctx, chromedp.Attributes(chromedp.ID("open")))
	if err != nil || open["href"] != frame["src"]+"/" && open["href"] != frame["src"] || open["target"] != "_blank" || !strings.Contains(open["rel"], "noopener") {
		t.Errorf("the open-in-a-new-tab link: %v (%v)", open, err)
	}

	// The app, inside the preview iframe, once it has loaded there: press
	// +1, then reload the preview, and the count the server keeps is back.
	p.do("showing the preview", chromedp.Evaluate[chromedp.Void](`showPane("preview-pane")`))
	pressPlusOne(t, p, "0", "1")
	p.do("reloading the preview", chromedp.Click(chromedp.ID("reload")))
	pressPlusOne(t, p, "1", "2")
	p.do("back to the chat", chromedp.Evaluate[chromedp.Void](`showPane("chat")`))
}

// pressPlusOne presses +1 in the app in the preview iframe, once it has
// loaded, and checks the count goes from before to after. The iframe's node
// is taken after the load, so that it holds the app's document.
func pressPlusOne(t *testing.T, p *tab, before, after string) {
	t.Helper()
	p.do("the preview iframe's load", chromedp.WaitVisible(chromedp.CSS(`#preview[data-loaded="true"]`)))
	frames, err := chromedp.Run(p.ctx, chromedp.Nodes(chromedp.ID("preview")))
	if err != nil {
		t.Fatal(err)
	}
	in := chromedp.FromNode(frames[0])
	inApp, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	err = chromedp.Do(inApp,
		chromedp.WaitVisible(chromedp.ID("add"), in),
		chromedp.Poll[chromedp.Void](`document.getElementById("count").textContent === "`+before+`"`, chromedp.WithPollingInFrame(frames[0]), chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click(chromedp.ID("add"), in),
		chromedp.Poll[chromedp.Void](`document.getElementById("count").textContent === "`+after+`"`, chromedp.WithPollingInFrame(frames[0]), chromedp.WithPollingTimeout(10*time.Second)),
	)
	if err != nil {
		t.Fatalf("the app in the preview iframe (the count goes from %s to %s with +1): %v", before, after, err)
	}
}

// noSideways fails t when the page is wider than width: nothing may
// scroll sideways.
func noSideways(t *testing.T, p *tab, width int) {
	t.Helper()
	w := eval[int](p, `Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)`)
	if w > width {
		wide := eval[[]string](p, `[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > `+itoa(width)+` + 1 && e.offsetParent !== null).slice(0, 8).map((e) => e.tagName + "#" + e.id + "." + e.className)`)
		t.Errorf("at %d px the page is %d px wide: it scrolls sideways (too wide: %v)", width, w, wide)
	}
}
