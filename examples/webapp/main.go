// Command webapp serves a web page where an agent builds web apps: a chat, a
// terminal of its tool calls and their output, and a live preview of the app
// it starts.
//
//	go run ./examples/webapp [-addr 127.0.0.1:8080] [-approve]
//
// Open the address it prints. With OPENROUTER_API_KEY set (and
// OPENROUTER_MODEL, OPENROUTER_BASE_URL if wanted), or OPENROUTER_BASE_URL
// alone for a local model server such as Ollama, a live model does the
// work; otherwise a recorded session builds a counter app, for real, in a
// local sandbox. With E2B_API_KEY set (and the other E2B_* variables if
// wanted), each chat gets an E2B sandbox instead, and the preview shows the
// app at its public URL. The page needs no build step: it is one HTML file
// that speaks the AI SDK UI message stream protocol to /api/chat, which a
// useChat front end can use as well. With -approve, each command the agent
// wants to run (run_command, start_process) waits in the page for Approve
// or Deny.
//
// The page has no login: whoever reaches the address can have commands run
// in its sandboxes. It listens on 127.0.0.1 unless -addr says otherwise.
package main

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/examples/internal/choose"
	"github.com/agentbox/agentbox/examples/internal/replay"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/uistream"
)

//go:embed index.html
var page []byte

// defaultModel is the model asked when OPENROUTER_MODEL is not set.
const defaultModel = "anthropic/claude-sonnet-4.5"

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the address to serve the page at")
	hosts := flag.String("hosts", "", "host names, separated by commas, that the page may be reached by besides localhost and IP addresses")
	approve := flag.Bool("approve", false, "ask in the page before each command runs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := settings{hosts: strings.FieldsFunc(*hosts, func(r rune) bool { return r == ',' || r == ' ' }), approve: *approve}
	if err := serve(ctx, *addr, s, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// serve serves the app with settings s at addr until ctx is done, then
// closes every chat's sandbox.
func serve(ctx context.Context, addr string, s settings, w io.Writer) error {
	a, err := newApp(w, s)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := newServer(a)
	fmt.Fprintf(w, "Open http://%s in a browser. Ctrl-C stops the server and removes the sandboxes.\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.chats.Close(shutdown) // ends the streams still running, then the server can stop
	srv.Shutdown(shutdown)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// The limits of the server and the chats, for a server clients reach over
// the internet. A chat's response is a stream as long as the agent's turn,
// so the server has no WriteTimeout, which would cut it: the chat handler
// gives each write to the client writeTimeout instead, and a client that
// stops reading loses its turn.
const (
	readHeaderTimeout = 10 * time.Second // to send the request's headers
	readTimeout       = 30 * time.Second // to send the whole request, the chat's body included
	writeTimeout      = 30 * time.Second // for each write of a chat's stream
	idleTimeout       = 2 * time.Minute  // for a kept-alive connection between requests
	maxHeaderBytes    = 64 << 10
)

// newServer returns the server of handler, with the limits above.
func newServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// app is the web app: the page, its settings, and the chats.
type app struct {
	http.Handler
	chats  *uistream.Handler
	config pageConfig
}

// pageConfig is what the page learns from GET /api/config.
type pageConfig struct {
	Live    bool   `json:"live"`              // a live model answers
	Prompt  string `json:"prompt"`            // a prompt to start with
	Sandbox string `json:"sandbox"`           // "local" or "e2b"
	Approve bool   `json:"approve,omitempty"` // commands wait for the user's approval
}

// settings are what the app is made with: the flags, and a test's model.
type settings struct {
	hosts   []string          // host names the app answers besides localhost and IP addresses
	model   agentbox.Provider // when not nil, answers in place of the live or recorded model
	approve bool              // commands wait for the user's approval in the page
}

// needsApproval reports whether call runs a command, which waits for the
// user's approval with the -approve flag.
func needsApproval(call agentbox.ToolCall) bool {
	return call.Name == "run_command" || call.Name == "start_process"
}

// newApp makes the app, with a live model when OPENROUTER_API_KEY or
// OPENROUTER_BASE_URL is set (choose.Model) and the recorded session
// otherwise, and sandboxes as choose opens them. It
// answers requests for localhost, IP addresses and s.hosts only: a page of
// another site that a browser reaches it by (DNS rebinding) gets 403.
// A non-nil s.model (a test's) answers in place of either. With s.approve,
// commands wait for the user's answer in the page before they run.
func newApp(w io.Writer, s settings) (*app, error) {
	var provider agentbox.Provider = replay.Provider()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, cfg, err := choose.Model(ctx, defaultModel, "agentbox webapp") // OPENROUTER_API_KEY, or OPENROUTER_BASE_URL alone
	if err != nil {
		return nil, err
	}
	live := p != nil
	if live {
		provider = p
		fmt.Fprintf(w, "Model: %s on %s.\n", cfg.Models[0], cmp.Or(cfg.BaseURL, openrouter.DefaultBaseURL))
	} else {
		fmt.Fprintln(w, "No OPENROUTER_API_KEY nor OPENROUTER_BASE_URL: a recorded session answers the first message of each chat (the sandbox work is real).")
	}
	if s.model != nil {
		provider = s.model
	}
	opts := agentbox.Options{Open: choose.Opener()}
	if s.approve {
		opts.NeedsApproval = needsApproval
		fmt.Fprintln(w, "Commands wait for approval in the page.")
	}
	agent := agentbox.New(provider, opts)
	a := &app{
		chats: uistream.New(agent, uistream.Options{ReadTimeout: readTimeout, WriteTimeout: writeTimeout}),
		config: pageConfig{Live: live, Prompt: cmp.Or(os.Getenv("WEBAPP_PROMPT"), replay.Prompt), Sandbox: choose.Backend(),
			Approve: s.approve},
	}
	mux := http.NewServeMux()
	mux.Handle("/api/chat", a.chats)
	mux.Handle("/api/chat/", a.chats) // GET /api/chat/{id}/stream resumes a chat's turn
	mux.HandleFunc("GET /api/files", a.files)
	mux.HandleFunc("GET /api/file", a.file)
	mux.HandleFunc("GET /api/config", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(a.config)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(page)
	})
	a.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowedHost(r.Host, s.hosts) {
			http.Error(w, "unknown host "+r.Host, http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return a, nil
}

// allowedHost reports whether the Host of a request is localhost, an IP
// address or one of hosts.
func allowedHost(hostport string, hosts []string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost") ||
		net.ParseIP(strings.Trim(host, "[]")) != nil || slices.Contains(hosts, host)
}
