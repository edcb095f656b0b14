package e2b_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/e2b/internal/envd/process"
	"github.com/agentbox/agentbox/e2b/internal/envd/process/processconnect"
	"github.com/agentbox/agentbox/internal/testkit"
)

// A healthGate holds the first GET /health sent after it is armed until it
// is opened.
type healthGate struct {
	next    http.RoundTripper
	mu      sync.Mutex
	armed   bool
	arrived chan struct{} // closed when the held request arrives
	open    chan struct{} // closed to let it go
}

func newHealthGate(next http.RoundTripper) *healthGate {
	return &healthGate{next: next, arrived: make(chan struct{}), open: make(chan struct{})}
}

func (g *healthGate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	hold := g.armed && req.URL.Path == "/health"
	if hold {
		g.armed = false
	}
	g.mu.Unlock()
	if hold {
		close(g.arrived)
		<-g.open
	}
	return g.next.RoundTrip(req)
}

func (g *healthGate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = true
}

// TestReattachGetsTheExitCode checks envd 0.6.13's replay: a background
// process that ends while its stream is down is re-attached with
// Process.Connect, to which envd (for 30 seconds) replays the process's
// start and end, with its true exit code.
func TestReattachGetsTheExitCode(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	gate := newHealthGate(cfg.HTTPClient.Transport)
	cfg.HTTPClient = &http.Client{Transport: gate}
	sb := newSandbox(t, cfg)
	ctx := t.Context()
	var out testkit.Buffer
	p, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "echo ready; while [ ! -f go ]; do sleep 0.01; done; exit 7", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return out.String() == "ready\n" })

	// The stream drops; the client, asking whether the sandbox lives, is
	// held while the process ends.
	gate.arm()
	srv.DropConnections(sb.ID())
	select {
	case <-gate.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not check the sandbox's health after its stream dropped")
	}
	if err := os.WriteFile(filepath.Join(srv.Home(sb.ID()), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	envd := processconnect.NewProcessClient(srv.Client(), "https://"+strconv.Itoa(e2b.EnvdPort)+"-"+sb.ID()+"."+e2btest.Domain)
	waitFor(t, func() bool {
		req := connect.NewRequest(&process.ListRequest{})
		req.Header().Set("X-Access-Token", srv.AccessToken(sb.ID()))
		list, err := envd.List(ctx, req)
		return err == nil && len(list.Msg.GetProcesses()) == 0
	})
	close(gate.open)

	res, err := p.Wait(ctx)
	if err != nil || res.ExitCode != 7 {
		t.Errorf("Wait of a process that ended while detached = %+v, %v; want exit code 7, as envd replays it", res, err)
	}
	connects := 0
	for _, r := range srv.Requests() {
		if r.Path == "/process.Process/Connect" {
			connects++
		}
	}
	if connects == 0 {
		t.Error("the process was not re-attached with Process.Connect")
	}
}

// TestKeepaliveIntervalIsPositive checks that every stream the client opens
// asks for a positive Keepalive-Ping-Interval: 0 (or less) crashes envd
// 0.6.13, whose ticker panics, and breaks the stream (the fake breaks it
// too).
func TestKeepaliveIntervalIsPositive(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	ctx := t.Context()
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: "true"}); err != nil {
		t.Fatal(err)
	}
	var out testkit.Buffer
	p, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "echo ready; sleep 0.5; exit 3", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "ready") })
	srv.DropConnections(sb.ID()) // so that it is re-attached
	if res, err := p.Wait(ctx); err != nil || res.ExitCode != 3 {
		t.Errorf("Wait = %+v, %v; want exit code 3", res, err)
	}
	p, err = sb.StartProcess(ctx, agentbox.Command{Cmd: "sleep 30"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.StopProcess(ctx, p.ID()); err != nil {
		t.Fatal(err)
	}
	streams := map[string]int{}
	for _, r := range srv.Requests() {
		if r.Path != "/process.Process/Start" && r.Path != "/process.Process/Connect" {
			continue
		}
		streams[r.Path]++
		if secs, err := strconv.Atoi(r.Header.Get("Keepalive-Ping-Interval")); err != nil || secs <= 0 {
			t.Errorf("%s has Keepalive-Ping-Interval %q, want a positive number of seconds", r.Path, r.Header.Get("Keepalive-Ping-Interval"))
		}
	}
	if streams["/process.Process/Start"] < 3 || streams["/process.Process/Connect"] < 1 {
		t.Errorf("streams opened: %v; want Starts and a Connect", streams)
	}
}

// TestConnectTimeoutOnlyWhenAsked checks that a command carries
// Connect-Timeout-Ms (after which envd kills it) only when it has a Timeout
// or its ctx a deadline: unlike the JS SDK, which sends 60000 by default, a
// command may run as long as its caller lets it.
func TestConnectTimeoutOnlyWhenAsked(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: "true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true", Timeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	p, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "true"})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait(ctx)
	cmds := srv.Commands()
	if len(cmds) != 4 {
		t.Fatalf("the fake started %d processes, want 4", len(cmds))
	}
	if cmds[0].Timeout != "" {
		t.Errorf("a command with no Timeout nor deadline sent Connect-Timeout-Ms %q, want none", cmds[0].Timeout)
	}
	if ms, err := strconv.Atoi(cmds[1].Timeout); err != nil || ms <= 0 || ms > 60_000 {
		t.Errorf("a command whose ctx ends in a minute sent Connect-Timeout-Ms %q, want at most 60000", cmds[1].Timeout)
	}
	if ms, err := strconv.Atoi(cmds[2].Timeout); err != nil || ms <= 2_000 || ms > 10_000 {
		t.Errorf("a command with a 2-second Timeout sent Connect-Timeout-Ms %q, want its Timeout and a grace", cmds[2].Timeout)
	}
	if cmds[3].Timeout != "" {
		t.Errorf("a background process sent Connect-Timeout-Ms %q, want none, whatever its ctx", cmds[3].Timeout)
	}
}
