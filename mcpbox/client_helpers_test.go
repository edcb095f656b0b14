package mcpbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// echoArgs are the arguments of the test servers' echo tool.
type echoArgs struct {
	Text string `json:"text" jsonschema:"what to say back"`
}

// testServer returns an MCP server with the tools the client tests call:
// echo, fail (an isError result), media (an image, audio and resources),
// count (progress while it runs), sleep (until cancelled), huge (a result
// of the given size) and exit (the process ends mid-call, for a server
// run as a command).
func testServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test server", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Says the text back."}, func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
		return text("echo: " + in.Text), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "fail", Description: "Fails.", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		return nil, nil, fmt.Errorf("the disk is full")
	})
	mcp.AddTool(s, &mcp.Tool{Name: "media", Description: "Returns media."}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{
			&mcp.TextContent{Text: "here:"},
			&mcp.ImageContent{MIMEType: "image/png", Data: []byte("12345")},
			&mcp.AudioContent{MIMEType: "audio/wav", Data: []byte("123")},
			&mcp.ResourceLink{URI: "file:///a.txt", Name: "a.txt"},
			&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///b.txt", Text: "bee"}},
			&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///c.bin", MIMEType: "application/octet-stream", Blob: []byte("xy")}},
		}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "count", Description: "Counts, reporting progress."}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		for i := 1; i <= 3; i++ {
			req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: float64(i), Message: fmt.Sprintf("counted %d", i)})
			time.Sleep(20 * time.Millisecond) // counting takes time
		}
		return text("counted to 3"), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "sleep", Description: "Sleeps until cancelled."}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(time.Minute):
			return text("slept a minute"), nil, nil
		}
	})
	mcp.AddTool(s, &mcp.Tool{Name: "huge", Description: "Returns bytes of text."}, func(ctx context.Context, req *mcp.CallToolRequest, in struct {
		Bytes int `json:"bytes"`
	}) (*mcp.CallToolResult, any, error) {
		return text(strings.Repeat("x", in.Bytes)), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "exit", Description: "Ends the server's process."}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		fmt.Fprintln(os.Stderr, "exiting in the middle of a call")
		os.Exit(3)
		return nil, nil, nil
	})
	return s
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// rawTool adds a tool with the given input schema, which the SDK takes as
// it is, answering "ok".
func rawTool(s *mcp.Server, name, schema string) {
	s.AddTool(&mcp.Tool{Name: name, InputSchema: json.RawMessage(schema)}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text("ok"), nil
	})
}

// serveTestServer serves testServer on standard input and output, when
// the test binary is run as an MCP server.
func serveTestServer() {
	if err := testServer().Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, "test server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
