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
package main

import (
	"bufio"
	"context"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func start(ctx context.Context) error {
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
	return chat(ctx, os.Stdin, os.Stdout, p, choose.Opener(), term.IsTerminal(int(os.Stdout.Fd())))
}

// chat reads turns from in and streams the agent's answers to out, in a
// session: the conversation and the sandbox, opened at the first turn that
// needs it, last until the chat ends. With spin set, a spinner shows while
// the model thinks.
func chat(ctx context.Context, in io.Reader, out io.Writer, p agentbox.Provider, open agentbox.Opener, spin bool) error {
	session := agentbox.New(p, agentbox.Options{Open: open}).NewSession(agentbox.SessionOptions{})
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		session.Close(ctx)
	}()
	lines := bufio.NewScanner(in)
	for {
		fmt.Fprint(out, "\n› ")
		if !lines.Scan() || strings.TrimSpace(lines.Text()) == "" {
			fmt.Fprintln(out)
			return lines.Err()
		}
		done := turn(ctx, out, session.Send(ctx, lines.Text()), spin)
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

// turn prints the events of one turn and returns its Done.
func turn(ctx context.Context, out io.Writer, events <-chan agentbox.Event, spin bool) agentbox.Done {
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
