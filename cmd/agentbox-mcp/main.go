// Command agentbox-mcp serves agentbox's sandbox tools to any MCP client:
// write_file, read_file, list_files, edit_file, run_command, start_process,
// process_output, stop_process and preview_url. Each MCP session gets a
// sandbox of its own, opened at its first tool call and closed when the
// session ends.
//
// Install it with
//
//	go install github.com/agentbox/agentbox/cmd/agentbox-mcp@latest
//
// By default it speaks MCP on its standard input and output, as MCP
// clients start their servers; its logs go to standard error. An MCP
// client's configuration (Claude Desktop, Cursor and others use this form):
//
//	{
//	  "mcpServers": {
//	    "agentbox": {
//	      "command": "agentbox-mcp",
//	      "args": ["-sandbox", "local", "-dir", "/path/to/project"]
//	    }
//	  }
//	}
//
// With -http it serves streamable HTTP instead, at http://ADDR/, many
// sessions at once; requests that reach a loopback address under another
// host name are refused, against DNS rebinding:
//
//	agentbox-mcp -http 127.0.0.1:8931
//
// The flags:
//
//	-http ADDR        serve streamable HTTP at ADDR rather than stdio
//	-sandbox KIND     "local" (a workspace on this machine) or "e2b" (a cloud
//	                  VM, configured by E2B_API_KEY and the other E2B_
//	                  variables); the default is e2b when E2B_API_KEY is set,
//	                  local otherwise
//	-dir DIR          local: the workspace folder, created when missing and
//	                  kept; every session works in it. Without it each
//	                  session gets a new temporary workspace, removed when
//	                  the session ends
//	-isolation MODE   local: "auto" (bubblewrap when installed), "bubblewrap"
//	                  or "none"
//	-timeout D        the longest a tool call may run (default 10m)
//	-v                log sessions and tool calls' failures to stderr
//
// SIGINT and SIGTERM close every session's sandbox before the command
// exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/local"
	"github.com/agentbox/agentbox/mcpbox"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// shutdownTimeout bounds closing the sandboxes and the HTTP server.
const shutdownTimeout = 30 * time.Second

// config is what the flags say.
type config struct {
	http      string
	sandbox   string
	dir       string
	isolation string
	timeout   time.Duration
	verbose   bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentbox-mcp:", err)
		os.Exit(1)
	}
}

// run parses args and serves until the session ends (stdio) or ctx is
// done. Logs and messages go to stderr.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	open, err := opener(cfg)
	if err != nil {
		return err
	}
	srv, err := mcpbox.NewServer(mcpbox.ServerOptions{Open: open, ToolTimeout: cfg.timeout, Logger: log})
	if err != nil {
		return err
	}
	if cfg.http != "" {
		err = serveHTTP(ctx, srv, cfg.http, stderr)
	} else {
		err = srv.Run(ctx, &mcp.StdioTransport{})
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil // a signal: the normal way to stop
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	return errors.Join(err, srv.Close(closeCtx))
}

// parseFlags parses the command line.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("agentbox-mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.http, "http", "", "serve streamable HTTP at `ADDR` (e.g. 127.0.0.1:8931) rather than stdio")
	fs.StringVar(&cfg.sandbox, "sandbox", "", "`kind` of sandbox: local or e2b (default e2b when E2B_API_KEY is set, else local)")
	fs.StringVar(&cfg.dir, "dir", "", "local: the workspace `folder`, shared by every session and kept (default a new temporary one per session)")
	fs.StringVar(&cfg.isolation, "isolation", "auto", "local: `mode` of isolation: auto, bubblewrap or none")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "the longest a tool call may run")
	fs.BoolVar(&cfg.verbose, "v", false, "log sessions to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: agentbox-mcp [-http ADDR] [-sandbox local|e2b] [-dir DIR] [-isolation MODE] [-timeout D] [-v]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.sandbox == "" {
		cfg.sandbox = local.Backend
		if os.Getenv("E2B_API_KEY") != "" {
			cfg.sandbox = e2b.Backend
		}
	}
	return cfg, nil
}

// opener returns the opener of the sandboxes cfg asks for.
func opener(cfg config) (agentbox.Opener, error) {
	switch cfg.sandbox {
	case local.Backend:
		iso, err := isolation(cfg.isolation)
		if err != nil {
			return nil, err
		}
		return local.Opener(local.Config{Dir: cfg.dir, Isolation: iso}), nil
	case e2b.Backend:
		if cfg.dir != "" {
			return nil, errors.New("-dir is for local sandboxes; an e2b sandbox works in its home folder")
		}
		ecfg := e2b.FromEnv()
		if ecfg.APIKey == "" && !ecfg.Debug {
			return nil, errors.New("-sandbox e2b needs E2B_API_KEY (see https://e2b.dev)")
		}
		return e2b.Opener(ecfg), nil
	}
	return nil, fmt.Errorf("-sandbox %q: want local or e2b", cfg.sandbox)
}

// isolation parses the -isolation flag.
func isolation(s string) (local.Isolation, error) {
	switch s {
	case "", "auto":
		return local.Auto, nil
	case "bubblewrap":
		return local.Bubblewrap, nil
	case "none":
		return local.None, nil
	}
	return "", fmt.Errorf("-isolation %q: want auto, bubblewrap or none", s)
}

// serveHTTP serves srv's streamable HTTP handler at addr until ctx is done,
// then ends its sessions and stops.
func serveHTTP(ctx context.Context, srv *mcpbox.Server, addr string, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(nil), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "agentbox-mcp: serving MCP (streamable HTTP) at http://%s/\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	closeErr := srv.Close(shutCtx) // ends the sessions, whose streams would hold Shutdown up
	if err := hs.Shutdown(shutCtx); err != nil {
		hs.Close()
	}
	<-served
	return errors.Join(ctx.Err(), closeErr)
}
