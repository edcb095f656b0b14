// Command mcp runs an agent that uses the tools of an MCP server next to
// its own sandbox tools. The server is this program itself, started again
// as a child process that speaks MCP on its standard input and output: it
// knows the latest versions of a few npm packages. The agent looks one up,
// writes a package.json with it into a sandbox (a local one, or an E2B one
// when E2B_API_KEY is set) and checks the file.
//
//	go run ./examples/mcp
//
// With OPENROUTER_API_KEY (or OPENROUTER_BASE_URL for a local model server)
// a live model does the work; otherwise a scripted model does, offline.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/examples/internal/choose"
	"github.com/agentbox/agentbox/mcpbox"
)

// prompt is what the agent is asked.
const prompt = "Look up the latest version of express with the registry tool, then write a package.json " +
	"that depends on it, and show the file with cat."

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serveRegistry(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, "mcp server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err == nil {
		err = run(ctx, os.Stdout, []string{exe, "serve"})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcp:", err)
		os.Exit(1)
	}
}

// run starts the MCP server that command runs, and an agent that uses its
// tools and the built-in ones, printing what it does to w.
func run(ctx context.Context, w io.Writer, command []string) error {
	registry, err := mcpbox.Connect(ctx, mcpbox.Config{Name: "registry", Command: command})
	if err != nil {
		return err
	}
	defer registry.Close() // ends the server's process

	var model agentbox.Provider = scripted()
	if choose.Live() {
		p, _, err := choose.Model(ctx, "anthropic/claude-sonnet-4.5", "agentbox mcp example")
		if err != nil {
			return err
		}
		model = p
	}
	agent := agentbox.New(model, agentbox.Options{
		Toolsets: []agentbox.Toolset{registry}, // the server's tools, with the built-in ones
		Open:     choose.Opener(),
	})
	var done agentbox.Done
	for ev := range agent.Run(ctx, prompt) {
		switch ev := ev.(type) {
		case agentbox.Token:
			if !ev.Reasoning {
				fmt.Fprint(w, ev.Text)
			}
		case agentbox.ToolStart:
			fmt.Fprintf(w, "\n→ %s %s\n", ev.Name, ev.Args)
		case agentbox.ToolResult:
			fmt.Fprintf(w, "← %s\n", strings.ReplaceAll(strings.TrimSpace(ev.Output), "\n", "\n  "))
		case agentbox.Error:
			fmt.Fprintf(w, "! %v\n", ev.Err)
		case agentbox.Done:
			done = ev
		}
	}
	fmt.Fprintf(w, "\n%s after %d steps\n", done.Reason, done.Steps)
	return done.Err
}

// scripted is the model of an offline run: it asks the registry, writes
// the file and checks it.
func scripted() agentbox.Provider {
	return agentboxtest.NewProvider(
		agentboxtest.Step{
			Text:  []string{"I'll look up express first."},
			Calls: []agentboxtest.Call{{ID: "c1", Name: "registry_latest_version", Args: `{"package":"express"}`}},
		},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c2", Name: "write_file",
			Args: `{"files":[{"path":"package.json","content":"{\n  \"name\": \"app\",\n  \"dependencies\": { \"express\": \"^5.1.0\" }\n}\n"}]}`}}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c3", Name: "run_command", Args: `{"command":"cat package.json"}`}}},
		agentboxtest.Reply("package.json depends on express ^5.1.0, the latest version."),
	)
}

// versions are what the registry server knows.
var versions = map[string]string{"express": "5.1.0", "react": "19.1.0", "vite": "7.0.4", "typescript": "5.8.3"}

// serveRegistry serves the registry's one tool over t until the client
// ends the session.
func serveRegistry(ctx context.Context, t mcp.Transport) error {
	s := mcp.NewServer(&mcp.Implementation{Name: "registry", Version: "1"}, nil)
	type args struct {
		Package string `json:"package" jsonschema:"the npm package's name"`
	}
	mcp.AddTool(s, &mcp.Tool{
		Name:        "latest_version",
		Description: "The latest published version of an npm package.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, func(ctx context.Context, req *mcp.CallToolRequest, in args) (*mcp.CallToolResult, any, error) {
		v, ok := versions[in.Package]
		if !ok {
			return nil, nil, fmt.Errorf("no package %q in this registry", in.Package)
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Package + " " + v}}}, nil, nil
	})
	return s.Run(ctx, t)
}
