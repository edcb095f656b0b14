package mcpbox_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/mcpbox"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newBoxServer returns a server of opts, closed when the test ends.
func newBoxServer(t *testing.T, opts mcpbox.ServerOptions) *mcpbox.Server {
	t.Helper()
	srv, err := mcpbox.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// A memClient is an SDK client session with a server's Run, over in-memory
// transports.
type memClient struct {
	*mcp.ClientSession
	ran  chan error // what Run returned
	once sync.Once
}

// end closes the session and waits for the server's Run to return, which
// it does once the session's sandbox is closed.
func (c *memClient) end(t *testing.T) {
	t.Helper()
	c.once.Do(func() {
		c.Close()
		select {
		case err := <-c.ran:
			if err != nil {
				t.Errorf("Run = %v after the client closed the session", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after the client closed the session")
		}
	})
}

// serveMem connects an SDK client of options copts to srv over in-memory
// transports; the session ends when the test does, if not before.
func serveMem(t *testing.T, srv *mcpbox.Server, copts *mcp.ClientOptions, sopts *mcp.ClientSessionOptions) *memClient {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	c := &memClient{ran: make(chan error, 1)}
	go func() { c.ran <- srv.Run(context.Background(), st) }()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, copts).Connect(t.Context(), ct, sopts)
	if err != nil {
		t.Fatal(err)
	}
	c.ClientSession = cs
	t.Cleanup(func() { c.end(t) })
	return c
}

// callTool calls the tool name with args, a JSON object, and returns the
// result's text and whether it is an error.
func callTool(t *testing.T, cs *mcp.ClientSession, name, args string) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: json.RawMessage(args)})
	if err != nil {
		t.Fatalf("CallTool %s %s: %v", name, args, err)
	}
	return textOf(t, res), res.IsError
}

// mustCall calls the tool and fails the test when the result is an error
// or does not contain want.
func mustCall(t *testing.T, cs *mcp.ClientSession, name, args, want string) string {
	t.Helper()
	got, isErr := callTool(t, cs, name, args)
	if isErr || !strings.Contains(got, want) {
		t.Fatalf("%s %s = %q (error %t), want a result containing %q", name, args, got, isErr, want)
	}
	return got
}

// textOf returns the text of a result, which holds one text content.
func textOf(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("result has %d contents, want 1", len(res.Content))
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("result content is %T, want text", res.Content[0])
	}
	return tc.Text
}

// sandboxes is an opener of a new in-memory sandbox for each session,
// which keeps them.
type sandboxes struct {
	mu    sync.Mutex
	delay time.Duration
	all   []*agentboxtest.Sandbox
}

func (s *sandboxes) open(ctx context.Context) (agentbox.Sandbox, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sb := agentboxtest.NewSandbox()
	s.mu.Lock()
	s.all = append(s.all, sb)
	s.mu.Unlock()
	return sb, nil
}

// opened returns the sandboxes opened so far.
func (s *sandboxes) opened() []*agentboxtest.Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*agentboxtest.Sandbox(nil), s.all...)
}

// waitFor waits up to 10 seconds for cond to hold.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
