// Command chat is a terminal chat with a coding agent on OpenRouter, whose
// tools run in a sandbox that lasts the whole conversation: a local one, or
// an E2B one when E2B_API_KEY is set.
//
//	OPENROUTER_API_KEY=sk-or-... go run ./examples/chat
//
// OPENROUTER_MODEL picks the model (models separated by commas fall back in
// order), OPENROUTER_BASE_URL another OpenAI-compatible server, a local one
// with no key too (OPENROUTER_BASE_URL=http://localhost:11434/v1 for
// Ollama; without OPENROUTER_MODEL, its first model). Each line you
// type is a turn; the answer streams, with a line per tool call, and a
// spinner while the model thinks. An empty line or Ctrl-D ends the chat, and
// the sandbox with it.
//
// With -approve, each command waits for your answer before it runs: y runs
// it; anything else denies it, and what you typed tells the model why.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/examples/internal/choose"
	"github.com/agentbox/agentbox/openrouter"
	"golang.org/x/term"
)

const defaultModel = "anthropic/claude-sonnet-4.5"

func main() {
	approve := flag.Bool("approve", false, "ask before each command runs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := start(ctx, *approve); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func start(ctx context.Context, approve bool) error {
	// OPENROUTER_API_KEY, or OPENROUTER_BASE_URL alone for a local model server.
	p, cfg, err := choose.Model(ctx, defaultModel, "agentbox chat")
	if err == nil && p == nil {
		_, err = openrouter.New(cfg) // neither is set: it says what to set
	}
	if err != nil {
		return err
	}
	if err := p.Check(ctx); err != nil {
		return err
	}
	fmt.Printf("%s · %s sandbox\nType a message; an empty line ends the chat.\n", strings.Join(cfg.Models, ", "), choose.Backend())
	return chat(ctx, os.Stdin, os.Stdout, p, choose.Opener(), settings{spin: term.IsTerminal(int(os.Stdout.Fd())), approve: approve})
}

// settings are how the chat shows and asks.
type settings struct {
	spin    bool // a spinner shows while the model thinks
	approve bool // commands wait for the user's approval
}

// chat reads turns from in and streams the agent's answers to out, in a
// session: the conversation and the sandbox, opened at the first turn that
// needs it, last until the chat ends.
func chat(ctx context.Context, in io.Reader, out io.Writer, p agentbox.Provider, open agentbox.Opener, set settings) error {
	lines := bufio.NewScanner(in)
	opts := agentbox.Options{Open: open}
	var ask func(agentbox.ApprovalRequest)
	a := &approver{lines: lines, out: out, answers: make(chan agentbox.Approval, 1)}
	if set.approve {
		opts.NeedsApproval, opts.Approve, ask = a.needsApproval, a.approve, a.ask
	}
	session := agentbox.New(p, opts).NewSession(agentbox.SessionOptions{})
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		session.Close(ctx)
	}()
	for {
		fmt.Fprint(out, "\n› ")
		if !lines.Scan() || strings.TrimSpace(lines.Text()) == "" {
			fmt.Fprintln(out)
			return lines.Err()
		}
		a.reset()
		done := turn(ctx, out, session.Send(ctx, lines.Text()), set.spin, ask)
		if done.Err != nil {
			fmt.Fprintf(out, "\n! %v\n", done.Err)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
}

// spinner frames, shown while waiting for the model.
var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// An approver asks the user, on the chat's terminal, to approve commands.
// The run's goroutine only waits in Approve; the turn reads the answer and
// hands it over.
type approver struct {
	lines   *bufio.Scanner
	out     io.Writer
	answers chan agentbox.Approval // holds one, so that ask never waits
}

// needsApproval is the agent's policy: commands need approval.
func (a *approver) needsApproval(c agentbox.ToolCall) bool {
	return c.Name == "run_command" || c.Name == "start_process"
}

// approve is the agent's Approve: it waits for the answer ask hands over.
func (a *approver) approve(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
	select {
	case ans := <-a.answers:
		return ans, nil
	case <-ctx.Done():
		return agentbox.Approval{}, ctx.Err()
	}
}

// ask reads the user's answer to req: y runs the command; anything else
// denies it, and a reason given is the model's to read.
func (a *approver) ask(req agentbox.ApprovalRequest) {
	var args agentbox.RunCommandArgs
	json.Unmarshal(req.Args, &args)
	fmt.Fprintf(a.out, "\n  ? %s: %s\n    run it? y, or why not: ", req.Name, short(args.Command))
	answer := ""
	if a.lines.Scan() {
		answer = strings.TrimSpace(a.lines.Text())
	}
	switch strings.ToLower(answer) {
	case "y", "yes":
		a.answers <- agentbox.Approval{Approved: true}
	case "", "n", "no":
		a.answers <- agentbox.Approval{}
	default:
		a.answers <- agentbox.Approval{Reason: answer}
	}
}

// reset drops an answer a turn that ended while the user typed left behind.
func (a *approver) reset() {
	select {
	case <-a.answers:
	default:
	}
}

// turn prints the events of one turn and returns its Done. ask, when not
// nil, asks the user to approve a call.
func turn(ctx context.Context, out io.Writer, events <-chan agentbox.Event, spin bool, ask func(agentbox.ApprovalRequest)) agentbox.Done {
	var (
		done    agentbox.Done
		tick    <-chan time.Time
		frame   int
		waiting = spin
	)
	if spin {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	stopSpinning := func() {
		if waiting {
			fmt.Fprint(out, "\r\033[K")
			waiting = false
		}
	}
	for {
		select {
		case <-tick:
			if waiting {
				fmt.Fprintf(out, "\r%s thinking…", frames[frame%len(frames)])
				frame++
			}
		case ev, ok := <-events:
			if !ok {
				stopSpinning()
				fmt.Fprintln(out)
				return done
			}
			switch ev := ev.(type) {
			case agentbox.Token:
				if !ev.Reasoning {
					stopSpinning()
					fmt.Fprint(out, ev.Text)
				}
			case agentbox.ApprovalRequest:
				stopSpinning()
				if ask != nil {
					ask(ev)
				}
				waiting = spin
			case agentbox.ToolStart:
				stopSpinning()
				fmt.Fprintf(out, "\n  ▶ %s %s", ev.Name, short(string(ev.Args)))
			case agentbox.ToolResult:
				mark, text := status(ev)
				fmt.Fprintf(out, "\n  %s %s %s (%s)\n", mark, ev.Name, text, ev.Duration.Round(time.Millisecond))
				waiting = spin // the model thinks again
			case agentbox.Error:
				if !ev.Fatal {
					stopSpinning()
					fmt.Fprintf(out, "\n  ! %s\n", short(ev.Err.Error()))
				}
			case agentbox.Done:
				done = ev
			}
		}
	}
}

// status shows how a tool call ended: ✓ and "ok", or ✗ and why it failed,
// with the exit code of the command it ran.
func status(ev agentbox.ToolResult) (mark, text string) {
	switch x := ev.Exit; {
	case errors.Is(ev.Err, agentbox.ErrDenied):
		return "⊘", short(ev.Err.Error())
	case ev.Err != nil && x != nil:
		return "✗", fmt.Sprintf("exit code %d: %s", x.Code, short(ev.Err.Error()))
	case ev.Err != nil:
		return "✗", short(ev.Err.Error())
	case x != nil && x.Killed:
		return "✗", fmt.Sprintf("exit code %d (killed)", x.Code)
	case x != nil && x.Code != 0:
		return "✗", fmt.Sprintf("exit code %d", x.Code)
	case x != nil:
		return "✓", "exit code 0"
	}
	return "✓", "ok"
}

// short cuts s to one line of at most 80 characters.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "..."
	}
	return s
}
