package mcpbox_test

import (
	"context"
	"fmt"
	"log"

	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/mcpbox"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ExampleNewServer serves an in-memory sandbox's tools to an MCP client
// over in-memory transports. A program would serve local.Opener or
// e2b.Opener sandboxes over stdio (Run with &mcp.StdioTransport{}) or
// HTTP (Handler).
func ExampleNewServer() {
	ctx := context.Background()
	srv, err := mcpbox.NewServer(mcpbox.ServerOptions{
		Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close(ctx)

	clientTransport, serverTransport := mcp.NewInMemoryTransports()
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx, serverTransport) }()
	client := mcp.NewClient(&mcp.Implementation{Name: "example", Version: "v1"}, nil)
	cs, err := client.Connect(ctx, clientTransport, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { cs.Close(); <-ran }()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tools.Tools {
		fmt.Println(t.Name)
	}
	for _, call := range []*mcp.CallToolParams{
		{Name: "write_file", Arguments: map[string]any{"files": []any{map[string]any{"path": "hello.txt", "content": "Hello, MCP!\n"}}}},
		{Name: "read_file", Arguments: map[string]any{"path": "hello.txt"}},
	} {
		res, err := cs.CallTool(ctx, call)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", call.Name, res.Content[0].(*mcp.TextContent).Text)
	}
	// Output:
	// edit_file
	// list_files
	// preview_url
	// process_output
	// read_file
	// run_command
	// start_process
	// stop_process
	// write_file
	// write_file: Wrote 1 file:
	// hello.txt (12 bytes)
	// read_file: Hello, MCP!
}
