package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agentbox/agentbox"
)

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
		if ev.Failed() {
			status = "failed: " + failure(ev)
		}
		fmt.Fprintf(p.w, "  %s %s %s (%s)\n", mark(!ev.Failed()), ev.Name, status, round(ev.Duration))
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

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// summarize shows a tool call's arguments on one line: the paths of the
// files written, the command run, or the short arguments.
func summarize(tool string, args []byte) string {
	var in struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
		Command string `json:"command"`
		Port    int    `json:"port"`
	}
	if json.Unmarshal(args, &in) == nil {
		switch {
		case tool == "write_file" && len(in.Files) > 0:
			paths := make([]string, len(in.Files))
			for i, f := range in.Files {
				paths[i] = f.Path
			}
			return strings.Join(paths, ", ")
		case in.Command != "" && in.Port > 0:
			return fmt.Sprintf("$ %s (port %d)", oneLine(in.Command), in.Port)
		case in.Command != "":
			return "$ " + oneLine(in.Command)
		}
	}
	return oneLine(string(args))
}

// oneLine shortens s to one line of at most 100 characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:97]) + "..."
	}
	return s
}

// failure says why a failed call failed: its error, or how the command it
// ran ended.
func failure(ev agentbox.ToolResult) string {
	switch {
	case ev.Err != nil:
		return ev.Err.Error()
	case ev.Exit != nil && ev.Exit.Killed:
		return "killed"
	case ev.Exit != nil:
		return fmt.Sprintf("exit code %d", ev.Exit.Code)
	}
	return "failed"
}

// round shows a duration to a tenth of a millisecond, or to a millisecond
// from a second on.
func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}
