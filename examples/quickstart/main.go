// Command quickstart watches an agent build a small web app, for real, in a
// sandbox: a local one, or an E2B one when E2B_API_KEY is set.
//
//	go run ./examples/quickstart ["prompt"]
//
// With OPENROUTER_API_KEY set (and OPENROUTER_MODEL, OPENROUTER_BASE_URL if
// wanted), a live model does the work; so it does with OPENROUTER_BASE_URL
// alone, for a local model server such as Ollama
// (OPENROUTER_BASE_URL=http://localhost:11434/v1 OPENROUTER_MODEL=qwen3), on
// the first model it lists when OPENROUTER_MODEL is not set. Otherwise it
// needs no account and no network: the model is a recorded session,
// replayed by agentboxtest's Provider, but the sandbox work is real either
// way. The agent writes a counter page and a tiny Node.js server into a temporary
// workspace (isolated with bubblewrap when it is installed), runs a command
// that checks them, starts the server and hands out its URL. From a terminal,
// the app keeps running until Ctrl-C; then the sandbox is removed. The exit
// code is 1 when anything failed. With E2B_API_KEY set (and the other E2B_*
// variables if wanted), the same happens in an E2B sandbox, and the app's
// URL is its public preview URL.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/examples/internal/choose"
	"github.com/agentbox/agentbox/examples/internal/replay"
	"github.com/agentbox/agentbox/openrouter"
	"golang.org/x/term"
)

const defaultPrompt = replay.Prompt

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	prompt := defaultPrompt
	if len(os.Args) > 1 {
		prompt = strings.Join(os.Args[1:], " ")
	}
	if err := quickstart(ctx, os.Stdout, prompt, term.IsTerminal(int(os.Stdin.Fd()))); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// quickstart runs the agent on prompt in a new sandbox, printing to w.
// When stay is set and the app runs, it keeps the sandbox until ctx is done.
func quickstart(ctx context.Context, w io.Writer, prompt string, stay bool) error {
	provider, live, err := chooseProvider(ctx, w)
	if err != nil {
		return err
	}
	if !live && prompt != defaultPrompt {
		fmt.Fprintln(w, "The recording answers the default prompt; your own needs a live model.")
		prompt = defaultPrompt
	}
	sb, err := choose.Sandbox(ctx)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		sb.Close(ctx)
	}()
	fmt.Fprintf(w, "Sandbox: %s\n", sb)
	if _, err := exec.LookPath("node"); err != nil && !live && choose.IsLocal(sb) {
		return errors.New("the recorded session runs Node.js, and node is not installed (e.g. apt-get install nodejs)")
	}
	if provider == nil {
		port, err := replay.FreePort()
		if err != nil {
			return err
		}
		provider = agentboxtest.NewProvider(replay.Steps(port)...)
	}
	out, err := run(ctx, w, provider, sb, prompt, !live)
	if err != nil {
		return err
	}
	if out.url == "" {
		return nil
	}
	if !stay {
		fmt.Fprintf(w, "\nThe app answered at %s; closing the sandbox.\n", out.url)
		return nil
	}
	fmt.Fprintf(w, "\nThe app runs at %s — open it in a browser. Ctrl-C stops it and removes the sandbox.\n", out.url)
	<-ctx.Done()
	fmt.Fprintln(w)
	return nil
}

// defaultModel is the model asked when OPENROUTER_MODEL is not set.
const defaultModel = "anthropic/claude-sonnet-4.5"

// chooseProvider returns the live model's provider when the environment
// names one (OPENROUTER_API_KEY, or OPENROUTER_BASE_URL alone for a local
// model server: see choose.Model), after checking the key and the model;
// otherwise nil, for the recording.
func chooseProvider(ctx context.Context, w io.Writer) (agentbox.Provider, bool, error) {
	p, cfg, err := choose.Model(ctx, defaultModel, "agentbox quickstart")
	if err != nil {
		return nil, false, err
	}
	if p == nil {
		fmt.Fprintln(w, "No OPENROUTER_API_KEY nor OPENROUTER_BASE_URL: replaying a recorded session (the sandbox work is real).")
		return nil, false, nil
	}
	if err := p.Check(ctx); err != nil {
		return nil, false, err
	}
	fmt.Fprintf(w, "Live model: %s on %s.\n", strings.Join(cfg.Models, ", then "), cmp.Or(cfg.BaseURL, openrouter.DefaultBaseURL))
	return p, true, nil
}

// outcome is what a run made.
type outcome struct {
	url string // where the server it started answers, if it started one
}

// run runs the agent on prompt in sb and prints its events to w. When
// strict is set (a recorded session, which cannot react to failures), a
// failed tool call fails the run.
func run(ctx context.Context, w io.Writer, provider agentbox.Provider, sb agentbox.Sandbox, prompt string, strict bool) (outcome, error) {
	fmt.Fprintf(w, "\n> %s\n\n", prompt)
	agent := agentbox.New(provider, agentbox.Options{Sandbox: sb})
	p := printer{w: w}
	var (
		done   agentbox.Done
		failed []string
		port   int
	)
	for ev := range agent.Run(ctx, prompt) {
		p.print(ev)
		switch ev := ev.(type) {
		case agentbox.ToolStart:
			if ev.Name == "start_process" {
				port = portOf(ev.Args)
			}
		case agentbox.ToolResult:
			if ev.Failed() {
				failed = append(failed, fmt.Sprintf("%s: %s", ev.Name, failure(ev)))
			}
		case agentbox.Done:
			done = ev
		}
	}
	if done.Err != nil {
		return outcome{}, done.Err
	}
	if strict && len(failed) > 0 {
		return outcome{}, fmt.Errorf("the recorded session needs bash and Node.js in the sandbox, and a step failed: %s", strings.Join(failed, "; "))
	}
	var out outcome
	if pv, ok := sb.(agentbox.Previewer); ok && port > 0 {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		url, err := pv.PreviewURL(ctx, port)
		if err != nil {
			return out, fmt.Errorf("the app's server does not answer: %w", err)
		}
		out.url = url
	}
	return out, nil
}

// portOf returns the port in a start_process call's arguments, or 0.
func portOf(args []byte) int {
	var in struct {
		Port int `json:"port"`
	}
	if json.Unmarshal(args, &in) != nil {
		return 0
	}
	return in.Port
}
