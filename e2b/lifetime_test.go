package e2b_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

func TestLifetime(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	cfg.Lifetime = 700 * time.Millisecond // sent as 1 s: E2B counts whole seconds
	short := newSandbox(t, cfg)
	long := newSandbox(t, cfg)
	if err := long.SetLifetime(t.Context(), time.Hour); err != nil {
		t.Fatalf("SetLifetime: %v", err)
	}
	waitFor(t, func() bool { return srv.Stats().Expired == 1 })
	if _, err := short.Run(t.Context(), agentbox.Command{Cmd: "true"}); !errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("Run after the sandbox's lifetime: %v, want agentbox.ErrSandboxGone", err)
	}
	if _, err := long.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
		t.Errorf("Run in a sandbox whose lifetime was extended: %v", err)
	}
	infos, err := e2b.List(t.Context(), cfg, nil)
	if err != nil || len(infos) != 1 || infos[0].ID != long.ID() {
		t.Fatalf("List = %+v, %v; want the one live sandbox", infos, err)
	}
	if left := time.Until(infos[0].EndAt); left < 59*time.Minute || left > time.Hour {
		t.Errorf("the extended sandbox ends in %v, want an hour", left)
	}
}

// TestConnect connects to a sandbox by ID, as another process would: it
// sees the same files, and its Close kills the sandbox.
func TestConnect(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	first := newSandbox(t, srv.Config())
	if err := first.WriteFiles(t.Context(), []agentbox.File{{Path: "app/state.txt", Data: []byte("turn 1\n")}}); err != nil {
		t.Fatal(err)
	}
	second, err := e2b.Connect(t.Context(), first.ID(), srv.Config())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	var out bytes.Buffer
	if _, err := second.Run(t.Context(), agentbox.Command{Cmd: "cat app/state.txt", Stdout: &out}); err != nil || out.String() != "turn 1\n" {
		t.Errorf("cat in the connected sandbox = %q, %v; want %q", out.String(), err, "turn 1\n")
	}
	if err := second.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Alive != 0 || st.Killed != 1 {
		t.Errorf("after Close of the connected sandbox the fake counts %+v, want it killed", st)
	}
}

func TestList(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	tagged := srv.Config()
	tagged.Metadata = map[string]string{"app": "counter", "user": "ana & bo"}
	var want []string
	for range 3 {
		want = append(want, newSandbox(t, tagged).ID())
	}
	newSandbox(t, srv.Config())
	infos, err := e2b.List(t.Context(), srv.Config(), map[string]string{"user": "ana & bo"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, info := range infos {
		got = append(got, info.ID)
		if info.Metadata["app"] != "counter" || info.State != "running" || info.Template != "base" {
			t.Errorf("listed %+v, want the metadata, state running, template base", info)
		}
	}
	if len(got) != 3 || got[0] != want[0] || got[2] != want[2] {
		t.Errorf("List by metadata = %v, want %v", got, want)
	}
	all, err := e2b.List(t.Context(), srv.Config(), nil)
	if err != nil || len(all) != 4 {
		t.Errorf("List of all = %d sandboxes, %v; want 4", len(all), err)
	}
}

// TestGivingUpACreateKillsWhatItCreates gives up a create while E2B is
// still creating the sandbox: New returns at once, and the sandbox is
// killed once it has been created.
func TestGivingUpACreateKillsWhatItCreates(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{CreateLatency: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	sb, err := e2b.New(ctx, srv.Config())
	if !errors.Is(err, context.DeadlineExceeded) || sb != nil {
		t.Fatalf("New = %v, %v; want the context's error", sb, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("New returned %s after its context ended, want at once", d-50*time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Killed == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := srv.Stats(); st.Created != 1 || st.Killed != 1 || st.Alive != 0 {
		t.Errorf("the fake counts %+v, want the sandbox created and killed", st)
	}
}
