package mcpbox_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/mcpbox"
)

// inMemory returns a Config reaching s over the SDK's in-memory transports,
// a new pair for each connection, and the server sessions' ends.
func inMemory(t *testing.T, s *mcp.Server) mcpbox.Config {
	t.Helper()
	return mcpbox.Config{Transport: func() mcp.Transport {
		client, server := mcp.NewInMemoryTransports()
		ss, err := s.Connect(context.Background(), server, nil)
		if err != nil {
			t.Errorf("connecting the server: %v", err)
		}
		t.Cleanup(func() { ss.Close() })
		return client
	}}
}

// connect connects to cfg and closes the client when the test ends.
func connect(t *testing.T, cfg mcpbox.Config) *mcpbox.Client {
	t.Helper()
	c, err := mcpbox.Connect(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs an agent with the client's tools and a scripted model.
func run(t *testing.T, c *mcpbox.Client, opts agentbox.Options, steps ...agentboxtest.Step) (*agentboxtest.Provider, []agentbox.Event, agentbox.Done) {
	t.Helper()
	p := agentboxtest.NewProvider(steps...)
	opts.Toolsets = []agentbox.Toolset{c}
	if opts.Tools == nil {
		opts.Tools = []agentbox.Tool{}
	}
	var all []agentbox.Event
	var done agentbox.Done
	for ev := range agentbox.New(p, opts).Run(t.Context(), "go") {
		all = append(all, ev)
		if d, ok := ev.(agentbox.Done); ok {
			done = d
		}
	}
	return p, all, done
}

func calls(c ...agentboxtest.Call) agentboxtest.Step { return agentboxtest.Step{Calls: c} }

func call(id, name, args string) agentboxtest.Call {
	return agentboxtest.Call{ID: id, Name: name, Args: args}
}

// results returns the ToolResults of all by call ID.
func results(all []agentbox.Event) map[string]agentbox.ToolResult {
	out := map[string]agentbox.ToolResult{}
	for _, ev := range all {
		if r, ok := ev.(agentbox.ToolResult); ok {
			out[r.ID] = r
		}
	}
	return out
}

func TestAnAgentCallsTheServersTools(t *testing.T) {
	c := connect(t, inMemory(t, testServer()))
	if c.Name() != "test_server" {
		t.Errorf("Name = %q, want the server's own, cleaned", c.Name())
	}
	p, all, done := run(t, c, agentbox.Options{},
		calls(
			call("e", "test_server_echo", `{"text":"hi"}`),
			call("f", "test_server_fail", ``),
			call("m", "test_server_media", `{}`),
			call("c", "test_server_count", `{}`),
			call("bad", "test_server_echo", `{"text":5}`),
		),
		agentboxtest.Reply("ok"),
	)
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	offered := p.Requests()[0].Tools
	var names []string
	for _, spec := range offered {
		names = append(names, spec.Name)
	}
	want := []string{"test_server_count", "test_server_echo", "test_server_exit", "test_server_fail", "test_server_huge", "test_server_media", "test_server_sleep"}
	if !slices.Equal(names, want) {
		t.Errorf("offered %v, want %v", names, want)
	}
	if d := offered[1].Description; d != "Says the text back." || !strings.Contains(string(offered[1].Parameters), `"text"`) {
		t.Errorf("echo: %q, %s", d, offered[1].Parameters)
	}
	res := results(all)
	if r := res["e"]; r.Err != nil || r.Output != "echo: hi" {
		t.Errorf("echo: %q, %v", r.Output, r.Err)
	}
	if r := res["f"]; !errors.Is(r.Err, mcpbox.ErrToolFailed) || !strings.Contains(r.Output, "the disk is full") {
		t.Errorf("fail: %q, %v", r.Output, r.Err)
	}
	wantMedia := "here:\n[an image, image/png, 5 bytes, not shown]\n[audio, audio/wav, 3 bytes, not played]\n" +
		"[a resource: file:///a.txt a.txt]\n[a resource: file:///b.txt]\nbee\n[a resource: file:///c.bin, application/octet-stream, 2 bytes, not shown]"
	if r := res["m"]; r.Output != wantMedia {
		t.Errorf("media:\n%s\nwant\n%s", r.Output, wantMedia)
	}
	if r := res["c"]; r.Output != "counted to 3" {
		t.Errorf("count: %q, %v", r.Output, r.Err)
	}
	var output strings.Builder
	for _, ev := range all {
		if o, ok := ev.(agentbox.ToolOutput); ok && o.ID == "c" {
			output.WriteString(o.Text)
		}
	}
	if got := output.String(); got != "counted 1\ncounted 2\ncounted 3\n" {
		t.Errorf("the progress of count streamed as %q", got)
	}
	if r := res["bad"]; !errors.Is(r.Err, agentbox.ErrInvalidArguments) {
		t.Errorf("arguments against the schema: %q, %v", r.Output, r.Err)
	}
}

func TestToolListChangesBetweenSteps(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "growing"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "grow", Description: "Adds a tool."}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		rawTool(s, "new", `{"type":"object"}`)
		time.Sleep(100 * time.Millisecond) // for the notification to arrive first, as it does while a model answers
		return text("grown"), nil, nil
	})
	c := connect(t, inMemory(t, s))
	p, all, done := run(t, c, agentbox.Options{},
		calls(call("g", "growing_grow", `{}`)),
		calls(call("n", "growing_new", `{}`)),
		agentboxtest.Reply("ok"),
	)
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	if n := len(p.Requests()[1].Tools); n != 2 {
		t.Errorf("the second request offered %d tools, want 2", n)
	}
	if r := results(all)["n"]; r.Output != "ok" {
		t.Errorf("the new tool: %q, %v", r.Output, r.Err)
	}
}

func TestMalformedSchemasAreLeftOut(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "odd"}, nil)
	rawTool(s, "fine", `{"type":"object","properties":{"a":{"type":"string"}}}`)
	rawTool(s, "badtype", `{"type":"object","properties":{"a":{"type":5}}}`)
	rawTool(s, "remote", `{"type":"object","$ref":"https://example.com/schema.json"}`)
	rawTool(s, "huge", `{"type":"object","description":"`+strings.Repeat("x", 70_000)+`"}`)
	rawTool(s, strings.Repeat("n", 300), `{"type":"object"}`)
	rawTool(s, "has space/and.dots", `{"type":"object"}`)
	c, err := mcpbox.Connect(t.Context(), inMemory(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tools, err := c.Tools(t.Context())
	var names []string
	for _, tool := range tools {
		names = append(names, tool.Spec().Name)
	}
	long := "odd_" + strings.Repeat("n", 51) + "_"
	if len(names) != 3 || names[0] != "odd_fine" || names[1] != "odd_has_space_and_dots" || !strings.HasPrefix(names[2], long) || len(names[2]) != 64 {
		t.Errorf("tools offered: %v", names)
	}
	for _, want := range []string{`tool "badtype" is left out`, `tool "remote" is left out`, `tool "huge" is left out: its input schema is 70`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	// A run offers the others, and says what was left out, once.
	_, all, done := run(t, c, agentbox.Options{}, calls(call("f", "odd_fine", `{"a":"x"}`)), agentboxtest.Reply("ok"))
	if done.Reason != agentbox.StopCompleted || results(all)["f"].Output != "ok" {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
}

func TestHostileServers(t *testing.T) {
	c := connect(t, mcpbox.Config{Transport: inMemory(t, testServer()).Transport, CallTimeout: 3 * time.Second})
	start := time.Now()
	_, all, done := run(t, c, agentbox.Options{ToolTimeout: 5 * time.Second},
		calls(
			call("big", "test_server_huge", `{"bytes":2000000}`),
			call("hang", "test_server_sleep", `{}`),
		),
		agentboxtest.Reply("ok"),
	)
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	res := results(all)
	if r := res["big"]; len(r.Output) > 16<<10+64 || !strings.Contains(r.Output, "bytes omitted") {
		t.Errorf("a 2 MB result: %d bytes, %.100q", len(r.Output), r.Output)
	}
	if r := res["hang"]; !strings.Contains(r.Output, "Config.CallTimeout") {
		t.Errorf("a call that hangs: %q", r.Output)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the run took %v", d)
	}
}

// selfServer is a Config running this test binary as the test server, over
// its standard input and output.
func selfServer(t *testing.T) mcpbox.Config {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return mcpbox.Config{Name: "self", Command: []string{exe}, Env: []string{"MCPBOX_TEST_SERVER=1"}}
}

func TestACommandServer(t *testing.T) {
	c := connect(t, selfServer(t))
	_, all, done := run(t, c, agentbox.Options{},
		calls(call("e", "self_echo", `{"text":"over stdio"}`)),
		calls(call("x", "self_exit", `{}`)),
		calls(call("again", "self_echo", `{"text":"once more"}`)),
		agentboxtest.Reply("ok"),
	)
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	res := results(all)
	if r := res["e"]; r.Output != "echo: over stdio" {
		t.Errorf("echo: %q, %v", r.Output, r.Err)
	}
	if r := res["x"]; r.Err == nil || !strings.Contains(r.Output, "self") {
		t.Errorf("a server that died mid-call: %q", r.Output)
	}
	if r := res["again"]; r.Output != "echo: once more" {
		t.Errorf("after the server was started again: %q, %v", r.Output, r.Err)
	}
	var warned bool
	for _, ev := range all {
		if e, ok := ev.(agentbox.Error); ok && strings.Contains(e.Err.Error(), "exiting in the middle of a call") {
			warned = true
		}
	}
	if !warned {
		t.Error("no warning says the server ended, with its standard error")
	}
}

func TestAnHTTPServer(t *testing.T) {
	var authorized atomic.Int64 // requests that carried the header
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return testServer() }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer test" {
			authorized.Add(1)
		}
		mcpHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close) // after the client's Close
	c := connect(t, mcpbox.Config{Name: "web", URL: srv.URL, Header: http.Header{"Authorization": {"Bearer test"}}})
	_, all, done := run(t, c, agentbox.Options{},
		calls(call("e", "web_echo", `{"text":"over HTTP"}`), call("c", "web_count", `{}`)),
		agentboxtest.Reply("ok"),
	)
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	if r := results(all)["e"]; r.Output != "echo: over HTTP" {
		t.Errorf("echo: %q, %v", r.Output, r.Err)
	}
	if r := results(all)["c"]; r.Output != "counted to 3" {
		t.Errorf("count: %q, %v", r.Output, r.Err)
	}
	if authorized.Load() == 0 {
		t.Error("no request to the server carried Config.Header")
	}
}

func TestApprovalOfAServersTools(t *testing.T) {
	cfg := inMemory(t, testServer())
	cfg.RequireApproval = true
	c := connect(t, cfg)
	_, all, done := run(t, c, agentbox.Options{}, calls(call("e", "test_server_echo", `{"text":"x"}`)), agentboxtest.Reply("ok"))
	if done.Reason != agentbox.StopApproval || len(results(all)) != 0 {
		t.Fatalf("Done %s, %v; results %v", done.Reason, done.Err, results(all))
	}
}

func TestAResultOverTheTransportLimit(t *testing.T) {
	c := connect(t, selfServer(t))
	_, all, done := run(t, c, agentbox.Options{},
		calls(call("big", "self_huge", `{"bytes":17000000}`)),
		calls(call("after", "self_echo", `{"text":"still here"}`)),
		agentboxtest.Reply("ok"),
	)
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	res := results(all)
	if r := res["big"]; r.Err == nil || len(r.Output) > 16<<10+64 {
		t.Errorf("a result of 17 MB, past the SDK's 16 MiB line limit: %d bytes, %v", len(r.Output), r.Err)
	}
	if r := res["after"]; r.Output != "echo: still here" {
		t.Errorf("the next call: %q, %v", r.Output, r.Err)
	}
}

func TestCancellingTheRunCancelsTheCall(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "slow"}, nil)
	cancelled := make(chan struct{})
	mcp.AddTool(s, &mcp.Tool{Name: "wait", Description: "Waits."}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		<-ctx.Done()
		close(cancelled)
		return nil, nil, ctx.Err()
	})
	c := connect(t, inMemory(t, s))
	ctx, cancel := context.WithCancel(t.Context())
	p := agentboxtest.NewProvider(calls(call("w", "slow_wait", `{}`)), agentboxtest.Reply("ok"))
	events := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{}, Toolsets: []agentbox.Toolset{c}}).Run(ctx, "go")
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	var done agentbox.Done
	for ev := range events {
		if d, ok := ev.(agentbox.Done); ok {
			done = d
		}
	}
	if done.Reason != agentbox.StopCanceled || time.Since(start) > 5*time.Second {
		t.Errorf("Done %s after %v", done.Reason, time.Since(start))
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the server's call was not cancelled")
	}
}

func TestCloseEndsTheServersProcess(t *testing.T) {
	cfg := selfServer(t)
	marker := "MCPBOX_MARKER=" + strings.ReplaceAll(t.Name(), "/", "_") + time.Now().Format("150405.000000")
	cfg.Env = append(cfg.Env, marker)
	c, err := mcpbox.Connect(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(agentboxtest.ProcessesWith(marker)); n != 1 {
		t.Fatalf("%d server processes running, want 1", n)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if left := agentboxtest.ProcessesWith(marker); len(left) != 0 {
		t.Errorf("after Close: %v", left)
	}
	if _, err := c.Tools(t.Context()); err == nil {
		t.Error("a closed client listed tools")
	}
}

// TestTheHeaderStaysWithTheServer: a server that redirects elsewhere does
// not get the Authorization it was given sent on to another host.
func TestTheHeaderStaysWithTheServer(t *testing.T) {
	var leaked []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(other.Close)
	// Another host name for the same loopback server: a different origin.
	target := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+"/mcp", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(liar.Close)
	_, err := mcpbox.Connect(t.Context(), mcpbox.Config{Name: "liar", URL: liar.URL, Header: http.Header{"Authorization": {"Bearer secret"}}, ConnectTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("connected to a server that only redirects")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) == 0 {
		t.Fatal("the redirect was not followed: the test proves nothing")
	}
	for _, h := range leaked {
		if h != "" {
			t.Errorf("the other host got Authorization %q", h)
		}
	}
}
