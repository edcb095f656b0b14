package mcpbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// modulePath is the path of the module whose version a Server reports.
const modulePath = "github.com/agentbox/agentbox"

// closeTimeout bounds the Close of the sandbox of a session that ended.
const closeTimeout = time.Minute

// ServerOptions configure a [Server]. Only Open is required.
type ServerOptions struct {
	// Open opens the sandbox of each MCP session, at its first tool call.
	// The sandbox is closed when the session ends, or by [Server.Close].
	Open agentbox.Opener
	// Tools are the tools served; nil means [agentbox.BuiltinTools] and
	// [PreviewTool].
	Tools []agentbox.Tool
	// ToolTimeout bounds each tool call, as agentbox.CallOptions.Timeout;
	// 0 means 10 minutes.
	ToolTimeout time.Duration
	// MaxResult is how many bytes of a call's result are kept, as
	// agentbox.CallOptions.MaxResult; 0 means 16 KiB.
	MaxResult int
	// Name and Version describe the server to its clients; "" means
	// "agentbox" and the version of the agentbox module in the program's
	// build information ("dev" when it has none).
	Name, Version string
	// Logger receives the server's records (the MCP SDK's, a tool's panic,
	// a sandbox that fails to close); nil discards them.
	Logger *slog.Logger
}

// A Server serves tools that run in a sandbox to MCP clients. Each MCP
// session gets a sandbox of its own, opened by ServerOptions.Open at its
// first tool call and closed when the session ends.
//
// A call's output streams to the client while the call runs: as progress
// notifications when the call carries a progress token, the text as their
// message, and otherwise as log messages of level "info" whose logger is
// "stdout", "stderr" or "preview" (sent once the client has set a log
// level). Cancelling a call stops it. The calls of a session run as the
// client makes them, concurrently when it sends several at once.
type Server struct {
	opts  ServerOptions
	log   *slog.Logger
	mcp   *mcp.Server
	calls atomic.Int64 // numbers the calls, for their IDs

	mu     sync.Mutex
	closed bool
	boxes  map[*mcp.ServerSession]*box
	wg     sync.WaitGroup // the goroutines that wait for sessions to end
}

// ErrServerClosed is matched by the error of a tool call made after
// [Server.Close].
var ErrServerClosed = errors.New("mcpbox: the server is closed")

// errSessionEnded is the error of a tool call whose session ended before
// its sandbox could be used.
var errSessionEnded = errors.New("mcpbox: the MCP session ended")

// NewServer returns a server of opts.Tools. The error says why the options
// cannot be used: Open is nil, two tools have the same name, or a tool's
// parameters are not the JSON Schema of an object.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Open == nil {
		return nil, errors.New("mcpbox: NewServer: ServerOptions.Open is nil; give an opener of sandboxes, such as local.Opener(local.Config{})")
	}
	if opts.Tools == nil {
		opts.Tools = append(agentbox.BuiltinTools(), PreviewTool())
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	impl := &mcp.Implementation{Name: cmp.Or(opts.Name, "agentbox"), Version: cmp.Or(opts.Version, moduleVersion())}
	s := &Server{
		opts:  opts,
		log:   log,
		mcp:   mcp.NewServer(impl, &mcp.ServerOptions{Logger: log}),
		boxes: map[*mcp.ServerSession]*box{},
	}
	seen := map[string]bool{}
	for _, t := range opts.Tools {
		mt, err := mcpTool(t)
		if err != nil {
			return nil, fmt.Errorf("mcpbox: NewServer: %w", err)
		}
		if seen[mt.Name] {
			return nil, fmt.Errorf("mcpbox: NewServer: two tools are named %q", mt.Name)
		}
		seen[mt.Name] = true
		s.mcp.AddTool(mt, s.handler(t))
	}
	return s, nil
}

// mcpTool describes t to MCP clients: its name, description and parameters.
func mcpTool(t agentbox.Tool) (*mcp.Tool, error) {
	spec := t.Spec()
	if spec.Name == "" {
		return nil, errors.New("a tool has no name")
	}
	var schema struct {
		Type any `json:"type"`
	}
	if err := json.Unmarshal(spec.Parameters, &schema); err != nil {
		return nil, fmt.Errorf("tool %q: its parameters are not a JSON Schema: %w", spec.Name, err)
	}
	if schema.Type != "object" {
		return nil, fmt.Errorf("tool %q: its parameters must be a JSON Schema of type \"object\"", spec.Name)
	}
	return &mcp.Tool{Name: spec.Name, Description: spec.Description, InputSchema: spec.Parameters}, nil
}

// moduleVersion returns the version of the agentbox module the program
// was built with, or "dev".
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	version := ""
	if bi.Main.Path == modulePath {
		version = bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == modulePath {
			version = m.Version
		}
	}
	if version == "" || version == "(devel)" {
		return "dev"
	}
	return version
}

// MCPServer returns the MCP server that serves the tools, to add prompts,
// resources or middleware to, or to connect with [mcp.Server.Connect].
func (s *Server) MCPServer() *mcp.Server { return s.mcp }

// Run serves one MCP session over t, such as &mcp.StdioTransport{}, until
// the client ends it or ctx is done, and closes its sandbox before
// returning. The error is why the session ended, nil when the client closed
// it, ctx.Err() when ctx ended it.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	ss, err := s.mcp.Connect(ctx, t, nil)
	if err != nil {
		return fmt.Errorf("mcpbox: connecting: %w", err)
	}
	ended := make(chan error, 1)
	go func() { ended <- ss.Wait() }()
	select {
	case err = <-ended:
	case <-ctx.Done():
		ss.Close()
		<-ended
		err = ctx.Err()
	}
	s.sessionEnded(ss)
	return err
}

// Handler returns an HTTP handler that serves MCP over streamable HTTP,
// each client session in a session (and sandbox) of its own; a client
// ends its session with a DELETE request. opts are the SDK's (nil for its
// defaults, which refuse requests that reach a loopback address under
// another host name, against DNS rebinding). A stateless handler
// (opts.Stateless) makes every request a session, with a new sandbox.
func (s *Server) Handler(opts *mcp.StreamableHTTPOptions) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, opts)
}

// Close closes the sandbox of every session, ends the sessions, and waits
// until the sandboxes are closed or ctx is done. Tool calls made afterwards
// fail with an error matching [ErrServerClosed]. The error joins those of
// the sandboxes' Close.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	boxes := make([]*box, 0, len(s.boxes))
	for _, b := range s.boxes {
		boxes = append(boxes, b)
	}
	s.mu.Unlock()

	errs := make([]error, len(boxes))
	var wg sync.WaitGroup
	for i, b := range boxes {
		wg.Go(func() { errs[i] = b.close(ctx) })
	}
	wg.Wait()
	for ss := range s.mcp.Sessions() {
		ss.Close()
	}
	waited := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("mcpbox: waiting for sessions to end: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// sandbox returns the sandbox of the session ss, opening it at its first
// call.
func (s *Server) sandbox(ctx context.Context, ss *mcp.ServerSession) (agentbox.Sandbox, error) {
	b, err := s.box(ss)
	if err != nil {
		return nil, err
	}
	return b.get(ctx, s.opts.Open)
}

// box returns the box of the session ss, making it, and the goroutine that
// closes it when the session ends, at its first call.
func (s *Server) box(ss *mcp.ServerSession) (*box, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrServerClosed
	}
	if b := s.boxes[ss]; b != nil {
		return b, nil
	}
	b := newBox()
	s.boxes[ss] = b
	s.wg.Go(func() {
		ss.Wait()
		s.sessionEnded(ss)
	})
	return b, nil
}

// sessionEnded closes the sandbox of the session ss, if it has one, and
// forgets it.
func (s *Server) sessionEnded(ss *mcp.ServerSession) {
	s.mu.Lock()
	b := s.boxes[ss]
	s.mu.Unlock()
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := b.close(ctx); err != nil {
		s.log.Warn("mcpbox: closing the sandbox of a session", "session", ss.ID(), "error", err)
	}
	s.mu.Lock()
	delete(s.boxes, ss)
	s.mu.Unlock()
}

// handler returns the MCP handler of calls of tool.
func (s *Server) handler(tool agentbox.Tool) mcp.ToolHandler {
	name := tool.Spec().Name
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		sb, err := s.sandbox(ctx, req.Session)
		if err != nil {
			return errorResult(err), nil
		}
		call := agentbox.ToolCall{
			ID:        fmt.Sprintf("call_%d", s.calls.Add(1)),
			Name:      name,
			Arguments: string(req.Params.Arguments),
		}
		st := newStreamer(ctx, req)
		res := agentbox.CallTool(ctx, tool, sb, call, agentbox.CallOptions{
			Timeout:   s.opts.ToolTimeout,
			MaxResult: s.opts.MaxResult,
			Emit:      st.emit,
			Logger:    s.log,
		})
		st.settle()
		return toolResult(res), nil
	}
}

// metaExit is the key of a result's _meta under which the exit of the
// command a call ran is, as {"code":0,"killed":false,"timed_out":false}.
const metaExit = "agentbox/exit"

// toolResult is the MCP result of a call: its output as text, an error
// result when the call failed, and the exit of the command it ran, if any,
// in its _meta.
func toolResult(res agentbox.ToolResult) *mcp.CallToolResult {
	r := &mcp.CallToolResult{
		Content: []mcp.Content{&mcp.TextContent{Text: res.Output}},
		IsError: res.Err != nil,
	}
	if res.Exit != nil {
		r.Meta = mcp.Meta{metaExit: res.Exit}
	}
	return r
}

// errorResult is the MCP result of a call that could not run.
func errorResult(err error) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		Content: []mcp.Content{&mcp.TextContent{Text: "Error: " + err.Error()}},
		IsError: true,
	}
}
