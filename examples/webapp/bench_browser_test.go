package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox/agentboxtest"
)

// benchScript, run in the page before its own script, measures a turn: the
// frame in which the answer's last word is first in the page, and the main
// thread's long tasks (over 50 ms), which benchFigures keeps from the send
// to then.
const benchScript = `(() => {
  const B = window.__bench = { marker: "", sent: 0, shown: 0, tasks: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) B.tasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask" });
  const check = () => {
    if (B.marker && !B.shown) {
      const m = document.querySelector(".message.assistant:last-of-type");
      if (m && m.textContent.includes(B.marker)) B.shown = performance.now();
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})()`

// benchFigures reads the figures once the turn is over: the last byte is
// the responseEnd of the request's resource timing, which the network
// stack stamps, whatever the main thread is doing.
const benchFigures = `new Promise((ok) => setTimeout(() => {
  const B = window.__bench;
  const res = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/chat")).pop();
  const tasks = B.tasks.filter(([start, d]) => start + d > B.sent && start < B.shown);
  ok({ Sent: B.sent, LastByte: res ? res.responseEnd : -1, Shown: B.shown,
       Longest: Math.max(0, ...tasks.map(([, d]) => d)), Tasks: tasks.length });
}, 300))`

// benchAnswer returns n tokens of a markdown answer, as a model streams
// it: paragraphs, a list, a code block, ending with marker.
func benchAnswer(n int, marker string) []string {
	words := strings.Fields("the agent writes the server first then the page and a test that checks both with **bold** and `code` and _emphasis_ in between")
	tokens := make([]string, 0, n)
	for i := 0; len(tokens) < n-1; i++ {
		switch {
		case i%400 == 0:
			tokens = append(tokens, fmt.Sprintf("\n\n## Part %d\n\n", i/400+1))
		case i%400 == 200:
			tokens = append(tokens, "\n\n```js\n")
			for j := 0; j < 40 && len(tokens) < n-2; j++ {
				tokens = append(tokens, fmt.Sprintf("const x%d = %d;\n", j, j))
			}
			tokens = append(tokens, "```\n\n")
		case i%400 == 300:
			tokens = append(tokens, "\n\n- first item\n- second item with [a link](https://example.com)\n\n")
		case i%60 == 59:
			tokens = append(tokens, ".\n\n")
		default:
			tokens = append(tokens, " "+words[i%len(words)])
		}
	}
	return append(tokens[:n-1], " "+marker)
}

// TestRenderingKeepsUp is the page's benchmark: a fake model streams a
// 3,000-token answer at once, and the page must show it within a frame or
// so of its last byte, with no long task on the main thread. It logs the
// figures docs/BENCHMARKS.md records.
func TestRenderingKeepsUp(t *testing.T) {
	const tokens, marker = 3000, "zzendzz"
	model := agentboxtest.NewProvider(agentboxtest.Step{Text: benchAnswer(tokens, marker)})
	_, srv := startAppWith(t, nil, model)
	browser := startBrowser(t, 2*time.Minute)
	p := openTab(t, browser, srv.URL, desktopWidth, desktopHeight, benchScript)

	p.do("arming the benchmark", chromedpEval(`window.__bench.marker = "`+marker+`"; window.__bench.sent = performance.now()`))
	p.send("Write a long answer.")
	p.wait("the answer on screen", `window.__bench.shown > 0`, 90*time.Second)
	p.wait("the turn's end", `document.querySelector('.message.assistant[data-done="true"]') !== null`, 10*time.Second)
	type figures struct {
		Sent, LastByte, Shown, Longest float64
		Tasks                          int
	}
	f := eval[figures](p, benchFigures)
	if f.LastByte <= 0 {
		t.Fatalf("no resource timing for the request: %+v", f)
	}
	toScreen := max(f.Shown-f.LastByte, 0)
	t.Logf("%d tokens: send to the answer on screen %.0f ms; last byte to the text on screen %.1f ms; longest task %.0f ms (%d long tasks)",
		tokens, f.Shown-f.Sent, toScreen, f.Longest, f.Tasks)
	p.shot("bench-desktop")
	// The target is 200 ms for each on the benchmark's machine; the test
	// fails at twice that, for slower CI machines.
	if toScreen > 400 || f.Longest > 400 {
		t.Errorf("last byte to screen %.0f ms, longest task %.0f ms: want ≤ 200 ms (fails over 400)", toScreen, f.Longest)
	}
	if got := p.text(".message.assistant:last-of-type"); !strings.Contains(got, marker) || !strings.Contains(got, "second item with a link") {
		t.Errorf("the answer on screen lacks its end or its list:\n%.300s", got)
	}
}
