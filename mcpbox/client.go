package mcpbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbox/agentbox"
)

// Config says how to reach an MCP server and how to offer its tools. Set
// Command or URL.
type Config struct {
	// Name prefixes the server's tools, "Name_tool", so that tools of
	// several servers stay apart; its letters, digits, '_' and '-' are
	// kept. Empty means the name the server gives itself.
	Name string

	// Command runs a server that speaks MCP on its standard input and
	// output: the program, then its arguments. Its standard error is kept,
	// the last 4 KiB, for the errors that say why it ended.
	Command []string
	// Env is added to this process's environment for Command, as
	// "KEY=value" strings.
	Env []string
	// Dir is Command's working directory; empty means this process's.
	Dir string

	// URL is a server's streamable HTTP endpoint.
	URL string
	// HTTPClient makes the requests to URL; nil means a client of its own.
	HTTPClient *http.Client
	// Header is sent with every request to URL's host, such as an
	// Authorization; a redirect to another host does not get it.
	Header http.Header

	// Transport, when set, makes the transport of each connection in place
	// of Command and URL: one of the SDK's others, or an in-memory one in
	// tests.
	Transport func() mcp.Transport

	// Tools, when set, are the only tools of the server offered, by the
	// server's names for them.
	Tools []string
	// RequireApproval makes every call of the server's tools need a
	// person's approval (see agentbox.Options.NeedsApproval).
	RequireApproval bool
	// CallTimeout bounds each call of the server's tools, within the
	// agent's ToolTimeout; 0 means the agent's alone.
	CallTimeout time.Duration
	// ConnectTimeout bounds connecting, and listing the tools; 0 means 30
	// seconds.
	ConnectTimeout time.Duration
	// Logger receives a record when the server ends and is started again;
	// nil discards them.
	Logger *slog.Logger
}

// Limits on what a server offers, so that one cannot flood the model's
// requests.
const (
	// MaxTools is the most tools of one server offered.
	MaxTools = 128
	// MaxDescriptionBytes bounds a tool's description.
	MaxDescriptionBytes = 2 << 10
	// MaxSchemaBytes bounds a tool's input schema; a tool with a larger one
	// is left out.
	MaxSchemaBytes = 64 << 10
)

const defaultConnectTimeout = 30 * time.Second

// A Client is a connection to one MCP server, and an [agentbox.Toolset]
// offering its tools: put it in the agent's Options.Toolsets. Before each
// model request it lists the server's tools again if the server said they
// changed, and starts a server that ended again. Close it when the agent
// is done: a command's process is ended. A Client is safe for concurrent
// use.
type Client struct {
	cfg    Config
	client *mcp.Client
	log    *slog.Logger
	stderr *tail // of Command's process, across restarts

	mu      sync.Mutex
	conn    *conn // nil when none is connected
	prefix  string
	tools   []agentbox.Tool
	listErr error // what the last listing left out
	suspect bool  // a call of the session failed: is it alive?
	closed  bool

	// changed says the server said its tools changed since they were
	// listed. It and progress are apart from mu: the SDK delivers
	// notifications while a request under mu waits for its answer.
	changed  atomic.Bool
	pmu      sync.Mutex
	progress map[string]*tracked // the calls running, by progress token
	calls    uint64              // calls made, for progress tokens

	watching sync.WaitGroup // the goroutines that wait for sessions to end
}

// Connect starts or reaches the server cfg describes and lists its tools.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if n := btoi(len(cfg.Command) > 0) + btoi(cfg.URL != "") + btoi(cfg.Transport != nil); n != 1 {
		return nil, errors.New("mcpbox: set one of Config.Command, Config.URL and Config.Transport")
	}
	c := &Client{cfg: cfg, log: cfg.Logger, stderr: &tail{max: 4 << 10}, progress: map[string]*tracked{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.client = mcp.NewClient(&mcp.Implementation{Name: "agentbox", Version: buildVersion()}, &mcp.ClientOptions{
		ToolListChangedHandler:      func(context.Context, *mcp.ToolListChangedRequest) { c.toolsChanged() },
		ProgressNotificationHandler: c.onProgress,
		Capabilities:                &mcp.ClientCapabilities{},
	})
	if _, err := c.Tools(ctx); err != nil {
		if _, cerr := c.current(); cerr != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Name is the prefix of the server's tools.
func (c *Client) Name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prefix
}

// Tools returns the server's tools, listing them again when the server said
// they changed, and connecting again to a server that ended. Tools of the
// server that cannot be offered (a schema that is invalid or too large, a
// name taken) are left out, and the error says so; an error with no tools
// means the server cannot be reached.
func (c *Client) Tools(ctx context.Context) ([]agentbox.Tool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("mcpbox: the client of %q is closed", c.prefix)
	}
	var restarted error
	if c.conn != nil && !c.alive(ctx) {
		c.conn.cs.Close() // a command's process is ended, if it has not
		<-c.conn.ended
		restarted = c.gone()
		c.conn = nil
	}
	if c.conn == nil {
		if err := c.connect(ctx); err != nil {
			return nil, errors.Join(restarted, err)
		}
		c.changed.Store(true)
	}
	if !c.changed.Swap(false) {
		return c.tools, errors.Join(restarted, c.listErr)
	}
	tools, err := c.list(ctx)
	if err != nil && tools == nil {
		c.changed.Store(true) // to try again at the next step
		return c.tools, errors.Join(restarted, err)
	}
	c.tools, c.listErr = tools, err
	return tools, errors.Join(restarted, err)
}

// connect starts a session with the server. c.mu is held.
func (c *Client) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, cmpOr(c.cfg.ConnectTimeout, defaultConnectTimeout))
	defer cancel()
	transport, err := c.transport()
	if err != nil {
		return err
	}
	cs, err := c.client.Connect(ctx, transport, nil)
	if err != nil {
		return c.describe(fmt.Errorf("connecting: %w", err))
	}
	cn := &conn{cs: cs, ended: make(chan struct{})}
	c.conn = cn
	if c.prefix == "" {
		c.prefix = c.cfg.Name
		if c.prefix == "" && cs.InitializeResult() != nil && cs.InitializeResult().ServerInfo != nil {
			c.prefix = cs.InitializeResult().ServerInfo.Name
		}
		c.prefix = cleanName(c.prefix, "mcp")
	}
	c.watching.Go(func() {
		cn.err = cs.Wait()
		close(cn.ended)
	})
	return nil
}

// A conn is a session with the server.
type conn struct {
	cs    *mcp.ClientSession
	ended chan struct{} // closed when the session has ended
	err   error         // why it ended, set before ended is closed
}

// transport returns the transport to the server of c.cfg.
func (c *Client) transport() (mcp.Transport, error) {
	if c.cfg.Transport != nil {
		return c.cfg.Transport(), nil
	}
	if c.cfg.URL != "" {
		hc := c.cfg.HTTPClient
		if hc == nil {
			hc = &http.Client{}
		}
		if len(c.cfg.Header) > 0 {
			u, err := url.Parse(c.cfg.URL)
			if err != nil {
				return nil, fmt.Errorf("mcpbox: Config.URL: %w", err)
			}
			copied := *hc
			copied.Transport = headerTransport{base: hc.Transport, header: c.cfg.Header, host: u.Host}
			hc = &copied
		}
		return &mcp.StreamableClientTransport{Endpoint: c.cfg.URL, HTTPClient: hc}, nil
	}
	cmd := exec.Command(c.cfg.Command[0], c.cfg.Command[1:]...)
	cmd.Dir = c.cfg.Dir
	if len(c.cfg.Env) > 0 {
		cmd.Env = append(os.Environ(), c.cfg.Env...)
	}
	cmd.Stderr = c.stderr
	return &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil
}

// gone returns the error saying that the session ended, and why. c.mu is
// held.
func (c *Client) gone() error {
	err := c.describe(fmt.Errorf("the server ended (%v); starting it again", c.conn.err))
	c.log.Warn("mcpbox: server ended", "server", c.prefix, "error", err)
	return err
}

// describe wraps err with the server's name and the end of its standard
// error.
func (c *Client) describe(err error) error {
	what := c.prefix
	if what == "" {
		what = c.cfg.Name
	}
	if what == "" && len(c.cfg.Command) > 0 {
		what = c.cfg.Command[0]
	} else if what == "" {
		what = c.cfg.URL
	}
	if s := c.stderr.String(); s != "" {
		return fmt.Errorf("mcpbox: MCP server %q: %w; its standard error ends: %s", what, err, s)
	}
	return fmt.Errorf("mcpbox: MCP server %q: %w", what, err)
}

// toolsChanged notes that the server's tools must be listed again.
func (c *Client) toolsChanged() { c.changed.Store(true) }

// Close ends the session with the server: a command's standard input is
// closed, and the process is stopped if it has not exited 2 seconds later.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cn := c.conn
	c.conn = nil
	c.mu.Unlock()
	var err error
	if cn != nil {
		err = cn.cs.Close()
	}
	c.watching.Wait()
	return err
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// suspectSession notes that a call of cs failed, so that the next step checks
// that cs is alive.
func (c *Client) suspectSession(cs *mcp.ClientSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil && c.conn.cs == cs {
		c.suspect = true
	}
}

// alive reports whether the session has not ended, and, after a call of it
// failed, answers a ping. c.mu is held.
func (c *Client) alive(ctx context.Context) bool {
	if isClosed(c.conn.ended) {
		return false
	}
	if !c.suspect {
		return true
	}
	c.suspect = false
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	err := c.conn.cs.Ping(pctx, nil)
	if err != nil && ctx.Err() != nil {
		return true // the run ended: it is the next one's to check
	}
	return err == nil
}

// pingTimeout bounds the ping that checks a session after a failed call.
const pingTimeout = 5 * time.Second

// current returns the connected session, or an error when there is none.
func (c *Client) current() (*mcp.ClientSession, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, fmt.Errorf("mcpbox: the client of %q is closed", c.prefix)
	case c.conn == nil:
		return nil, c.describe(errors.New("not connected"))
	}
	return c.conn.cs, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cmpOr returns d, or def when d is not positive.
func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// headerTransport adds a header to every request to host: a server that
// redirects elsewhere does not pass on what was given to it alone.
type headerTransport struct {
	base   http.RoundTripper
	header http.Header
	host   string
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == t.host {
		r = r.Clone(r.Context())
		for k, v := range t.header {
			r.Header[k] = slices.Clone(v)
		}
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String is what was kept, on one line.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(t.buf), "\uFFFD")), " ")
}
