package mcpbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/mcpbox"
	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestNewServerNeedsAnOpener(t *testing.T) {
	if _, err := mcpbox.NewServer(mcpbox.ServerOptions{}); err == nil || !strings.Contains(err.Error(), "Open") {
		t.Errorf("NewServer with no Open = %v, want an error about Open", err)
	}
}

func TestNewServerRefusesTwoToolsOfOneName(t *testing.T) {
	tools := []agentbox.Tool{mcpbox.PreviewTool(), mcpbox.PreviewTool()}
	_, err := mcpbox.NewServer(mcpbox.ServerOptions{Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0), Tools: tools})
	if err == nil || !strings.Contains(err.Error(), "preview_url") {
		t.Errorf("NewServer with two preview_url = %v, want an error naming it", err)
	}
}

func TestServerListsItsTools(t *testing.T) {
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0), Version: "v1.2.3"})
	c := serveMem(t, srv, nil, nil)
	if info := c.InitializeResult().ServerInfo; info == nil || info.Name != "agentbox" || info.Version != "v1.2.3" {
		t.Errorf("server info = %+v, want agentbox v1.2.3", info)
	}
	res, err := c.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]agentbox.ToolSpec{}
	for _, tool := range append(agentbox.BuiltinTools(), mcpbox.PreviewTool()) {
		want[tool.Spec().Name] = tool.Spec()
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		spec, ok := want[tool.Name]
		if !ok {
			t.Errorf("unexpected tool %q", tool.Name)
			continue
		}
		if tool.Description != spec.Description {
			t.Errorf("%s: description %q, want %q", tool.Name, tool.Description, spec.Description)
		}
		var got, wantSchema any
		b, _ := json.Marshal(tool.InputSchema)
		json.Unmarshal(b, &got)
		json.Unmarshal(spec.Parameters, &wantSchema)
		if diff := cmp.Diff(wantSchema, got); diff != "" {
			t.Errorf("%s: input schema differs from Spec().Parameters (-want +got):\n%s", tool.Name, diff)
		}
	}
	wantNames := []string{"edit_file", "list_files", "preview_url", "process_output", "read_file", "run_command", "start_process", "stop_process", "write_file"}
	slices.Sort(names)
	if !slices.Equal(names, wantNames) {
		t.Errorf("tools %q, want %q", names, wantNames)
	}
}

func TestServerCallsEveryTool(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	sb.Listen(5173, "http://127.0.0.1:5173")
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: agentboxtest.Opener(sb, 0)})
	cs := serveMem(t, srv, nil, nil).ClientSession

	mustCall(t, cs, "write_file", `{"files":[{"path":"src/a.txt","content":"one\ntwo\n"}]}`, "src/a.txt (8 bytes)")
	mustCall(t, cs, "read_file", `{"path":"src/a.txt"}`, "one\ntwo")
	mustCall(t, cs, "list_files", `{}`, "src/a.txt (8 bytes)")
	mustCall(t, cs, "edit_file", `{"path":"src/a.txt","old_string":"two","new_string":"three"}`, "replaced 1 occurrence")
	if got, _ := sb.File("src/a.txt"); string(got) != "one\nthree\n" {
		t.Errorf("after edit_file the file holds %q", got)
	}
	mustCall(t, cs, "run_command", `{"command":"cat src/a.txt"}`, "one\nthree\n[exit code 0]")
	mustCall(t, cs, "start_process", `{"command":"echo serving; sleep 60"}`, "Process p1 is running")
	mustCall(t, cs, "process_output", `{"id":"p1"}`, "serving")
	mustCall(t, cs, "stop_process", `{"id":"p1"}`, "p1")
	if n := sb.Running(); n != 0 {
		t.Errorf("%d processes run after stop_process", n)
	}
	mustCall(t, cs, "preview_url", `{"port":5173}`, "Port 5173 answers at http://127.0.0.1:5173")
}

func TestServerReportsTheExitInMeta(t *testing.T) {
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0)})
	cs := serveMem(t, srv, nil, nil).ClientSession
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "run_command", Arguments: map[string]any{"command": "exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.Meta["agentbox/exit"])
	if string(b) != `{"code":3,"killed":false,"timed_out":false}` || res.IsError {
		t.Errorf("run_command exit 3: _meta exit %s, error %t; want code 3 and no error", b, res.IsError)
	}
	res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "list_files", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Meta["agentbox/exit"]; ok {
		t.Errorf("list_files has an exit in its _meta: %v", res.Meta)
	}
}

func TestServerInvalidArguments(t *testing.T) {
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0)})
	cs := serveMem(t, srv, nil, nil).ClientSession
	for _, tc := range []struct{ name, args, want string }{
		{"read_file", `{}`, `missing required property "path"`},
		{"write_file", `{"files":[]}`, "files: has 0 items, fewer than the 1 required"},
		{"preview_url", `{"port":0}`, "port: 0 is less than the minimum, 1"},
		{"run_command", `{"command":"true","extra":1}`, `unexpected property "extra"`},
	} {
		got, isErr := callTool(t, cs, tc.name, tc.args)
		if !isErr || !strings.Contains(got, "invalid arguments") || !strings.Contains(got, tc.want) {
			t.Errorf("%s %s = %q (error %t), want an error result containing %q", tc.name, tc.args, got, isErr, tc.want)
		}
	}
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "no_such_tool", Arguments: map[string]any{}}); err == nil {
		t.Error("calling an unknown tool succeeded")
	}
}

func TestServerSandboxThatFailsToOpen(t *testing.T) {
	open := agentboxtest.FailingOpener(errors.New("no capacity left"), 0)
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: open})
	cs := serveMem(t, srv, nil, nil).ClientSession
	for range 2 {
		got, isErr := callTool(t, cs, "list_files", `{}`)
		if !isErr || !strings.Contains(got, "cannot open the sandbox: no capacity left") {
			t.Errorf("list_files = %q (error %t), want an error result saying why the sandbox did not open", got, isErr)
		}
	}
}

func TestServerPreviewWithoutPreviewer(t *testing.T) {
	type plain struct{ agentbox.Sandbox } // hides Previewer
	open := func(context.Context) (agentbox.Sandbox, error) { return plain{agentboxtest.NewSandbox()}, nil }
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: open})
	cs := serveMem(t, srv, nil, nil).ClientSession
	got, isErr := callTool(t, cs, "preview_url", `{"port":8080}`)
	if !isErr || !strings.Contains(got, "no preview URLs") || !strings.Contains(got, agentbox.ErrNotSupported.Error()) {
		t.Errorf("preview_url = %q (error %t), want an error saying the sandbox has no previews", got, isErr)
	}
}

// slowCommand answers "stream" by writing two lines a little apart, and
// other commands with the default shell.
func slowCommand(ctx context.Context, sb *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
	if cmd.Cmd != "stream" {
		return agentboxtest.Shell(ctx, sb, cmd)
	}
	fmt.Fprintln(cmd.Stdout, "first line")
	time.Sleep(100 * time.Millisecond)
	fmt.Fprintln(cmd.Stderr, "second line")
	return agentbox.Result{}, nil
}

func TestServerStreamsOutputAsProgress(t *testing.T) {
	sb := &agentboxtest.Sandbox{Handler: slowCommand}
	sb.Listen(3000, "http://127.0.0.1:3000")
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: agentboxtest.Opener(sb, 0)})
	var (
		mu   sync.Mutex
		got  []*mcp.ProgressNotificationParams
		logs int
	)
	cs := serveMem(t, srv, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			got = append(got, req.Params)
			mu.Unlock()
		},
		LoggingMessageHandler: func(context.Context, *mcp.LoggingMessageRequest) {
			mu.Lock()
			logs++
			mu.Unlock()
		},
	}, nil).ClientSession

	params := &mcp.CallToolParams{Name: "run_command", Arguments: map[string]any{"command": "stream"}}
	params.SetProgressToken("tok-1")
	res, err := cs.CallTool(t.Context(), params)
	if err != nil || res.IsError {
		t.Fatalf("run_command = %v, %v", res, err)
	}
	params = &mcp.CallToolParams{Name: "preview_url", Arguments: map[string]any{"port": 3000}}
	params.SetProgressToken("tok-2")
	if _, err := cs.CallTool(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	// Notifications may arrive after the result.
	waitFor(t, "three notifications arrive", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3
	})
	mu.Lock()
	defer mu.Unlock()
	want := []*mcp.ProgressNotificationParams{
		{ProgressToken: "tok-1", Progress: 1, Message: "first line\n"},
		{ProgressToken: "tok-1", Progress: 2, Message: "second line\n"},
		{ProgressToken: "tok-2", Progress: 1, Message: "preview: port 3000 at http://127.0.0.1:3000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress notifications (-want +got):\n%s", diff)
	}
	if logs != 0 {
		t.Errorf("%d log messages for calls with a progress token, want none", logs)
	}
}

func TestServerStreamsOutputAsLogs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol string // "" for the SDK's latest
	}{
		{"latest protocol, level in _meta", ""},
		{"2025-11-25, logging/setLevel", "2025-11-25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := &agentboxtest.Sandbox{Handler: slowCommand}
			srv := newBoxServer(t, mcpbox.ServerOptions{Open: agentboxtest.Opener(sb, 0)})
			var (
				mu  sync.Mutex
				got []*mcp.LoggingMessageParams
			)
			cs := serveMem(t, srv, &mcp.ClientOptions{
				LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
					mu.Lock()
					got = append(got, req.Params)
					mu.Unlock()
				},
			}, &mcp.ClientSessionOptions{ProtocolVersion: tc.protocol}).ClientSession
			params := &mcp.CallToolParams{Name: "run_command", Arguments: map[string]any{"command": "stream"}}
			if tc.protocol == "" {
				params.Meta = mcp.Meta{mcp.MetaKeyLogLevel: "info"}
			} else if err := cs.SetLoggingLevel(t.Context(), &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.CallTool(t.Context(), params); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "two log messages arrive", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) >= 2
			})
			mu.Lock()
			defer mu.Unlock()
			want := []*mcp.LoggingMessageParams{
				{Level: "info", Logger: "stdout", Data: "first line\n"},
				{Level: "info", Logger: "stderr", Data: "second line\n"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("log messages (-want +got):\n%s", diff)
			}
		})
	}
}
