package agentbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// A run with a scripted model and an in-memory sandbox: the agent writes a
// file, runs a command that reads it, and answers.
func Example() {
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{
			Text:  []string{"Writing the page."},
			Calls: []agentboxtest.Call{{ID: "c1", Name: "write_file", Args: `{"files":[{"path":"index.html","content":"<h1>0</h1>\n"}]}`}},
		},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c2", Name: "run_command", Args: `{"command":"cat index.html"}`}}},
		agentboxtest.Reply("Done: index.html shows a counter."),
	)
	agent := agentbox.New(provider, agentbox.Options{
		Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0), // opened with the first request, closed at the end
	})
	for ev := range agent.Run(context.Background(), "Build a counter page") {
		switch ev := ev.(type) {
		case agentbox.Token:
			fmt.Print(ev.Text)
		case agentbox.ToolStart:
			fmt.Printf("\n→ %s %s\n", ev.Name, ev.Args)
		case agentbox.ToolOutput:
			fmt.Printf("  | %s", ev.Text)
		case agentbox.ToolResult:
			fmt.Printf("← %s\n", strings.ReplaceAll(ev.Output, "\n", " / "))
		case agentbox.Done:
			fmt.Printf("\n%s after %d steps, error: %v\n", ev.Reason, ev.Steps, ev.Err)
		}
	}
	// Output:
	// Writing the page.
	// → write_file {"files":[{"path":"index.html","content":"<h1>0</h1>\n"}]}
	// ← Wrote 1 file: / index.html (11 bytes)
	//
	// → run_command {"command":"cat index.html"}
	//   | <h1>0</h1>
	// ← <h1>0</h1> / [exit code 0]
	// Done: index.html shows a counter.
	// completed after 3 steps, error: <nil>
}

// A custom tool: its JSON Schema comes from the argument type, and arguments
// are checked against it before the function runs.
func ExampleNewTool() {
	type weatherArgs struct {
		City  string `json:"city" jsonschema:"the city to report on"`
		Units string `json:"units,omitempty" jsonschema:"celsius or fahrenheit; default celsius"`
	}
	weather := agentbox.NewTool("weather", "Report the current weather of a city.",
		func(ctx context.Context, env *agentbox.Env, in weatherArgs) (string, error) {
			return fmt.Sprintf("%s: 21°, sunny", in.City), nil
		})
	schema, _ := json.Marshal(weather.Spec().Parameters)
	fmt.Println(string(schema))

	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{
			{ID: "c1", Name: "weather", Args: `{"city":"Lisbon"}`},
			{ID: "c2", Name: "weather", Args: `{"town":"Porto"}`}, // wrong: the model repairs it next
		}},
		agentboxtest.Reply("Lisbon is sunny."),
	)
	agent := agentbox.New(provider, agentbox.Options{Tools: []agentbox.Tool{weather}})
	var done agentbox.Done
	for ev := range agent.Run(context.Background(), "Weather in Lisbon and Porto?") {
		if d, ok := ev.(agentbox.Done); ok {
			done = d
		}
	}
	for _, m := range done.Messages {
		if m.Role == agentbox.RoleTool {
			fmt.Println(m.ToolCallID, m.Content) // what the model read, in call order
		}
	}
	// Output:
	// {"type":"object","properties":{"city":{"type":"string","description":"the city to report on"},"units":{"type":"string","description":"celsius or fahrenheit; default celsius"}},"required":["city"],"additionalProperties":false}
	// c1 Lisbon: 21°, sunny
	// c2 Error: invalid arguments: validating root: unexpected additional properties ["town"]
}

// Events marshal to JSON with a "type" field, ready to stream to a browser.
func ExampleEvent_json() {
	events := []agentbox.Event{
		agentbox.Token{Step: 1, Text: "Hi"},
		agentbox.ToolResult{Step: 1, ID: "c1", Name: "run_command", Output: "[exit code 0]"},
	}
	for _, ev := range events {
		b, _ := json.Marshal(ev)
		fmt.Println(string(b))
	}
	// Output:
	// {"type":"token","step":1,"text":"Hi"}
	// {"type":"tool_result","step":1,"id":"c1","name":"run_command","output":"[exit code 0]","duration_ms":0}
}

// A session of two turns in one sandbox: the second reads what the first
// wrote. Its state is what another process resumes it from.
func ExampleSession() {
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"todo.txt","content":"ship it\n"}]}`}}},
		agentboxtest.Reply("Noted."),
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "read_file", Args: `{"path":"todo.txt"}`}}},
		agentboxtest.Reply("It says: ship it."),
	)
	opened := 0
	agent := agentbox.New(provider, agentbox.Options{
		Open: func(ctx context.Context) (agentbox.Sandbox, error) {
			opened++
			return agentboxtest.NewSandbox(), nil
		},
	})
	session := agent.NewSession(agentbox.SessionOptions{})
	defer session.Close(context.Background())
	for _, msg := range []string{"Note: ship it", "What is on my list?"} {
		for ev := range session.Send(context.Background(), msg) {
			switch ev := ev.(type) {
			case agentbox.ToolResult:
				fmt.Printf("%s: %q\n", ev.Name, ev.Output)
			case agentbox.Done:
				fmt.Printf("answer: %s\n", ev.Messages[len(ev.Messages)-1].Content)
			}
		}
	}
	state := session.State()
	fmt.Printf("%d sandbox opened; the state has %d messages and %d tokens\n", opened, len(state.Messages), state.Usage.TotalTokens())
	// Output:
	// write_file: "Wrote 1 file:\ntodo.txt (8 bytes)"
	// answer: Noted.
	// read_file: "ship it\n"
	// answer: It says: ship it.
	// 1 sandbox opened; the state has 8 messages and 0 tokens
}
