package agentbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

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
	// c2 Error: invalid arguments: 2 problems:
	// - missing required property "city"
	// - unexpected property "town"; the properties are "city", "units"
}

// Events marshal to JSON with a "type" field, ready to stream to a browser.
func ExampleEvent_json() {
	events := []agentbox.Event{
		agentbox.Token{Step: 1, Text: "Hi"},
		agentbox.ToolResult{Step: 1, ID: "c1", Name: "run_command", Output: "[exit code 3]", Exit: &agentbox.Exit{Code: 3}},
	}
	for _, ev := range events {
		b, _ := json.Marshal(ev)
		fmt.Println(string(b))
	}
	// Output:
	// {"type":"token","step":1,"text":"Hi"}
	// {"type":"tool_result","step":1,"id":"c1","name":"run_command","output":"[exit code 3]","exit":{"code":3,"killed":false,"timed_out":false},"duration_ms":0}
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

// A schema derived from the argument type, refined: a jsonschema tag is only
// a description, and EditSchema adds the other keywords. A property left out
// gets its default.
func ExampleEditSchema() {
	type args struct {
		City  string `json:"city" jsonschema:"the city to report on"`
		Units string `json:"units,omitempty" jsonschema:"the units of the temperature"`
		Days  int    `json:"days,omitempty" jsonschema:"how many days to forecast"`
	}
	forecast := agentbox.NewTool("forecast", "Forecast the weather of a city.",
		func(ctx context.Context, env *agentbox.Env, in args) (string, error) {
			return fmt.Sprintf("%s, %d days, in %s: sunny", in.City, in.Days, in.Units), nil
		},
		agentbox.EditSchema(func(s *jsonschema.Schema) {
			s.Properties["units"].Enum = []any{"celsius", "fahrenheit"}
			s.Properties["units"].Default = json.RawMessage(`"celsius"`)
			s.Properties["days"].Minimum = jsonschema.Ptr(1.0)
			s.Properties["days"].Maximum = jsonschema.Ptr(14.0)
			s.Properties["days"].Default = json.RawMessage(`3`)
		}))
	fmt.Println(string(forecast.Spec().Parameters))

	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c1", Name: "forecast", Args: `{"city":"Lisbon"}`}}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c2", Name: "forecast", Args: `{"city":"Porto","units":"kelvin","days":30}`}}},
		agentboxtest.Reply("Sunny."),
	)
	agent := agentbox.New(provider, agentbox.Options{Tools: []agentbox.Tool{forecast}})
	for ev := range agent.Run(context.Background(), "Weather in Lisbon and Porto?") {
		if r, ok := ev.(agentbox.ToolResult); ok {
			fmt.Println(r.ID, r.Output)
		}
	}
	// Output:
	// {"type":"object","properties":{"city":{"type":"string","description":"the city to report on"},"units":{"type":"string","description":"the units of the temperature","default":"celsius","enum":["celsius","fahrenheit"]},"days":{"type":"integer","description":"how many days to forecast","default":3,"minimum":1,"maximum":14}},"required":["city"],"additionalProperties":false}
	// c1 Lisbon, 3 days, in celsius: sunny
	// c2 Error: invalid arguments: 2 problems:
	// - days: 30 is more than the maximum, 14
	// - units: "kelvin" is not one of "celsius", "fahrenheit"
}

// A tool whose schema is written by hand, here with a $ref and anyOf, and
// whose arguments come as the model wrote them.
func ExampleNewToolWithSchema() {
	var schema jsonschema.Schema
	err := json.Unmarshal([]byte(`{
		"type": "object",
		"properties": {
			"shape": {"$ref": "#/$defs/shape"},
			"size": {"anyOf": [{"type": "integer", "minimum": 1}, {"enum": ["small", "large"]}]}
		},
		"required": ["shape"],
		"additionalProperties": false,
		"$defs": {"shape": {"enum": ["circle", "square"]}}
	}`), &schema)
	if err != nil {
		panic(err)
	}
	draw, err := agentbox.NewToolWithSchema("draw", "Draw a shape.", &schema,
		func(ctx context.Context, env *agentbox.Env, in json.RawMessage) (string, error) {
			return "drew " + string(in), nil
		})
	if err != nil {
		panic(err)
	}
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c1", Name: "draw", Args: `{"shape":"circle","size":"small"}`}}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "c2", Name: "draw", Args: `{"size":0,"color":"red"}`}}},
		agentboxtest.Reply("Drawn."),
	)
	agent := agentbox.New(provider, agentbox.Options{Tools: []agentbox.Tool{draw}})
	for ev := range agent.Run(context.Background(), "Draw a small circle") {
		if r, ok := ev.(agentbox.ToolResult); ok {
			fmt.Println(r.ID, r.Output)
		}
	}

	// A schema that is no object is refused.
	_, err = agentbox.NewToolWithSchema("echo", "Echo.", &jsonschema.Schema{Type: "string"},
		func(ctx context.Context, env *agentbox.Env, in string) (string, error) { return in, nil })
	fmt.Println(err)
	// Output:
	// c1 drew {"shape":"circle","size":"small"}
	// c2 Error: invalid arguments: 3 problems:
	// - missing required property "shape"
	// - size: anyOf: did not validate against any of [<anonymous schema> <anonymous schema>]: minimum: 0/1 is less than 1.000000; enum: 0 does not equal any of: [small large]
	// - unexpected property "color"; the properties are "shape", "size"
	// agentbox.NewToolWithSchema "echo": the arguments are a JSON object, which a string cannot hold: use a struct, a map with string keys or json.RawMessage
}
