package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// provider returns an OpenRouter provider of the fake server srv.
func provider(t *testing.T, srv *openroutertest.Server) *openrouter.Provider {
	t.Helper()
	p, err := openrouter.New(openrouter.Config{APIKey: "sk-or-test", BaseURL: srv.URL, Models: []string{"test/model"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChatKeepsTheConversation(t *testing.T) {
	srv := openroutertest.NewServer(t, openroutertest.FromSteps(
		agentboxtest.Step{Text: []string{"Writing it."}, Calls: []agentboxtest.Call{{ID: "c1", Name: "write_file", Args: `{"files":[{"path":"note.txt","content":"remember me"}]}`}}},
		agentboxtest.Reply("Written."),
		agentboxtest.Step{Delay: 300 * time.Millisecond, Text: []string{"It says: remember me."}},
	)...)
	p := provider(t, srv)
	sb := agentboxtest.NewSandbox()
	var out strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := chat(ctx, strings.NewReader("Write note.txt\nWhat does it say?\n\n"), &out, p, agentboxtest.Opener(sb, 0), settings{spin: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := sb.File("note.txt"); string(got) != "remember me" || sb.Closes() != 1 {
		t.Errorf("note.txt = %q, sandbox closed %d times; want the note, and the sandbox closed when the chat ended", got, sb.Closes())
	}
	for _, want := range []string{"Writing it.", "  ▶ write_file ", "  ✓ write_file ok (", "Written.", "thinking…", "It says: remember me."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	reqs := srv.Requests()
	last, err := reqs[len(reqs)-1].AgentboxRequest()
	if err != nil {
		t.Fatal(err)
	}
	// The second turn carries the first: user, assistant+call, tool, assistant, user.
	if n := len(last.Messages); n != 5 || last.Messages[0].Content != "Write note.txt" || last.Messages[4].Content != "What does it say?" {
		t.Errorf("the second turn sent %d messages: %+v", n, last.Messages)
	}
}

func TestChatShowsFailedCallsAsFailures(t *testing.T) {
	srv := openroutertest.NewServer(t, openroutertest.FromSteps(
		agentboxtest.Step{Calls: []agentboxtest.Call{
			{ID: "c1", Name: "write_file", Args: `{"path":"a.txt","content":"x"}`},
			{ID: "c2", Name: "run_command", Args: `{"command":"grep missing notes.txt"}`},
			{ID: "c3", Name: "run_command", Args: `{"command":"echo fine"}`},
		}},
		agentboxtest.Reply("Fixing it."),
	)...)
	p := provider(t, srv)
	sb := agentboxtest.NewSandbox()
	sb.Handler = func(_ context.Context, _ *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		if strings.HasPrefix(cmd.Cmd, "grep") {
			fmt.Fprintln(cmd.Stderr, "grep: notes.txt: No such file or directory")
			return agentbox.Result{ExitCode: 2}, nil
		}
		fmt.Fprintln(cmd.Stdout, "fine")
		return agentbox.Result{}, nil
	}
	var out strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := chat(ctx, strings.NewReader("Write a.txt\n\n"), &out, p, agentboxtest.Opener(sb, 0), settings{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`  ✗ write_file invalid arguments: 2 problems: - missing required property "files" - unexpect... (`,
		"  ✗ run_command exit code 2 (",
		"  ✓ run_command exit code 0 (",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "✓ write_file") || strings.Contains(out.String(), "✓ run_command ok") {
		t.Errorf("a failed call is shown as a success:\n%s", out.String())
	}
}

func TestChatAsksBeforeCommands(t *testing.T) {
	srv := openroutertest.NewServer(t, openroutertest.FromSteps(
		agentboxtest.Step{Calls: []agentboxtest.Call{
			{ID: "c1", Name: "run_command", Args: `{"command":"echo yes > yes.txt"}`},
			{ID: "c2", Name: "run_command", Args: `{"command":"echo no > no.txt"}`},
			{ID: "c3", Name: "run_command", Args: `{"command":"echo later > later.txt"}`},
		}},
		agentboxtest.Reply("Done what I may."),
	)...)
	p := provider(t, srv)
	sb := agentboxtest.NewSandbox()
	var out strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	in := "Make the files\ny\nn\nnot that one\n\n"
	if err := chat(ctx, strings.NewReader(in), &out, p, agentboxtest.Opener(sb, 0), settings{approve: true}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"yes.txt": true, "no.txt": false, "later.txt": false} {
		if _, ok := sb.File(name); ok != want {
			t.Errorf("%s written: %v, want %v", name, ok, want)
		}
	}
	for _, want := range []string{
		"? run_command: echo yes > yes.txt\n    run it? y, or why not: ",
		"⊘ run_command the user denied this call (",
		"⊘ run_command the user denied this call: not that one (",
		"Done what I may.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	reqs := srv.Requests()
	last, err := reqs[len(reqs)-1].AgentboxRequest()
	if err != nil {
		t.Fatal(err)
	}
	if got := last.Messages[4].Content; got != "Error: the user denied this call: not that one" {
		t.Errorf("the model read %q", got)
	}
}
