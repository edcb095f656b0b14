package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/local"
)

// TestSessionResumesInAnotherProcess writes a file in a session's first turn,
// ends that session as a process would on its way out, and resumes it from
// its JSON state with a new agent, whose turn reads the file.
func TestSessionResumesInAnotherProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	cfg := local.Config{Dir: dir}
	open := func(ctx context.Context) (agentbox.Sandbox, error) { return local.New(ctx, cfg) }
	first := agentbox.New(agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"notes.txt","content":"turn one was here\n"}]}`}}},
		agentboxtest.Reply("Written."),
	), agentbox.Options{Open: open}).NewSession(agentbox.SessionOptions{})
	if done := last(first.Send(t.Context(), "write notes.txt")); done.Err != nil {
		t.Fatal(done.Err)
	}
	state, err := json.Marshal(first.State())
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(t.Context()); err != nil { // the process ends; the given workspace stays
		t.Fatal(err)
	}

	var st agentbox.SessionState
	if err := json.Unmarshal(state, &st); err != nil {
		t.Fatal(err)
	}
	if st.Sandbox == nil || *st.Sandbox != (agentbox.SandboxRef{Backend: "local", ID: dir}) {
		t.Fatalf("state's sandbox = %+v, want the local workspace %s", st.Sandbox, dir)
	}
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "run_command", Args: `{"command":"cat notes.txt"}`}}},
		agentboxtest.Reply("It says turn one was here."),
	)
	second, err := agentbox.New(provider, agentbox.Options{Open: open}).
		ResumeSession(st, agentbox.SessionOptions{Reconnect: local.Reconnector(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(context.Background())
	var output string
	for ev := range second.Send(t.Context(), "what does notes.txt say?") {
		switch ev := ev.(type) {
		case agentbox.ToolResult:
			output = ev.Output
		case agentbox.Done:
			if ev.Err != nil || len(ev.Messages) != 8 {
				t.Fatalf("resumed turn: %v, %d messages; want nil and both turns", ev.Err, len(ev.Messages))
			}
		}
	}
	if want := "turn one was here\n[exit code 0]"; output != want {
		t.Errorf("the resumed turn's command printed %q, want the file of turn 1", output)
	}
	if got := provider.Requests()[0].Messages; len(got) != 5 || got[0].Content != "write notes.txt" {
		t.Errorf("the resumed turn sent %d messages, want turn 1's 4 and the new question", len(got))
	}
}

func TestReconnectorOfAMissingWorkspace(t *testing.T) {
	reconnect := local.Reconnector(local.Config{})
	_, err := reconnect(t.Context(), agentbox.SandboxRef{Backend: "local", ID: filepath.Join(t.TempDir(), "gone")})
	if !errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("missing workspace: %v, want ErrSandboxGone", err)
	}
	for _, ref := range []agentbox.SandboxRef{{Backend: "e2b", ID: "abc"}, {Backend: "local", ID: "relative/dir"}} {
		if sb, err := reconnect(t.Context(), ref); err == nil {
			sb.Close(t.Context())
			t.Errorf("Reconnect(%+v) succeeded", ref)
		}
	}
	if _, err := os.Stat("relative"); err == nil {
		t.Errorf("a relative reference made a folder")
	}
}

// last receives every event and returns the Done.
func last(events <-chan agentbox.Event) agentbox.Done {
	var done agentbox.Done
	for ev := range events {
		if d, ok := ev.(agentbox.Done); ok {
			done = d
		}
	}
	return done
}
