package mcpbox_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
	"github.com/agentbox/agentbox/mcpbox"
)

// An agent with the tools of an MCP server that runs as a command, beside
// its built-in sandbox tools.
func ExampleConnect() {
	var provider agentbox.Provider // OpenRouter's, say
	ctx := context.Background()

	docs, err := mcpbox.Connect(ctx, mcpbox.Config{
		Name:    "docs",
		Command: []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer docs.Close() // ends the server's process
	agent := agentbox.New(provider, agentbox.Options{
		Toolsets: []agentbox.Toolset{docs}, // docs_read_text_file, docs_search_files, … and the built-in tools
		Open:     local.Opener(local.Config{}),
	})
	for ev := range agent.Run(ctx, "Build the page our style guide describes") {
		fmt.Println(ev)
	}
}

// A server reached over streamable HTTP, whose calls need a person's
// approval.
func ExampleConnect_http() {
	ctx := context.Background()
	tickets, err := mcpbox.Connect(ctx, mcpbox.Config{
		Name:            "tickets",
		URL:             "https://mcp.example.com/mcp",
		Header:          http.Header{"Authorization": {"Bearer " + "token"}},
		RequireApproval: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer tickets.Close()
	fmt.Println(tickets.Name())
}
