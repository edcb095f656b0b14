package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/chromedp/chromedp"
)

// TestModelTextIsNotHTML has the model, the tools and the sandbox send
// HTML and javascript: links everywhere the page shows what they send —
// text, reasoning, tool input, file names and contents, command output,
// error text — and checks that no script ran and that no such element or
// link is in the page, at both widths.
func TestModelTextIsNotHTML(t *testing.T) {
	const (
		img    = `<img src=x onerror="window.__xss='img'">`
		script = `<script>window.__xss='script'</script>`
		svg    = `<svg onload="window.__xss='svg'"></svg>`
	)
	step := func() []agentboxtest.Step {
		return []agentboxtest.Step{{
			Reasoning: []string{"Thinking " + img + script},
			Text: []string{
				"# Title " + img + "\n\n",
				"Some " + script + " text and **" + svg + "** and `" + img + "`.\n\n",
				"[a markdown link](javascript:window.__xss='md') and [another](JaVaScRiPt:window.__xss='md2') and ",
				"<a href=\"javascript:window.__xss='a'\">an HTML link</a> and [ok](https://example.com/" + img + ").\n\n",
				"- item " + img + "\n- [x](data:text/html," + script + ")\n\n",
				"```html\n" + script + img + "\n```\n",
			},
			Calls: []agentboxtest.Call{
				{ID: "w", Name: "write_file", Args: jsString2(map[string]any{"files": []map[string]string{{"path": "<img src=x onerror=__xss=1>.html", "content": script + img}}})},
				{ID: "r", Name: "run_command", Args: jsString2(map[string]any{"command": "echo '" + img + "'; echo '" + script + "' >&2; ls"})},
			},
		}, {
			Text: []string{"Done " + svg},
		}, {
			Text: []string{"Then "}, Err: errors.New("failed: " + img + script), FailAfter: 1,
		}}
	}
	model := agentboxtest.NewProvider(append(step(), step()...)...)
	_, srv := startAppWith(t, nil, model)
	browser := startBrowser(t, time.Minute)
	for _, width := range []int64{desktopWidth, phoneWidth} {
		p := openTab(t, browser, srv.URL, width, map[bool]int64{true: desktopHeight, false: phoneHeight}[width == desktopWidth], "")
		p.send("Show me some HTML.")
		p.wait("the answer", `document.querySelector('.message.assistant[data-done="true"]') !== null`, 20*time.Second)
		p.send("And fail.")
		p.wait("the failure", `document.querySelector('.message.assistant:last-of-type[data-done="true"] .error') !== null`, 20*time.Second)
		p.wait("the file listed", `document.querySelector("#tree button") !== null`, 10*time.Second)
		p.do("opening the file", chromedp.Evaluate[chromedp.Void](`document.querySelector("#tree button").click()`))
		p.wait("the file shown", `document.getElementById("code").textContent.includes("<script>")`, 10*time.Second)
		time.Sleep(200 * time.Millisecond) // an onerror would have run by now

		if got := eval[any](p, `window.__xss`); got != nil {
			t.Errorf("at %d px a script ran: window.__xss = %v", width, got)
		}
		if n := p.count(`body img, body svg, #panes script, #messages iframe, #terminal iframe, #files-pane iframe`); n != 0 {
			t.Errorf("at %d px the page holds %d elements from the payloads", width, n)
		}
		hrefs := eval[[]string](p, `[...document.querySelectorAll("#panes a[href]")].map((a) => a.getAttribute("href"))`)
		for _, h := range hrefs {
			if !strings.HasPrefix(h, "http://") && !strings.HasPrefix(h, "https://") {
				t.Errorf("at %d px a link to %q", width, h)
			}
		}
		// The payloads are shown, as text.
		all := eval[string](p, `document.getElementById("panes").textContent`)
		for _, want := range []string{"<script>window.__xss='script'</script>", "echo '<img src=x", "<img src=x onerror=__xss=1>.html", "a markdown link", "failed: <img"} {
			if !strings.Contains(all, want) {
				t.Errorf("at %d px the page does not show %q as text", width, want)
			}
		}
		if width == desktopWidth {
			p.shot("desktop-xss")
		} else {
			noSideways(t, p, int(width))
			p.shot("phone-xss")
		}
	}
}
