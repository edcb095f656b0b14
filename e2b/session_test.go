package e2b_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestSessionResumesInAnotherProcess writes a file in a session's first
// turn, leaves the sandbox running as a process that exits would, and
// resumes the session from its JSON state with a new agent: its turn
// reconnects to the sandbox, extends its lifetime and reads the file. When
// the sandbox has died meanwhile, the resumed turn gets a new one.
func TestSessionResumesInAnotherProcess(t *testing.T) {
	for _, killed := range []bool{false, true} {
		t.Run(map[bool]string{false: "alive", true: "killed"}[killed], func(t *testing.T) {
			srv := e2btest.NewServer(t, e2btest.Options{})
			cfg := srv.Config()
			cfg.Lifetime = time.Minute
			first := agentbox.New(agentboxtest.NewProvider(
				agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"notes.txt","content":"turn one was here\n"}]}`}}},
				agentboxtest.Reply("Written."),
			), agentbox.Options{Open: e2b.Opener(cfg)}).NewSession(agentbox.SessionOptions{Lifetime: time.Hour})
			if done := last(first.Send(t.Context(), "write notes.txt")); done.Err != nil {
				t.Fatal(done.Err)
			}
			state, err := json.Marshal(first.State())
			if err != nil {
				t.Fatal(err)
			}
			ids := srv.Sandboxes()
			if want := `"sandbox":{"kind":"e2b","id":"` + ids[0] + `"}`; len(ids) != 1 || !strings.Contains(string(state), want) {
				t.Fatalf("state %s, sandboxes %v; want it to name the one sandbox", state, ids)
			}
			if killed {
				srv.Kill(ids[0])
			}

			var st agentbox.SessionState
			if err := json.Unmarshal(state, &st); err != nil {
				t.Fatal(err)
			}
			provider := agentboxtest.NewProvider(
				agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "read_file", Args: `{"path":"notes.txt"}`}}},
				agentboxtest.Reply("done"),
			)
			second, err := agentbox.New(provider, agentbox.Options{Open: e2b.Opener(cfg)}).
				ResumeSession(st, agentbox.SessionOptions{Lifetime: time.Hour, Reconnect: e2b.Reconnector(cfg)})
			if err != nil {
				t.Fatal(err)
			}
			var read agentbox.ToolResult
			var warnings []error
			for ev := range second.Send(t.Context(), "read it") {
				switch ev := ev.(type) {
				case agentbox.ToolResult:
					read = ev
				case agentbox.Error:
					warnings = append(warnings, ev.Err)
				case agentbox.Done:
					if ev.Err != nil {
						t.Fatalf("resumed turn: %v", ev.Err)
					}
				}
			}
			if !killed {
				if read.Err != nil || read.Output != "turn one was here\n" || len(warnings) != 0 {
					t.Errorf("resumed turn read %q, %v (warnings %v); want turn 1's file", read.Output, read.Err, warnings)
				}
				infos, err := e2b.List(t.Context(), cfg, nil)
				if err != nil || len(infos) != 1 || time.Until(infos[0].EndAt) < 50*time.Minute {
					t.Errorf("sandboxes after the resumed turn: %+v, %v; want one with the session's hour left", infos, err)
				}
			} else if !errors.Is(read.Err, fs.ErrNotExist) || len(warnings) != 1 || !errors.Is(warnings[0], agentbox.ErrSandboxGone) {
				t.Errorf("resumed turn after the sandbox died: read %v, warnings %v; want a new sandbox without the file and one warning", read.Err, warnings)
			}
			if err := second.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			want := e2btest.Stats{Created: 1, Killed: 1}
			if killed {
				want = e2btest.Stats{Created: 2, Killed: 1, Died: 1}
			}
			if st := srv.Stats(); st != want {
				t.Errorf("after Close the fake counts %+v, want %+v", st, want)
			}
		})
	}
}

// TestClosingAResumedSessionKillsItsSandbox resumes a session and closes it
// before any turn: its sandbox is reached again, and killed.
func TestClosingAResumedSessionKillsItsSandbox(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb, err := e2b.New(t.Context(), srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	ref := sb.Ref()
	agent := agentbox.New(agentboxtest.NewProvider(), agentbox.Options{Open: e2b.Opener(srv.Config())})
	s, err := agent.ResumeSession(agentbox.SessionState{Sandbox: &ref}, agentbox.SessionOptions{Reconnect: e2b.Reconnector(srv.Config())})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Killed != 1 || st.Alive != 0 {
		t.Errorf("after Close the fake counts %+v, want the sandbox killed", st)
	}
}

func TestReconnectorOfOtherKinds(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	if _, err := e2b.Reconnector(srv.Config())(t.Context(), agentbox.SandboxRef{Backend: "local", ID: "/tmp"}); err == nil {
		t.Errorf("an e2b Reconnector reached a local sandbox")
	}
	_, err := e2b.Reconnector(srv.Config())(context.Background(), agentbox.SandboxRef{Backend: "e2b", ID: "nosuchsandbox"})
	if !errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("reconnecting to a missing sandbox: %v, want ErrSandboxGone", err)
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
