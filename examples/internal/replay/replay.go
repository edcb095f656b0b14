// Package replay is a model session recorded for the examples: it builds a
// counter web app, so that they run without an account or a network.
package replay

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"iter"
	"net"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// Prompt is the prompt the session was recorded for.
const Prompt = "Build a counter web app: a page with a number and a +1 button, and a tiny server that keeps the count."

// app holds the files of the web app that the recorded session writes.
//
//go:embed app
var app embed.FS

// Files are the app's files, in the order the session writes them.
var Files = []string{"index.html", "server.js", "test.js"}

// File returns the contents of one of the app's files.
func File(name string) string {
	data, err := app.ReadFile("app/" + name)
	if err != nil {
		panic(err) // embedded: cannot fail for appFiles
	}
	return string(data)
}

// Steps are the model's responses in the session recorded for Prompt, in
// which the app's server listens on port.
func Steps(port int) []agentboxtest.Step {
	files := make([]map[string]string, len(Files))
	for i, name := range Files {
		files[i] = map[string]string{"path": name, "content": File(name)}
	}
	usage := func(prompt, completion int64) *agentbox.Usage {
		return &agentbox.Usage{PromptTokens: prompt, CompletionTokens: completion}
	}
	return []agentboxtest.Step{
		{
			Text:  []string{"I'll build it ", "in three files: ", "`index.html`, the page; ", "`server.js`, a tiny ", "Node server that ", "keeps the count; ", "and `test.js`, ", "which checks the server.\n"},
			Calls: []agentboxtest.Call{{ID: "call_write", Name: "write_file", Args: jsonText(map[string]any{"files": files}), Split: 64}},
			Usage: usage(1450, 980),
		},
		{
			Text:  []string{"Let me check ", "that the server ", "works before ", "starting it.\n"},
			Calls: []agentboxtest.Call{{ID: "call_check", Name: "run_command", Args: jsonText(map[string]any{"command": "node test.js"})}},
			Usage: usage(2520, 40),
		},
		{
			Text:  []string{"All checks pass. ", "Starting the server.\n"},
			Calls: []agentboxtest.Call{{ID: "call_start", Name: "start_process", Args: jsonText(map[string]any{"command": fmt.Sprintf("PORT=%d node server.js", port), "port": port})}},
			Usage: usage(2680, 45),
		},
		{
			Text:  []string{"Done: ", "the counter app ", "is running. ", "Open it and press **+1**; ", "the count lives on the server, ", "so it survives a reload."},
			Usage: usage(2790, 38),
		},
	}
}

// jsonText returns v as JSON, with <, > and & as they are.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Provider returns a provider that replays the session in every
// conversation at once: the response it gives is the recorded one for the
// number of responses since the user's message, with a free port for the
// app's server. It answers only the first message of a conversation; to
// later ones it says that a live model is needed.
func Provider() agentbox.Provider { return provider{} }

type provider struct{}

// Later is the answer to messages after the first.
const Later = "This is a recorded session: it answers only the first message. Set OPENROUTER_API_KEY, or OPENROUTER_BASE_URL for a local model server, to talk with a live model."

func (provider) Stream(ctx context.Context, req *agentbox.Request) iter.Seq2[agentbox.Chunk, error] {
	users, answers := 0, 0
	for _, m := range req.Messages {
		switch m.Role {
		case agentbox.RoleUser:
			users++
			answers = 0
		case agentbox.RoleAssistant:
			answers++
		}
	}
	step := agentboxtest.Reply(Later)
	if users == 1 && answers < 4 {
		port := 0
		if answers == 2 { // the step that starts the server
			var err error
			if port, err = FreePort(); err != nil {
				return func(yield func(agentbox.Chunk, error) bool) { yield(agentbox.Chunk{}, err) }
			}
		}
		step = Steps(port)[answers]
	}
	return agentboxtest.NewProvider(step).Stream(ctx, req)
}

// FreePort returns a TCP port that nothing listens on.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
