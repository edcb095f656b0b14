package agentbox_test

import (
	"context"
	"fmt"
	"log"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/local"
)

// The README's usage snippet, run with a scripted model.
func ExampleAgent_Run_readme() {
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Text: []string{"Checking the tools."}, Calls: []agentboxtest.Call{{ID: "c1", Name: "run_command", Args: `{"command":"echo ready"}`}}},
		agentboxtest.Step{Text: []string{"Done."}, Usage: &agentbox.Usage{PromptTokens: 1200, CompletionTokens: 85}},
	)
	ctx := context.Background()

	agent := agentbox.New(provider, agentbox.Options{
		Model:    "anthropic/claude-sonnet-4.5",
		Open:     local.Opener(local.Config{}), // opened with the first model request, closed when the run ends
		MaxSteps: 20,
	})
	for ev := range agent.Run(ctx, "Create a counter app") {
		switch ev := ev.(type) {
		case agentbox.Token:
			fmt.Print(ev.Text) // streamed model text
		case agentbox.ToolStart:
			fmt.Println("\n→", ev.Name, string(ev.Args)) // complete, valid JSON arguments
		case agentbox.ToolOutput:
			fmt.Print(ev.Text) // stdout/stderr as it is written
		case agentbox.ToolResult:
			fmt.Println("←", ev.Name, ev.Err) // what the model got back: nil, or what failed
		case agentbox.Error:
			log.Println(ev.Err) // a retry, a fallback, or the fatal error
		case agentbox.Done:
			fmt.Println("\n"+string(ev.Reason)+":", ev.Usage) // always last
		}
	}
	// Output:
	// Checking the tools.
	// → run_command {"command":"echo ready"}
	// ready
	// ← run_command <nil>
	// Done.
	// completed: 1200 in, 85 out tokens
}

// lookup stands for a weather service.
func lookup(city string) (string, error) { return "Sunny in " + city + ".", nil }

// The README's custom tool, called by a scripted model: its arguments are
// checked against the schema derived from args before it runs.
func ExampleNewTool_readme() {
	type args struct {
		City string `json:"city" jsonschema:"the city to report on"`
	}
	weather := agentbox.NewTool("weather", "Report the weather of a city.",
		func(ctx context.Context, env *agentbox.Env, in args) (string, error) { return lookup(in.City) })

	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{
			{ID: "w1", Name: "weather", Args: `{"city":"Lisbon"}`},
			{ID: "w2", Name: "weather", Args: `{"town":"Porto"}`},
		}},
		agentboxtest.Reply("Sunny."),
	)
	agent := agentbox.New(provider, agentbox.Options{Tools: []agentbox.Tool{weather}})
	for ev := range agent.Run(context.Background(), "Weather in Lisbon?") {
		if r, ok := ev.(agentbox.ToolResult); ok {
			fmt.Printf("%s: %s (error: %t)\n", r.ID, r.Output, r.Err != nil)
		}
	}
	// The two calls run at once: their results come in either order.

	// Unordered output:
	// w1: Sunny in Lisbon. (error: false)
	// w2: Error: invalid arguments: 2 problems:
	// - missing required property "city"
	// - unexpected property "town"; the properties are "city" (error: true)
}
