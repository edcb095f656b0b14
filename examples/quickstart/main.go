// Command quickstart runs the agent on a small task and prints what it does.
//
//	go run ./examples/quickstart ["prompt"]
//
// It needs no account and no network: the model is a recorded session
// replayed by agentboxtest, and the tools run in an in-memory sandbox.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

const defaultPrompt = "Build a counter web page: a number and a button that adds one, served by a tiny server."

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prompt := defaultPrompt
	if len(os.Args) > 1 {
		prompt = strings.Join(os.Args[1:], " ")
	}
	sb := agentboxtest.NewSandbox()
	if err := run(ctx, os.Stdout, sb, prompt); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run replays the recorded session against sb, printing the events to w.
func run(ctx context.Context, w io.Writer, sb agentbox.Sandbox, prompt string) error {
	fmt.Fprintln(w, "No live model configured: replaying a recorded session offline, with an in-memory sandbox.")
	fmt.Fprintf(w, "\n> %s\n\n", prompt)
	agent := agentbox.New(agentboxtest.NewProvider(recording()...), agentbox.Options{Sandbox: sb})
	p := printer{w: w}
	var done agentbox.Done
	for ev := range agent.Run(ctx, prompt) {
		if d, ok := ev.(agentbox.Done); ok {
			done = d
		}
		p.print(ev)
	}
	if done.Err != nil {
		return done.Err
	}
	return nil
}

// printer shows events as a person likes to read them: streamed text, one
// line per tool call with its duration, command output indented.
type printer struct {
	w       io.Writer
	tools   int
	midLine bool // the last text printed did not end a line
}

func (p *printer) print(ev agentbox.Event) {
	switch ev := ev.(type) {
	case agentbox.Token:
		if !ev.Reasoning {
			fmt.Fprint(p.w, ev.Text)
			p.midLine = !strings.HasSuffix(ev.Text, "\n")
		}
	case agentbox.ToolStart:
		p.endLine()
		p.tools++
		fmt.Fprintf(p.w, "  ▶ %s %s\n", ev.Name, summarize(ev.Name, ev.Args))
	case agentbox.ToolOutput:
		for line := range strings.Lines(ev.Text) {
			fmt.Fprintf(p.w, "    │ %s", line)
			if !strings.HasSuffix(line, "\n") {
				fmt.Fprintln(p.w)
			}
		}
	case agentbox.ToolResult:
		status := "ok"
		if ev.Err != nil {
			status = "error: " + ev.Err.Error()
		}
		fmt.Fprintf(p.w, "  ✓ %s %s (%s)\n", ev.Name, status, round(ev.Duration))
	case agentbox.Error:
		p.endLine()
		fmt.Fprintf(p.w, "  ! %v\n", ev.Err)
	case agentbox.Done:
		p.endLine()
		fmt.Fprintf(p.w, "\n%s: %d steps, %d tool calls, %d tokens, %s elapsed\n",
			ev.Reason, ev.Steps, p.tools, ev.Usage.TotalTokens(), round(ev.Elapsed))
	}
}

func (p *printer) endLine() {
	if p.midLine {
		fmt.Fprintln(p.w)
		p.midLine = false
	}
}

// summarize shows a tool call's arguments on one line: the paths of the
// files written, or the short arguments.
func summarize(tool string, args []byte) string {
	var in struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if tool == "write_file" && json.Unmarshal(args, &in) == nil {
		var paths []string
		for _, f := range in.Files {
			paths = append(paths, f.Path)
		}
		return strings.Join(paths, ", ")
	}
	s := strings.Join(strings.Fields(string(args)), " ")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

// round shows a duration to a tenth of a millisecond.
func round(d time.Duration) time.Duration {
	return d.Round(100 * time.Microsecond)
}
