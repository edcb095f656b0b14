package main

import (
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/chromedp/chromedp"
)

// waitingCards is true once the last answer shows two commands waiting
// for approval.
const waitingCards = `document.querySelectorAll('.message.assistant[data-waiting="true"] .approval .approve').length === 2`

// TestApprovalsInABrowser runs the app with -approve: the page asks about
// each of the model's two commands; one is approved and one denied (with a
// reason), and the same answer goes on: the approved command's file is
// written, the denied one's is not, and the next message still works. At a
// phone's width, a message sent instead of answering leaves both not run.
func TestApprovalsInABrowser(t *testing.T) {
	steps := approvalSteps()
	steps = append(steps, agentboxtest.Reply("Anything else?"), agentboxtest.Reply("From the page's history."))
	steps = append(steps, approvalSteps()[0], agentboxtest.Reply("Left as it is."))
	model := agentboxtest.NewProvider(steps...)
	_, srv := startAppSettings(t, nil, settings{model: model, approve: true})
	browser := startBrowser(t, 90*time.Second)

	t.Run("desktop", func(t *testing.T) {
		p := openTab(t, browser, srv.URL, desktopWidth, desktopHeight, "")
		if got := p.text("#status"); !strings.Contains(got, "commands need approval") {
			t.Errorf("the status line says %q, want that commands need approval", got)
		}
		p.send("Write two files.")
		p.wait("the approval requests", waitingCards, 10*time.Second)
		if got := p.text("#state"); got != "waiting for approval: 2 commands" {
			t.Errorf("while the commands wait the status is %q", got)
		}
		if got := p.text(`.approval[data-call="yes"] pre`); got != "$ echo approved > approved.txt" {
			t.Errorf("the first card shows %q, want the command", got)
		}
		if n := p.count(".chip.waiting"); n != 2 {
			t.Errorf("%d chips waiting, want 2", n)
		}
		p.shot("desktop-approval-waiting")

		p.do("approving the first",
			chromedp.Click(chromedp.CSS(`.approval[data-call="yes"] .approve`)))
		if got := eval[string](p, `document.activeElement.closest(".approval").dataset.call + " " + document.activeElement.className`); got != "no approve primary" {
			t.Errorf("after Approve the focus is on %q, want the next card's Approve", got)
		}
		if got := p.text("#state"); got != "waiting for approval: 1 command" {
			t.Errorf("with one answered the status is %q", got)
		}
		p.do("denying the second, with a reason",
			chromedp.SendKeys(chromedp.CSS(`.approval[data-call="no"] .reason`), "not that one"),
			chromedp.Click(chromedp.CSS(`.approval[data-call="no"] .deny`)))
		p.wait("the rest of the answer", `document.querySelector('.message.assistant[data-done="true"]:not([data-waiting])') !== null && document.querySelector(".message.assistant").textContent.includes("you denied the other")`, 20*time.Second)

		if n := p.count(".message.assistant"); n != 1 {
			t.Errorf("%d answers, want the continuation in the same one", n)
		}
		if ok, denied, failed := p.count(".chip.ok"), p.count(".chip.denied"), p.count(".chip.failed"); ok != 1 || denied != 1 || failed != 0 {
			t.Errorf("chips: %d ok, %d denied, %d failed; want 1, 1, 0", ok, denied, failed)
		}
		if got := p.text(".chip.denied"); !strings.Contains(got, "denied") {
			t.Errorf("the denied chip says %q", got)
		}
		terminal := eval[string](p, `document.getElementById("terminal").textContent`)
		for _, want := range []string{"$ echo approved > approved.txt", "[exit code 0]", "⊘ denied", "not run: you denied it: not that one"} {
			if !strings.Contains(terminal, want) {
				t.Errorf("the terminal lacks %q:\n%s", want, terminal)
			}
		}
		if got := p.text(".approval[data-call='no'] .answer"); got != "⊘ Denied: not that one" {
			t.Errorf("the denied card says %q", got)
		}
		if got := p.text("#state"); got != "ready" {
			t.Errorf("after the answer the status is %q", got)
		}
		p.wait("the files listed", `document.querySelector('#tree button[data-path="approved.txt"]') !== null`, 10*time.Second)
		if n := p.count(`#tree button[data-path="denied.txt"]`); n != 0 {
			t.Errorf("denied.txt is listed: the denied command ran")
		}
		chat := eval[string](p, `chatId`)
		if got, err := get(t, srv.URL+"/api/file?chat="+chat+"&path=approved.txt"); err != nil || got != "approved\n" {
			t.Errorf("approved.txt: %q, %v", got, err)
		}
		p.shot("desktop-approval-done")

		// The page keeps the answer whole, and the next message works.
		parts := eval[[]string](p, `conversation[1].parts.map((p) => p.type + (p.state ? " " + p.state : ""))`)
		if want := "step-start text tool-run_command output-available tool-run_command output-denied step-start text"; strings.Join(parts, " ") != want {
			t.Errorf("the answer kept: %q, want %q", parts, want)
		}
		p.send("Thanks.")
		p.wait("the next answer", `document.querySelector('.message.assistant:last-of-type[data-done="true"]') !== null && document.querySelector(".message.assistant:last-of-type").textContent.includes("Anything else?")`, 10*time.Second)
		reqs := model.Requests()
		for _, m := range reqs[1].Messages {
			if m.Role == agentbox.RoleTool && m.ToolCallID == "no" && !strings.Contains(m.Content, "not that one") {
				t.Errorf("the model read %q for the denied call, want the reason", m.Content)
			}
		}

		// A server without the chat's session (a new chat id here) takes
		// the page's history: the calls, their result and the denial.
		history := eval[string](p, `JSON.stringify(conversation)`)
		chunks := post(t, srv, `{"id":"fresh","trigger":"submit-message","messages":`+strings.TrimSuffix(history, "]")+","+userMessage("Again.")+`]}`)
		if f := finishOf(t, chunks); f["finishReason"] != "stop" {
			t.Errorf("the page's history on a new session ends %v", f)
		}
		reqs = model.Requests()
		results := map[string]string{}
		for _, m := range reqs[len(reqs)-1].Messages {
			if m.Role == agentbox.RoleTool {
				results[m.ToolCallID] = m.Content
			}
		}
		if !strings.Contains(results["yes"], "exit code 0") || !strings.Contains(results["no"], "denied this call: not that one") {
			t.Errorf("from the page's history the model read the results %q", results)
		}
	})

	t.Run("phone", func(t *testing.T) {
		p := openTab(t, browser, srv.URL, phoneWidth, phoneHeight, "")
		p.send("Write two files.")
		p.wait("the approval requests", waitingCards, 10*time.Second)
		noSideways(t, p, phoneWidth)
		if h := eval[float64](p, `Math.min(...[...document.querySelectorAll(".approval button")].map((b) => b.getBoundingClientRect().height))`); h < 44 {
			t.Errorf("the approval buttons are %.0f px high on a phone, want at least 44", h)
		}
		p.shot("phone-approval-waiting")
		p.do("360 px", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulatePortrait))
		noSideways(t, p, 360)
		p.shot("phone-360-approval-waiting")

		// A message instead of an answer: the commands are not run.
		p.send("Leave it.")
		p.wait("the answer", `document.querySelectorAll('.message.assistant[data-done="true"]').length === 2 && document.querySelector(".message.assistant:last-of-type").textContent.includes("Left as it is.")`, 10*time.Second)
		if buttons, skipped := p.count(".approval button"), p.count(".chip.skipped"); buttons != 0 || skipped != 2 {
			t.Errorf("%d approval buttons left, %d chips not run; want 0 and 2", buttons, skipped)
		}
		chat := eval[string](p, `chatId`)
		for _, name := range []string{"approved.txt", "denied.txt"} {
			if _, err := get(t, srv.URL+"/api/file?chat="+chat+"&path="+name); err == nil {
				t.Errorf("%s exists: a command ran without approval", name)
			}
		}
		noSideways(t, p, 360)
		p.shot("phone-360-approval-not-run")
	})
}
