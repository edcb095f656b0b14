package mcpbox_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/mcpbox"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestServerGivesEachSessionItsSandbox(t *testing.T) {
	var boxes sandboxes
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: boxes.open})
	a := serveMem(t, srv, nil, nil)
	b := serveMem(t, srv, nil, nil)
	idle := serveMem(t, srv, nil, nil) // never calls a tool: no sandbox

	mustCall(t, a.ClientSession, "write_file", `{"files":[{"path":"mine.txt","content":"a"}]}`, "mine.txt")
	if got, isErr := callTool(t, b.ClientSession, "read_file", `{"path":"mine.txt"}`); !isErr {
		t.Errorf("session b read session a's file: %q", got)
	}
	all := boxes.opened()
	if len(all) != 2 {
		t.Fatalf("%d sandboxes opened for two sessions that called tools, want 2", len(all))
	}
	a.end(t) // Run returns once a's sandbox is closed
	if all[0].Closes() != 1 || all[1].Closes() != 0 {
		t.Errorf("after session a ended: Closes() = %d and %d, want 1 and 0", all[0].Closes(), all[1].Closes())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if all[0].Closes() != 1 || all[1].Closes() != 1 {
		t.Errorf("after Server.Close: Closes() = %d and %d, want 1 and 1", all[0].Closes(), all[1].Closes())
	}
	if _, err := b.CallTool(t.Context(), &mcp.CallToolParams{Name: "list_files", Arguments: map[string]any{}}); err == nil {
		t.Error("a session went on after Server.Close")
	}
	b.end(t)
	idle.end(t)
	if n := len(boxes.opened()); n != 2 {
		t.Errorf("%d sandboxes opened, want 2", n)
	}
}

func TestServerOpensOneSandboxForConcurrentFirstCalls(t *testing.T) {
	boxes := sandboxes{delay: 100 * time.Millisecond}
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: boxes.open})
	cs := serveMem(t, srv, nil, nil).ClientSession
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "list_files", Arguments: map[string]any{}})
			if err != nil || res.IsError {
				t.Errorf("list_files = %v, %v", res, err)
			}
		})
	}
	wg.Wait()
	if n := len(boxes.opened()); n != 1 {
		t.Errorf("five concurrent first calls opened %d sandboxes, want 1", n)
	}
}

func TestServerRefusesCallsAfterClose(t *testing.T) {
	srv, err := mcpbox.NewServer(mcpbox.ServerOptions{Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	cs := serveMem(t, srv, nil, nil).ClientSession
	got, isErr := callTool(t, cs, "list_files", `{}`)
	if !isErr || !strings.Contains(got, mcpbox.ErrServerClosed.Error()) {
		t.Errorf("list_files after Close = %q (error %t), want %q", got, isErr, mcpbox.ErrServerClosed)
	}
}

func TestServerOverStreamableHTTP(t *testing.T) {
	var boxes sandboxes
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: boxes.open})
	ts := httptest.NewServer(srv.Handler(nil))
	defer ts.Close()
	connect := func() *mcp.ClientSession {
		t.Helper()
		client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
		cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: ts.URL, HTTPClient: ts.Client()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	a, b := connect(), connect()
	defer b.Close()
	defer a.Close()
	res, err := a.ListTools(t.Context(), nil)
	if err != nil || len(res.Tools) != 9 {
		t.Fatalf("ListTools = %v, %v; want 9 tools", res, err)
	}
	mustCall(t, a, "write_file", `{"files":[{"path":"a.txt","content":"from a"}]}`, "a.txt")
	mustCall(t, a, "run_command", `{"command":"cat a.txt"}`, "from a")
	if got, isErr := callTool(t, b, "read_file", `{"path":"a.txt"}`); !isErr {
		t.Errorf("session b read session a's file: %q", got)
	}
	all := boxes.opened()
	if len(all) != 2 {
		t.Fatalf("%d sandboxes opened for two sessions, want 2", len(all))
	}
	if err := a.Close(); err != nil { // DELETE ends the session
		t.Fatal(err)
	}
	waitFor(t, "session a's sandbox is closed", func() bool { return all[0].Closes() == 1 })
	if n := all[1].Closes(); n != 0 {
		t.Errorf("session b's sandbox closed %d times while b goes on", n)
	}
	mustCall(t, b, "list_files", `{}`, "")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := all[1].Closes(); n != 1 {
		t.Errorf("after Server.Close session b's sandbox closed %d times, want 1", n)
	}
}
