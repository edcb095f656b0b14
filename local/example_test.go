package local_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/local"
)

func Example() {
	ctx := context.Background()
	sb, err := local.New(ctx, local.Config{}) // a temporary workspace; bubblewrap when installed
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close(ctx) // kills what runs, removes the workspace

	err = sb.WriteFiles(ctx, []agentbox.File{{Path: "hello.txt", Data: []byte("hello\n")}})
	if err != nil {
		log.Fatal(err)
	}
	var out strings.Builder
	res, err := sb.Run(ctx, agentbox.Command{Cmd: "cat hello.txt; wc -c < hello.txt", Stdout: &out})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())
	fmt.Println("exit code", res.ExitCode)

	_, err = sb.Open(ctx, "../etc/passwd")
	fmt.Println(err)
	// Output:
	// hello
	// 6
	// exit code 0
	// open ../etc/passwd: path is outside the workspace
}

// Each run of the agent opens a sandbox of its own, together with its first
// model request, and closes it when it ends.
func ExampleOpener() {
	model := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "1", Name: "run_command", Args: `{"command":"echo $((6 * 7)) > answer.txt && cat answer.txt"}`}}},
		agentboxtest.Reply("The answer is 42."),
	)
	agent := agentbox.New(model, agentbox.Options{Open: local.Opener(local.Config{})})
	for ev := range agent.Run(context.Background(), "What is six times seven? Use the shell.") {
		switch ev := ev.(type) {
		case agentbox.ToolOutput:
			fmt.Printf("%s: %s", ev.Stream, ev.Text)
		case agentbox.ToolResult:
			fmt.Printf("%s returned %q\n", ev.Name, ev.Output)
		case agentbox.Done:
			fmt.Println(ev.Reason, ev.Err)
		}
	}
	// Output:
	// stdout: 42
	// run_command returned "42\n[exit code 0]"
	// completed <nil>
}
