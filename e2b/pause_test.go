package e2b_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// readString reads a whole file of sb.
func readString(t *testing.T, sb agentbox.Sandbox, path string) string {
	t.Helper()
	data, err := agentbox.ReadFile(t.Context(), sb, path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}

// stateOf returns the state List reports for sandbox id.
func stateOf(t *testing.T, cfg e2b.Config, id string) string {
	t.Helper()
	infos, err := e2b.List(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.ID == id {
			return info.State
		}
	}
	return "gone"
}

// TestPauseResumesOnUse pauses a sandbox: it is listed as paused, pausing
// it again is no error, and the next command resumes it, transparently,
// finding its files. Resume resumes it at once.
func TestPauseResumesOnUse(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	sb := newSandbox(t, cfg)
	if err := sb.WriteFiles(t.Context(), []agentbox.File{{Path: "state.txt", Data: []byte("before the pause\n")}}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Pause(t.Context()); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if err := sb.Pause(t.Context()); err != nil {
		t.Errorf("Pause of a paused sandbox: %v, want nil", err)
	}
	if st := srv.Stats(); st.Paused != 1 || st.PausedNow != 1 {
		t.Fatalf("after Pause the fake counts %+v, want it paused", st)
	}
	if s := stateOf(t, cfg, sb.ID()); s != "paused" {
		t.Errorf("List says the sandbox is %s, want paused", s)
	}
	var out bytes.Buffer
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "cat state.txt", Stdout: &out}); err != nil || out.String() != "before the pause\n" {
		t.Fatalf("Run in the paused sandbox = %q, %v; want it resumed and the file there", out.String(), err)
	}
	if st := srv.Stats(); st.Resumed != 1 || st.PausedNow != 0 {
		t.Errorf("after Run the fake counts %+v, want one resume", st)
	}

	if err := sb.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := sb.Resume(t.Context()); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if err := sb.Resume(t.Context()); err != nil {
		t.Errorf("Resume of a running sandbox: %v", err)
	}
	if st := srv.Stats(); st.Paused != 2 || st.Resumed != 2 || st.PausedNow != 0 {
		t.Errorf("after Pause and Resume the fake counts %+v, want two of each", st)
	}
	if s := stateOf(t, cfg, sb.ID()); s != "running" {
		t.Errorf("List says the resumed sandbox is %s", s)
	}
}

// TestPausedElsewhereResumesOnUse has E2B pause the sandbox behind the
// Sandbox's back, as another client or an autoPause lifetime would: each
// kind of call finds it paused at E2B's edge, resumes it and is sent again
// (an upload with its body), and SetLifetime, whose 404 would say the
// sandbox is gone, finds it paused and resumes it.
func TestPausedElsewhereResumesOnUse(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	calls := []struct {
		name string
		do   func() error
	}{
		{"WriteFiles", func() error {
			return sb.WriteFiles(t.Context(), []agentbox.File{{Path: "up.txt", Data: []byte("uploaded")}})
		}},
		{"Open", func() error {
			if got := readString(t, sb, "up.txt"); got != "uploaded" {
				t.Errorf("read %q after a resume, want the upload", got)
			}
			return nil
		}},
		{"List", func() error { _, err := sb.List(t.Context(), "."); return err }},
		{"Run", func() error { _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); return err }},
		{"SetLifetime", func() error { return sb.SetLifetime(t.Context(), time.Hour) }},
	}
	for i, c := range calls {
		if !srv.Pause(sb.ID()) {
			t.Fatalf("%s: the fake did not pause the sandbox", c.name)
		}
		if err := c.do(); err != nil {
			t.Errorf("%s on a sandbox paused elsewhere: %v, want it resumed", c.name, err)
		}
		if st := srv.Stats(); st.Resumed != i+1 || st.PausedNow != 0 {
			t.Errorf("%s: the fake counts %+v, want the sandbox resumed", c.name, st)
		}
	}
}

// TestPausedSandboxGone kills a paused sandbox: using it fails with an
// error that says it is paused and could not be resumed because it is
// gone; Resume says it is gone.
func TestPausedSandboxGone(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	if err := sb.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Kill(sb.ID())
	_, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"})
	if !errors.Is(err, e2b.ErrPaused) || !errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("Run in a paused sandbox that is gone: %v, want e2b.ErrPaused and agentbox.ErrSandboxGone", err)
	}
	if err := sb.Resume(t.Context()); !errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("Resume of a sandbox that is gone: %v, want agentbox.ErrSandboxGone", err)
	}
	if strings.Contains(err.Error(), srv.APIKey()) {
		t.Errorf("the error shows the API key: %v", err)
	}
}

// lines counts the lines written to it.
type lines struct {
	mu sync.Mutex
	n  int
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func (l *lines) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// TestPauseFreezesBackgroundProcesses pauses a sandbox running a
// background process: it stops writing while the sandbox is paused, its
// dropped stream waits without resuming the sandbox, and once the sandbox
// resumes the process goes on and its output comes again.
func TestPauseFreezesBackgroundProcesses(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	var out lines
	p, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: "while true; do echo tick; sleep 0.02; done", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return out.count() > 2 })
	if err := sb.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // what the stream had in flight arrives
	frozen := out.count()
	time.Sleep(700 * time.Millisecond) // longer than the re-attaching would give up after
	if st := srv.Stats(); st.PausedNow != 1 || st.Resumed != 0 {
		t.Fatalf("while paused with a background process the fake counts %+v, want it left paused", st)
	}
	if n := out.count(); n != frozen {
		t.Errorf("the process wrote %d lines while the sandbox was paused", n-frozen)
	}
	if err := sb.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return out.count() > frozen+2 })
	if err := sb.StopProcess(t.Context(), p.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(t.Context()); err != nil {
		t.Errorf("Wait after the pause: %v, want its stream kept", err)
	}
}

// TestAutoPause creates a sandbox with Config.AutoPause and a lifetime of
// a second: at its end E2B pauses it instead of killing it, and Connect
// resumes it, with its files.
func TestAutoPause(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	cfg.AutoPause = true
	cfg.Lifetime = time.Second
	sb := newSandbox(t, cfg)
	if err := sb.WriteFiles(t.Context(), []agentbox.File{{Path: "kept.txt", Data: []byte("kept")}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Stats().PausedNow == 1 })
	if st := srv.Stats(); st.Expired != 0 || st.Alive != 1 {
		t.Errorf("at the end of its lifetime the fake counts %+v, want it paused, not expired", st)
	}
	cfg.Lifetime = time.Minute
	again, err := e2b.Connect(t.Context(), sb.ID(), cfg)
	if err != nil {
		t.Fatalf("Connect to the paused sandbox: %v", err)
	}
	if got := readString(t, again, "kept.txt"); got != "kept" {
		t.Errorf("after Connect the file is %q", got)
	}
	if st := srv.Stats(); st.Resumed != 1 {
		t.Errorf("the fake counts %+v, want one resume", st)
	}
}

// TestCreateSettings checks what Config asks E2B for: a secure sandbox
// with internet access and no autoPause by default, and the opposite of
// each when asked.
func TestCreateSettings(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	detail := func(id string) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "https://api.example.com/sandboxes/"+id, nil)
		req.Header.Set("X-API-Key", srv.APIKey())
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.String()
	}
	def := newSandbox(t, srv.Config())
	if d := detail(def.ID()); srv.AccessToken(def.ID()) == "" || !strings.Contains(d, `"allowInternetAccess":true`) || !strings.Contains(d, `"onTimeout":"kill"`) {
		t.Errorf("by default: token %q, %s; want a secure sandbox with internet access, killed at the end of its lifetime", srv.AccessToken(def.ID()), d)
	}
	cfg := srv.Config()
	cfg.Insecure, cfg.NoInternet, cfg.AutoPause = true, true, true
	sb := newSandbox(t, cfg)
	if d := detail(sb.ID()); srv.AccessToken(sb.ID()) != "" || !strings.Contains(d, `"allowInternetAccess":false`) || !strings.Contains(d, `"onTimeout":"pause"`) {
		t.Errorf("Insecure, NoInternet, AutoPause: token %q, %s", srv.AccessToken(sb.ID()), d)
	}
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
		t.Errorf("Run in an insecure sandbox: %v", err)
	}
}

// TestFork forks a sandbox in two: each fork has the files of the source
// and goes its own way; the source goes on. A paused source is resumed to
// be forked.
func TestFork(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	src := newSandbox(t, srv.Config())
	if err := src.WriteFiles(t.Context(), []agentbox.File{{Path: "plan.txt", Data: []byte("shared")}}); err != nil {
		t.Fatal(err)
	}
	if err := src.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	forks, err := src.Fork(t.Context(), 2)
	if err != nil || len(forks) != 2 {
		t.Fatalf("Fork(2) = %d forks, %v", len(forks), err)
	}
	for i, f := range forks {
		t.Cleanup(func() { f.Close(context.Background()) })
		if f.ID() == src.ID() || (i == 1 && f.ID() == forks[0].ID()) {
			t.Errorf("fork %d has ID %s, want a new sandbox", i, f.ID())
		}
		if got := readString(t, f, "plan.txt"); got != "shared" {
			t.Errorf("fork %d reads %q, want the source's file", i, got)
		}
		approach := []byte{'a' + byte(i)}
		if err := f.WriteFiles(t.Context(), []agentbox.File{{Path: "plan.txt", Data: approach}}); err != nil {
			t.Fatal(err)
		}
	}
	if a, b, s := readString(t, forks[0], "plan.txt"), readString(t, forks[1], "plan.txt"), readString(t, src, "plan.txt"); a != "a" || b != "b" || s != "shared" {
		t.Errorf("after each went its way: forks %q and %q, source %q", a, b, s)
	}
	if st := srv.Stats(); st.Forked != 2 || st.Resumed != 1 || st.Alive != 3 {
		t.Errorf("the fake counts %+v, want the paused source resumed and two forks", st)
	}
	for _, f := range forks {
		if err := f.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}
	if st := srv.Stats(); st.Alive != 1 {
		t.Errorf("after closing the forks %d sandboxes are alive, want the source", st.Alive)
	}
}

// TestForkAllOrNothing makes one of three forks fail: Fork fails, saying
// why, and the two that started are killed.
func TestForkAllOrNothing(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	src := newSandbox(t, srv.Config())
	srv.FailCreates(http.StatusTooManyRequests, 1)
	forks, err := src.Fork(t.Context(), 3)
	if forks != nil || !errors.Is(err, e2b.ErrRateLimited) {
		t.Fatalf("Fork with a fork failing = %v, %v; want nothing, and an error matching e2b.ErrRateLimited", forks, err)
	}
	if st := srv.Stats(); st.Forked != 2 || st.Killed != 2 || st.Alive != 1 {
		t.Errorf("the fake counts %+v, want the two forks that started killed", st)
	}
	for _, n := range []int{0, e2b.MaxForks + 1} {
		if _, err := src.Fork(t.Context(), n); err == nil {
			t.Errorf("Fork(%d) succeeded", n)
		}
	}
}

// TestPauseInDebugMode: a local envd has no control plane to pause it.
func TestPauseInDebugMode(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{Debug: true})
	sb, err := e2b.New(t.Context(), e2b.Config{Debug: true, HTTPClient: srv.DebugClient()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	if err := sb.Pause(t.Context()); !errors.Is(err, agentbox.ErrNotSupported) {
		t.Errorf("Pause in debug mode: %v, want agentbox.ErrNotSupported", err)
	}
	if _, err := sb.Fork(t.Context(), 1); !errors.Is(err, agentbox.ErrNotSupported) {
		t.Errorf("Fork in debug mode: %v, want agentbox.ErrNotSupported", err)
	}
	if err := sb.Resume(t.Context()); err != nil {
		t.Errorf("Resume in debug mode: %v", err)
	}
}

// TestSessionPausesItsE2BSandbox runs a session on the fake: between turns
// the sandbox is paused once the session idles, and the next turn resumes
// it and finds its file.
func TestSessionPausesItsE2BSandbox(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	cfg.Lifetime = time.Minute
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"notes.txt","content":"kept\n"}]}`}}},
		agentboxtest.Reply("Written."),
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "read_file", Args: `{"path":"notes.txt"}`}}},
		agentboxtest.Reply("done"),
	)
	s := agentbox.New(p, agentbox.Options{Open: e2b.Opener(cfg)}).NewSession(agentbox.SessionOptions{Lifetime: time.Hour, PauseAfter: 200 * time.Millisecond})
	if done := last(s.Send(t.Context(), "write")); done.Err != nil {
		t.Fatal(done.Err)
	}
	waitFor(t, func() bool { return srv.Stats().PausedNow == 1 })
	events := s.Send(t.Context(), "read")
	var read agentbox.ToolResult
	var done agentbox.Done
	for ev := range events {
		switch ev := ev.(type) {
		case agentbox.ToolResult:
			read = ev
		case agentbox.Error:
			t.Errorf("error event: %v", ev.Err)
		case agentbox.Done:
			done = ev
		}
	}
	if done.Err != nil || read.Err != nil || !strings.Contains(read.Output, "kept") {
		t.Fatalf("the turn after the pause: %v, read %q, %v", done.Err, read.Output, read.Err)
	}
	if st := srv.Stats(); st.Resumed != 1 || st.Created != 1 {
		t.Errorf("the fake counts %+v, want the one sandbox resumed", st)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Alive != 0 {
		t.Errorf("after Close the fake counts %+v, want the sandbox killed", st)
	}
}
