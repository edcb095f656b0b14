// Package e2btest is a fake E2B for tests: a control plane and an envd per
// sandbox, on E2B's wire protocols (the REST API, Connect RPC handlers
// generated from envd's .proto files, multipart file uploads), behind one
// loopback HTTPS server that routes by host name as E2B's edge does.
//
// Commands run for real, on this machine, in a temporary home folder per
// sandbox: relative paths resolve there, absolute paths are this machine's.
// envd's ways are reproduced as measured on envd 0.6.13: commands run
// through its /bin/sh wrapper, in its process group, with its environment;
// ended processes are replayed to re-attaches for 30 seconds; downloads
// honour ranges and gzip; a sandbox has the users "user" (the default) and
// "root", and refuses others as envd does. Tests can slow down or fail
// sandbox creation, kill a sandbox in the middle of a command, and read
// counters that prove no sandbox leaked.
//
// Sandboxes pause, resume and fork as E2B's do, on the same requests: see
// [Server.Pause] for what a paused sandbox keeps, and what E2B's edge
// answers for it.
//
//	srv := e2btest.NewServer(t, e2btest.Options{})
//	sb, err := e2b.New(ctx, srv.Config())
//	...
//	if st := srv.Stats(); st.Alive != 0 { t.Errorf("%d sandboxes leaked", st.Alive) }
package e2btest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/internal/api"
	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/agentbox/agentbox/e2b/internal/envd/process"
	"github.com/agentbox/agentbox/e2b/internal/envd/process/processconnect"
	"github.com/agentbox/agentbox/e2b/internal/envdapi"
)

// Domain is the fake's domain: the TLS certificate of
// [httptest.Server] covers it, and the client of [Server.Client] sends its
// hosts to the fake.
const Domain = "example.com"

// EnvdVersion is the envd version the fake reports.
const EnvdVersion = "0.6.13"

// Options configure a fake E2B. The zero value answers at once.
type Options struct {
	// CreateLatency delays every sandbox creation, as E2B's real one takes
	// a moment.
	CreateLatency time.Duration
	// Keepalive, when positive, is how often envd sends keep-alive events
	// on process streams, whatever the client asked for.
	Keepalive time.Duration
	// Debug also serves one sandbox, DebugSandboxID, as a local envd on
	// plain HTTP: see [Server.DebugClient].
	Debug bool
	// Templates, when set, are the only templates sandboxes can be created
	// from; others answer 404. Empty means any.
	Templates []string
}

// Stats counts sandboxes.
type Stats struct {
	Created   int // created by POST /sandboxes
	Forked    int // created by POST /sandboxes/{id}/fork
	Killed    int // killed by DELETE /sandboxes/{id}
	Expired   int // reached the end of their lifetime, and died
	Died      int // killed by Server.Kill
	Paused    int // pauses: by POST /sandboxes/{id}/pause, Server.Pause, or at the end of the lifetime of one created with autoPause
	Resumed   int // resumes, by POST /sandboxes/{id}/connect or /resume
	Alive     int // not dead: running or paused
	PausedNow int // of those alive, how many are paused
}

// A Request is a request the fake received.
type Request struct {
	Method, Host, Path string
	Header             http.Header
}

// A Server is a fake E2B. Its sandboxes are all killed when the test ends.
type Server struct {
	opts  Options
	key   string
	tls   *httptest.Server
	plain *httptest.Server // local envd in debug mode
	root  string           // folder of the sandboxes' homes
	ctrl  http.Handler
	envd  http.Handler

	mu           sync.Mutex
	sandboxes    map[string]*sandbox
	order        []string      // IDs in creation order, for listing
	failures     []int         // statuses of the next creates
	killFailures []int         // statuses of the next kills
	closing      chan struct{} // closed by Close
	latency      time.Duration
	stats        Stats
	requests     []Request
	commands     []Command

	transports []*http.Transport // of DebugClient, closed by Close
	closeOnce  sync.Once
}

// A Command is a process that envd was asked to start.
type Command struct {
	Sandbox string
	Cmd     string
	Args    []string
	Env     map[string]string
	Cwd     string // empty when the request named none
	Tag     string
	// Timeout is the request's Connect-Timeout-Ms header, empty when it
	// had none.
	Timeout string
}

// NewServer starts a fake E2B that lives until the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("e2btest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake E2B, for use outside tests; Close stops it.
func Start(opts Options) (*Server, error) {
	root, err := os.MkdirTemp("", "e2btest-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:      opts,
		key:       "e2b_test_" + strings.ToLower(rand.Text()),
		root:      root,
		sandboxes: make(map[string]*sandbox),
		latency:   opts.CreateLatency,
		closing:   make(chan struct{}),
	}
	s.ctrl = api.HandlerWithOptions(&controlPlane{s}, api.StdHTTPServerOptions{
		Middlewares: []api.MiddlewareFunc{s.authenticate},
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusBadRequest, err.Error())
		},
	})
	mux := http.NewServeMux()
	mux.Handle(processconnect.NewProcessHandler(&processService{s: s}))
	mux.Handle(filesystemconnect.NewFilesystemHandler(&filesystemService{}))
	envdapi.HandlerFromMux(&filesAPI{}, mux)
	s.envd = envdMiddleware(mux)
	s.tls = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.tls.Config.ErrorLog = log.New(io.Discard, "", 0) // clients that give up mid-handshake are no news
	s.tls.StartTLS()
	if opts.Debug {
		s.plain = httptest.NewServer(http.HandlerFunc(s.serve))
		if _, err := s.add(e2b.DebugSandboxID, "base", nil, nil, "", 0, false); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// URL is the address of the fake, for Config.APIURL or Config.SandboxURL.
func (s *Server) URL() string { return s.tls.URL }

// APIKey is the only key the control plane accepts.
func (s *Server) APIKey() string { return s.key }

// Client returns an HTTP client that trusts the fake's certificate and
// sends requests for Domain and its subdomains to it.
func (s *Server) Client() *http.Client { return s.tls.Client() }

// Config returns an e2b.Config that talks to the fake as if it were E2B:
// the control plane at https://api.example.com, envd and previews at
// https://{port}-{id}.example.com.
func (s *Server) Config() e2b.Config {
	return e2b.Config{APIKey: s.key, Domain: Domain, HTTPClient: s.Client()}
}

// DebugClient returns an HTTP client for debug mode (Options.Debug): it
// sends requests for localhost:49983 to the fake's local envd, and others
// where they are addressed.
func (s *Server) DebugClient() *http.Client {
	if s.plain == nil {
		panic("e2btest: DebugClient needs Options.Debug")
	}
	addr := s.plain.Listener.Addr().String()
	envdAddr := "localhost:" + strconv.Itoa(e2b.EnvdPort)
	dialer := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		if a == envdAddr {
			a = addr
		}
		return dialer.DialContext(ctx, network, a)
	}}
	s.transports = append(s.transports, tr)
	return &http.Client{Transport: tr}
}

// DebugURL is the address of the local envd of debug mode
// (Options.Debug), for Config.SandboxURL.
func (s *Server) DebugURL() string {
	if s.plain == nil {
		panic("e2btest: DebugURL needs Options.Debug")
	}
	return s.plain.URL
}

// FailCreates makes the next n sandbox creations fail with status (429 for
// an exhausted quota of concurrent sandboxes, 500, 503…).
func (s *Server) FailCreates(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, status)
	}
}

// FailKills makes the next n kills (DELETE /sandboxes/{id}) fail with
// status, leaving the sandboxes alive.
func (s *Server) FailKills(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.killFailures = append(s.killFailures, status)
	}
}

// SetCreateLatency changes Options.CreateLatency for the creations to
// come.
func (s *Server) SetCreateLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Kill kills a sandbox as if it crashed: its processes die, its open
// connections drop, and E2B's edge answers 502 for it from then on. It
// reports whether the sandbox was alive.
func (s *Server) Kill(id string) bool {
	return s.end(id, func(st *Stats) { st.Died++ })
}

// Stats returns the counters of sandboxes.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	st.Alive = len(s.sandboxes)
	sbs := make([]*sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		sbs = append(sbs, sb)
	}
	s.mu.Unlock()
	for _, sb := range sbs {
		if sb.isPaused() {
			st.PausedNow++
		}
	}
	return st
}

// Sandboxes returns the IDs of the sandboxes alive, oldest first.
func (s *Server) Sandboxes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// Home returns the folder on this machine that is the home directory of
// sandbox id, where envd resolves relative paths.
func (s *Server) Home(id string) string {
	return filepath.Join(s.root, id, "home")
}

// Workdir returns the folder on this machine that is the default workdir
// of sandbox id's template, where envd runs a command sent with no cwd. As
// in templates that set a WORKDIR, it is not the home directory.
func (s *Server) Workdir(id string) string {
	return filepath.Join(s.root, id, "workdir")
}

// Commands returns the processes started so far, oldest first.
func (s *Server) Commands() []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// DropConnections drops the open process streams of sandbox id, as a
// flaky network would; the processes go on running.
func (s *Server) DropConnections(id string) {
	if sb := s.sandbox(id); sb != nil {
		sb.dropStreams()
	}
}

func (s *Server) recordCommand(id, tag string, cfg *process.ProcessConfig, h http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands = append(s.commands, Command{
		Sandbox: id, Cmd: cfg.GetCmd(), Args: cfg.GetArgs(), Env: cfg.GetEnvs(), Cwd: cfg.GetCwd(), Tag: tag,
		Timeout: h.Get("Connect-Timeout-Ms"),
	})
}

// AccessToken returns the envd access token of sandbox id; empty when it
// has none or is not alive.
func (s *Server) AccessToken(id string) string {
	if sb := s.sandbox(id); sb != nil {
		return sb.token
	}
	return ""
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// serve routes a request as E2B's edge does: {port}-{id}.{domain} is a port
// of a sandbox, api.{domain} the control plane; on other hosts (E2B's
// sandbox.{domain}, or an address given as Config.SandboxURL) the
// E2b-Sandbox-Id and E2b-Sandbox-Port headers choose the sandbox.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	var id, port string
	switch {
	case strings.HasSuffix(host, "."+Domain) && host != "api."+Domain:
		port, id, _ = strings.Cut(strings.TrimSuffix(host, "."+Domain), "-")
	case host == "api."+Domain:
	case r.Header.Get("E2b-Sandbox-Id") != "":
		id, port = r.Header.Get("E2b-Sandbox-Id"), r.Header.Get("E2b-Sandbox-Port")
	case s.plain != nil && r.Host == "localhost:"+strconv.Itoa(e2b.EnvdPort):
		id, port = e2b.DebugSandboxID, strconv.Itoa(e2b.EnvdPort)
	}
	if id == "" {
		s.ctrl.ServeHTTP(w, r)
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid sandbox port "+strconv.Quote(port))
		return
	}
	s.mu.Lock()
	sb := s.sandboxes[id]
	s.mu.Unlock()
	if sb == nil {
		writeEdgeError(w, map[string]any{"sandboxId": id, "message": "The sandbox was not found", "code": http.StatusBadGateway})
		return
	}
	if sb.isPaused() {
		writePaused(w, id)
		return
	}
	if n == e2b.EnvdPort {
		s.envd.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sandboxKey{}, sb)))
		return
	}
	sb.proxy(w, r, n)
}

func (s *Server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Host: r.Host, Path: r.URL.Path, Header: r.Header.Clone()})
}

// authenticate checks the control plane's X-API-Key.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != s.key {
			writeError(w, http.StatusUnauthorized, "Invalid API key, please visit https://e2b.dev/docs/api-key for more information.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// add makes a running sandbox, counted as created when created is set.
func (s *Server) add(id, template string, metadata, env map[string]string, token string, lifetime time.Duration, created bool) (*sandbox, error) {
	sb, err := newSandbox(s, id, template, metadata, env, token)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if created {
		s.stats.Created++
	}
	s.sandboxes[id] = sb
	s.order = append(s.order, id)
	s.mu.Unlock()
	if lifetime > 0 {
		sb.setLifetime(lifetime)
	}
	return sb, nil
}

// end ends sandbox id, counting how; it reports whether it was alive.
func (s *Server) end(id string, count func(*Stats)) bool {
	s.mu.Lock()
	sb := s.sandboxes[id]
	if sb == nil {
		s.mu.Unlock()
		return false
	}
	delete(s.sandboxes, id)
	s.order = slices.DeleteFunc(s.order, func(o string) bool { return o == id })
	count(&s.stats)
	s.mu.Unlock()
	sb.kill()
	return true
}

// Close kills every sandbox, stops the servers and removes the sandboxes'
// folders.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	for _, id := range s.Sandboxes() {
		s.end(id, func(*Stats) {})
	}
	s.tls.Close()
	if s.plain != nil {
		s.plain.Close()
	}
	s.mu.Lock()
	for _, tr := range s.transports {
		tr.CloseIdleConnections()
	}
	s.mu.Unlock()
	os.RemoveAll(s.root)
}

// newID returns a sandbox ID in E2B's style.
func newID() string { return strings.ToLower(rand.Text()[:20]) }

// writeError writes E2B's error body, {code, message}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.Error{Code: int32(status), Message: msg})
}

// writeEdgeError writes an error of E2B's edge, which has its own fields.
func writeEdgeError(w http.ResponseWriter, body map[string]any) {
	writeJSON(w, http.StatusBadGateway, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
