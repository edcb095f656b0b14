package agentboxtest_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

func ExampleProvider() {
	ctx := context.Background()
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "call_1", Name: "run_command", Args: `{"cmd":"ls"}`, Split: 4}}},
		agentboxtest.Reply("Hello, ", "world."),
	)
	req := &agentbox.Request{Messages: []agentbox.Message{{Role: agentbox.RoleUser, Content: "Hi"}}}
	for range 3 {
		resp, err := agentboxtest.Collect(p.Stream(ctx, req))
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%q %v %s\n", resp.Text, resp.Calls, resp.Finish)
	}
	fmt.Println(len(p.Requests()), "requests")
	// Output:
	// "" [{call_1 run_command {"cmd":"ls"}}] tool_calls
	// "Hello, world." [] stop
	// agentboxtest: the script has no step 3 (it has 2)
	// 3 requests
}

func ExampleSandbox() {
	ctx := context.Background()
	sb := agentboxtest.NewSandbox()
	defer sb.Close(ctx)
	sb.SetFile("src/greeting.txt", []byte("Hello"))

	var out strings.Builder
	res, err := sb.Run(ctx, agentbox.Command{
		Cmd:    `cat greeting.txt && echo ", $NAME." > ../name.txt && pwd`,
		Dir:    "src",
		Env:    map[string]string{"NAME": "world"},
		Stdout: &out,
	})
	fmt.Printf("%q %d %v\n", out.String(), res.ExitCode, err)
	name, _ := sb.File("name.txt")
	fmt.Printf("%q\n", name)
	// Output:
	// "Hello/src\n" 0 <nil>
	// ", world.\n"
}

func ExampleSandbox_handler() {
	ctx := context.Background()
	sb := agentboxtest.NewSandbox()
	defer sb.Close(ctx)
	sb.Handler = func(ctx context.Context, sb *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		if cmd.Cmd != "npm run dev" {
			return agentboxtest.Shell(ctx, sb, cmd)
		}
		fmt.Fprintln(cmd.Stdout, "ready on port 5173")
		sb.Listen(5173, "http://127.0.0.1:5173")
		<-ctx.Done()
		return agentbox.Result{ExitCode: -1}, nil
	}

	var out strings.Builder
	if _, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "npm run dev", Stdout: &out}); err != nil {
		fmt.Println(err)
		return
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url, err := sb.PreviewURL(wait, 5173)
	fmt.Println(url, err)
	sb.Close(ctx)
	fmt.Print(out.String())
	fmt.Println(sb.Running(), "running")
	// Output:
	// http://127.0.0.1:5173 <nil>
	// ready on port 5173
	// 0 running
}
