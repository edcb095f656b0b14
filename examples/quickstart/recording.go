package main

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// app holds the files of the web app that the recorded session writes.
//
//go:embed app
var app embed.FS

// appFiles are the app's files, in the order the session writes them.
var appFiles = []string{"index.html", "server.js", "test.js"}

// appFile returns the contents of one of the app's files.
func appFile(name string) string {
	data, err := app.ReadFile("app/" + name)
	if err != nil {
		panic(err) // embedded: cannot fail for appFiles
	}
	return string(data)
}

// recording is a model session recorded for defaultPrompt, in which the
// app's server listens on port.
func recording(port int) []agentboxtest.Step {
	files := make([]map[string]string, len(appFiles))
	for i, name := range appFiles {
		files[i] = map[string]string{"path": name, "content": appFile(name)}
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
