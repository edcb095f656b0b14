package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/chromedp/chromedp"
)

// stateScript records each state the status line shows, in order.
const stateScript = `window.__states = [];
document.addEventListener("DOMContentLoaded", () => {
  const s = document.getElementById("state");
  new MutationObserver(() => {
    const v = s.dataset.state;
    if (window.__states[window.__states.length - 1] !== v) window.__states.push(v);
  }).observe(s, { attributes: true, attributeFilter: ["data-state"] });
});`

// failOnce makes the page's next request to /api/chat fail: with a
// response of status and the JSON body, or, for status 0, as a fetch
// that cannot reach the server.
func failOnce(status int, body string) string {
	return `(() => { const fetch0 = window.fetch; window.fetch = function (input, init) {
	  if (!String(input).includes("/api/chat")) return fetch0.apply(this, arguments);
	  window.fetch = fetch0;
	  ` + map[bool]string{true: `return Promise.reject(new TypeError("Failed to fetch"));`,
		false: `return Promise.resolve(new Response(` + jsString(body) + `, { status: ` + itoa(status) + `, headers: { "Content-Type": "application/json" } }));`}[status == 0] + `
	}; })()`
}

// TestStateTellsTheTruth plays turns that fail in each way a turn can —
// a model error mid-stream, a command that exits 1, invalid and failing
// tool calls, a stop, a turn still running (409), a server out of reach —
// and checks that the page says so, offers Retry, and that Retry and the
// next message work.
func TestStateTellsTheTruth(t *testing.T) {
	model := agentboxtest.NewProvider(
		agentboxtest.Step{Text: []string{"Starting ", "the work. "}, Err: errors.New("the model's server fell over"), FailAfter: 2},
		agentboxtest.Reply("Recovered ", "after the retry."),
		agentboxtest.Step{Calls: []agentboxtest.Call{
			{ID: "exit1", Name: "run_command", Args: `{"command":"echo working; echo broken >&2; exit 1"}`},
			{ID: "invalid", Name: "run_command", Args: `{"command":5}`},
			{ID: "missing", Name: "read_file", Args: `{"path":"no/such/file.txt"}`},
		}},
		agentboxtest.Reply("Two of those failed."),
		agentboxtest.Step{Text: []string{"Working on it"}, Hang: true, FailAfter: 1},
		agentboxtest.Reply("Answered at once."),
		agentboxtest.Reply("Answered after the conflict."),
	)
	_, srv := startAppWith(t, nil, model)
	browser := startBrowser(t, 90*time.Second)
	p := openTab(t, browser, srv.URL, desktopWidth, desktopHeight, stateScript)
	last := ".message.assistant:last-of-type"

	// A model error mid-stream: the status says error, the message says
	// what failed and offers Retry, which sends the message again.
	p.send("Fail, please.")
	p.wait("the error", `document.querySelector('.message.assistant[data-done="true"] .error') !== null`, 10*time.Second)
	if got := p.text("#state"); got != "error" {
		t.Errorf("after a model error the status is %q, want error", got)
	}
	if got := p.text(last + " .error"); !strings.Contains(got, "fell over") || !strings.Contains(got, "Retry") {
		t.Errorf("the error shown is %q, want the server's text and Retry", got)
	}
	p.shot("desktop-model-error")
	p.do("retrying", chromedp.Click(chromedp.CSS(last+" .retry")))
	p.wait("the retried answer", `document.querySelector('.message.assistant[data-done="true"]') !== null && document.querySelector(".message.assistant").textContent.includes("after the retry")`, 10*time.Second)
	if n, failed := p.count(".message.assistant"), p.count(".message.assistant[data-failed]"); n != 1 || failed != 0 {
		t.Errorf("after Retry %d answers, %d failed; want the failed one replaced", n, failed)
	}
	if got := p.text("#state"); got != "ready" {
		t.Errorf("after Retry the status is %q, want ready", got)
	}
	reqs := model.Requests()
	if len(reqs) != 2 {
		t.Fatalf("the model got %d requests, want 2", len(reqs))
	}
	var users []string
	for _, m := range reqs[1].Messages {
		switch m.Role {
		case agentbox.RoleUser:
			users = append(users, m.Content)
		case agentbox.RoleAssistant:
			t.Errorf("the retried request carries an answer: %q", m.Content)
		}
	}
	if len(users) != 1 || users[0] != "Fail, please." {
		t.Errorf("the retried request's user messages: %q, want the one message once", users)
	}

	// Failed tool calls: a command that exits 1, an invalid call and one
	// whose tool fails are all shown as failures, in red.
	p.send("Run things.")
	p.wait("the turn's end", `document.querySelectorAll('.message.assistant[data-done="true"]').length === 2`, 20*time.Second)
	if ok, failed, chips := p.count(".tool.ok"), p.count(".tool.failed"), p.count(last+" .chip.failed"); ok != 0 || failed != 3 || chips != 3 {
		t.Errorf("%d tool calls ok, %d failed, %d chips failed; want 0, 3, 3", ok, failed, chips)
	}
	exit1 := `[...document.querySelectorAll(".tool")].find((e) => e.textContent.includes("echo working"))`
	if got := eval[string](p, exit1+`.querySelector(".state").textContent`); got != "✗ exit code 1" {
		t.Errorf("the command that exits 1 is marked %q", got)
	}
	if got := eval[string](p, exit1+`.querySelector(".bad").textContent`); !strings.Contains(got, "→ [exit code 1]") {
		t.Errorf("its result line is %q, want → [exit code 1] as a failure", got)
	}
	if got := eval[string](p, `getComputedStyle(document.querySelector(".tool.failed .state")).color`); got != "rgb(240, 113, 120)" {
		t.Errorf("a failed call's mark is %s, want red", got)
	}
	if got := p.text("#state"); got != "ready" {
		t.Errorf("after the turn the status is %q, want ready", got)
	}
	// The files view was refreshed after the commands: the workspace is
	// there, empty.
	p.wait("the files refreshed", `document.getElementById("files-note").textContent === "0 files"`, 5*time.Second)
	p.shot("desktop-failed-tools")

	// Stop: the turn ends at once, marked stopped, and the next message is
	// answered at once (the server cancels the abandoned turn).
	p.send("Hang.")
	p.wait("the start of the answer", `document.querySelector(".message.assistant:last-of-type").textContent.includes("Working on it")`, 10*time.Second)
	if !eval[bool](p, `!document.getElementById("stop").hidden && document.getElementById("send").hidden`) {
		t.Errorf("no Stop button while the turn runs")
	}
	p.shot("desktop-running")
	p.do("stopping", chromedp.Click(chromedp.ID("stop")))
	p.wait("the stopped turn", `document.querySelector('.message.assistant:last-of-type[data-stopped="true"][data-done="true"]') !== null`, 5*time.Second)
	if got := p.text("#state"); got != "stopped" {
		t.Errorf("after Stop the status is %q", got)
	}
	start := time.Now()
	p.send("After the stop.")
	p.wait("the next answer", `document.querySelector('.message.assistant:last-of-type[data-done="true"]') !== null && document.querySelector(".message.assistant:last-of-type").textContent.includes("Answered at once")`, 10*time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the message after Stop took %v", d)
	}

	// 409: a turn still running; the page says so and Retry works.
	p.do("a turn still running", chromedpEval(failOnce(409, `{"error":"a turn of this chat is still running"}`)))
	p.send("Conflict.")
	p.wait("the 409", `document.querySelector(".message.assistant:last-of-type .error") !== null`, 5*time.Second)
	if got := p.text(last + " .error"); !strings.Contains(got, "still running") {
		t.Errorf("a 409 says %q", got)
	}
	p.do("retrying", chromedp.Click(chromedp.CSS(last+" .retry")))
	p.wait("the answer after the conflict", `document.querySelector(".message.assistant:last-of-type").textContent.includes("Answered after the conflict")`, 10*time.Second)

	// A server out of reach.
	p.do("no server", chromedpEval(failOnce(0, "")))
	p.send("Anyone there?")
	p.wait("the failed fetch", `document.querySelector(".message.assistant:last-of-type .error") !== null`, 5*time.Second)
	if got := p.text(last + " .error"); !strings.Contains(got, "could not be reached") {
		t.Errorf("a failed fetch says %q", got)
	}
	states := eval[[]string](p, `window.__states`)
	t.Logf("the states shown: %q", states)
	for _, want := range []string{"thinking", "writing", "starting the sandbox", "running a command", "error", "ready", "stopped"} {
		if !strings.Contains(" "+strings.Join(states, " | ")+" ", want) {
			t.Errorf("the status never said %q: %q", want, states)
		}
	}

	// The same at a phone's width: an error, the status, Retry.
	ph := openTab(t, browser, srv.URL, phoneWidth, phoneHeight, "")
	ph.do("a failing request", chromedpEval(failOnce(503, `{"error":"too many chats at once; try again later"}`)))
	ph.send("Build a to-do list app.")
	ph.wait("the error", `document.querySelector(".message.assistant .error") !== null`, 5*time.Second)
	if got := ph.text(".message.assistant .error"); !strings.Contains(got, "too many chats at once; try again later (HTTP 503)") {
		t.Errorf("a 503 says %q", got)
	}
	noSideways(t, ph, phoneWidth)
	ph.shot("phone-error")
}
