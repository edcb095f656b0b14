package e2btest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/agentbox/agentbox/e2b/internal/api"
)

// A sandbox of the fake: a home folder, the processes running in it, and a
// lifetime.
type sandbox struct {
	srv      *Server
	id       string
	template string
	metadata map[string]string
	env      map[string]string
	token    string // envd access token; empty when not secure
	home     string
	workdir  string // where a command with no cwd runs
	started  time.Time

	ctx  context.Context // done when the sandbox dies
	stop context.CancelFunc

	mu        sync.Mutex
	drop      chan struct{} // closed to drop the open process streams
	endAt     time.Time
	timer     *time.Timer
	procs     map[uint32]*proc
	ended     map[uint32]endedProc // processes that ended, for late re-attaches
	paused    bool
	autoPause bool  // pauses instead of dying when its lifetime ends
	internet  *bool // allow_internet_access, as asked for
}

// sandboxKey is the context key of the sandbox a request is for.
type sandboxKey struct{}

func sandboxOf(ctx context.Context) *sandbox {
	sb, _ := ctx.Value(sandboxKey{}).(*sandbox)
	return sb
}

func newSandbox(s *Server, id, template string, metadata, env map[string]string, token string) (*sandbox, error) {
	home, workdir := s.Home(id), s.Workdir(id)
	for _, dir := range []string{home, workdir, s.rootHome(id)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("making the folders of sandbox %s: %w", id, err)
		}
	}
	sb := &sandbox{
		srv: s, id: id, template: template, metadata: metadata, env: env, token: token,
		home: home, workdir: workdir, started: time.Now(), procs: make(map[uint32]*proc), drop: make(chan struct{}),
	}
	sb.ctx, sb.stop = context.WithCancel(context.Background())
	return sb, nil
}

// info is the sandbox as POST /sandboxes and connect return it.
func (sb *sandbox) info() api.Sandbox {
	info := api.Sandbox{SandboxID: sb.id, TemplateID: sb.template, ClientID: "6532622b", EnvdVersion: EnvdVersion}
	if sb.token != "" {
		info.EnvdAccessToken = &sb.token
	}
	return info
}

// listed is the sandbox as GET /v2/sandboxes lists it.
func (sb *sandbox) listed() api.ListedSandbox {
	sb.mu.Lock()
	endAt := sb.endAt
	sb.mu.Unlock()
	l := api.ListedSandbox{
		SandboxID: sb.id, TemplateID: sb.template, ClientID: "6532622b", EnvdVersion: EnvdVersion,
		StartedAt: sb.started, EndAt: endAt, State: sb.state(), CpuCount: 2, MemoryMB: 512, DiskSizeMB: 512,
	}
	if len(sb.metadata) > 0 {
		m := api.SandboxMetadata(sb.metadata)
		l.Metadata = &m
	}
	return l
}

// matches reports whether the sandbox has all the wanted metadata.
func (sb *sandbox) matches(want url.Values) bool {
	for k := range want {
		if v, ok := sb.metadata[k]; !ok || v != want.Get(k) {
			return false
		}
	}
	return true
}

// setLifetime makes the sandbox expire d from now.
func (sb *sandbox) setLifetime(d time.Duration) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.endAt = time.Now().Add(d)
	if sb.timer != nil {
		sb.timer.Stop()
	}
	sb.timer = time.AfterFunc(d, sb.expire)
}

// extendLifetime makes the sandbox live at least d from now.
func (sb *sandbox) extendLifetime(d time.Duration) {
	sb.mu.Lock()
	later := time.Now().Add(d).After(sb.endAt)
	sb.mu.Unlock()
	if later {
		sb.setLifetime(d)
	}
}

// dropped returns a channel closed when the open streams are dropped.
func (sb *sandbox) dropped() <-chan struct{} {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.drop
}

// dropStreams drops the open process streams; processes go on.
func (sb *sandbox) dropStreams() {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	close(sb.drop)
	sb.drop = make(chan struct{})
}

// kill ends the sandbox: its processes are killed, its streams dropped.
func (sb *sandbox) kill() {
	sb.mu.Lock()
	if sb.timer != nil {
		sb.timer.Stop()
	}
	procs := make([]*proc, 0, len(sb.procs))
	for _, p := range sb.procs {
		procs = append(procs, p)
	}
	sb.mu.Unlock()
	sb.stop()
	sb.killAll() // the VM is gone: all of it
	for _, p := range procs {
		p.stopWaitingForOutput()
		<-p.done
	}
}

// proxy forwards a request for port to what listens on it on this machine,
// answering as E2B's edge does when nothing does.
func (sb *sandbox) proxy(w http.ResponseWriter, r *http.Request, port int) {
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			writeEdgeError(w, map[string]any{"sandboxId": sb.id, "message": "The sandbox is running but port is not open", "port": port, "code": http.StatusBadGateway})
			return
		}
		writeEdgeError(w, map[string]any{"sandboxId": sb.id, "message": "Failed to route request to sandbox", "code": http.StatusBadGateway})
	}
	r.Header.Del("E2b-Sandbox-Id")
	r.Header.Del("E2b-Sandbox-Port")
	rp.ServeHTTP(w, r)
}
