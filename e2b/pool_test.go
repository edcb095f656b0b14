package e2b_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestPoolHandsOutWarmSandboxes fills a pool, then makes creating a sandbox
// take 3 seconds: the warm sandboxes are handed out in less, and the pool
// then has none until it refills. Closing it while it refills kills the
// sandboxes being created.
func TestPoolHandsOutWarmSandboxes(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{CreateLatency: 100 * time.Millisecond})
	pool := e2b.NewPool(srv.Config(), 2)
	defer pool.Close(context.Background())
	waitFor(t, func() bool { return srv.Stats().Created == 2 })
	srv.SetCreateLatency(3 * time.Second)
	for i := range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		sb, err := pool.Get(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Get %d from a warm pool: %v", i+1, err)
		}
		if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
			t.Errorf("Run in a sandbox from the pool: %v", err)
		}
		if err := sb.Close(t.Context()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := pool.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get from an empty pool that cannot refill: %v, want context.DeadlineExceeded", err)
	}
	if err := pool.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if st := srv.Stats(); st.Alive != 0 || st.Created != 4 {
		t.Errorf("after the pool closed the fake counts %+v, want the 2 being created finished and killed", st)
	}
	if _, err := pool.Get(t.Context()); !errors.Is(err, agentbox.ErrClosed) {
		t.Errorf("Get after Close: %v, want agentbox.ErrClosed", err)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", pool, pool, pool, pool); strings.Contains(s, srv.APIKey()) {
		t.Errorf("the pool prints its key: %s", s)
	}
}

// TestPoolKeepsSandboxesAlive leaves a pool's sandbox waiting for longer
// than its lifetime: the pool extends it, so it is alive when handed out.
func TestPoolKeepsSandboxesAlive(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	cfg.Lifetime = time.Second
	pool := e2b.NewPool(cfg, 1)
	defer pool.Close(context.Background())
	waitFor(t, func() bool { return srv.Stats().Created == 1 })
	time.Sleep(1600 * time.Millisecond)
	sb, err := pool.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
		t.Errorf("Run in a sandbox that waited in the pool past its first lifetime: %v", err)
	}
	if st := srv.Stats(); st.Expired != 0 {
		t.Errorf("the fake counts %+v, want none expired", st)
	}
}

// TestPoolReplacesDeadSandboxes kills the pool's warm sandbox: the next
// refresh notices, and the pool creates another.
func TestPoolReplacesDeadSandboxes(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	cfg.Lifetime = 400 * time.Millisecond
	pool := e2b.NewPool(cfg, 1)
	defer pool.Close(context.Background())
	waitFor(t, func() bool { return srv.Stats().Created == 1 })
	srv.Kill(srv.Sandboxes()[0])
	waitFor(t, func() bool { return srv.Stats().Created == 2 })
	sb, err := pool.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
		t.Errorf("Run in the replacement: %v", err)
	}
}

func TestPoolWithABadKeyFailsFast(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	cfg.APIKey = "e2b_wrong_key_00000000000"
	pool := e2b.NewPool(cfg, 3)
	defer pool.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := pool.Get(ctx); !errors.Is(err, e2b.ErrAuth) {
		t.Errorf("Get from a pool with a bad key: %v, want e2b.ErrAuth", err)
	}
}

// TestPoolOpener runs the agent on sandboxes from a pool: each run's is
// killed when it ends, and the pool's Close kills the warm ones.
func TestPoolOpener(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	pool := e2b.NewPool(srv.Config(), 1)
	for range 2 {
		provider := agentboxtest.NewProvider(
			agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "run_command", Args: `{"command":"echo hi"}`}}},
			agentboxtest.Reply("done"),
		)
		agent := agentbox.New(provider, agentbox.Options{Open: pool.Opener()})
		for ev := range agent.Run(t.Context(), "go") {
			if done, ok := ev.(agentbox.Done); ok && done.Err != nil {
				t.Fatalf("run on a pool sandbox: %v", done.Err)
			}
		}
	}
	if err := pool.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Alive != 0 || st.Killed != st.Created {
		t.Errorf("the fake counts %+v, want every sandbox killed", st)
	}
}

// TestPoolRetriesFailedCreates has the first creations fail with 500 and
// 429: the pool tries again, with backoff, and hands out a sandbox.
func TestPoolRetriesFailedCreates(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	srv.FailCreates(http.StatusInternalServerError, 1)
	srv.FailCreates(http.StatusTooManyRequests, 1)
	pool := e2b.NewPool(srv.Config(), 1)
	defer pool.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sb, err := pool.Get(ctx)
	if err != nil {
		t.Fatalf("Get after failed creations: %v", err)
	}
	defer sb.Close(context.Background())
	if st := srv.Stats(); st.Created < 1 {
		t.Errorf("the fake counts %+v", st)
	}
}
