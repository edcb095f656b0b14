package e2b_test

import (
	"context"
	"fmt"
	"os"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// Example runs a command in a sandbox. Here E2B is the fake of e2btest;
// with E2B's cloud, the Config comes from e2b.FromEnv().
func Example() {
	srv, err := e2btest.Start(e2btest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	ctx := context.Background()
	sb, err := e2b.New(ctx, srv.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close(ctx)
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "hello.txt", Data: []byte("hello from E2B\n")}}); err != nil {
		fmt.Println(err)
		return
	}
	res, err := sb.Run(ctx, agentbox.Command{Cmd: "cat hello.txt", Stdout: os.Stdout})
	fmt.Println(res.ExitCode, err)
	// Output:
	// hello from E2B
	// 0 <nil>
}

// ExampleSandbox_Pause pauses a sandbox while it idles: the next command
// resumes it, with its files as they were.
func ExampleSandbox_Pause() {
	srv, err := e2btest.Start(e2btest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	ctx := context.Background()
	sb, err := e2b.New(ctx, srv.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close(ctx)
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "notes.txt", Data: []byte("written before the pause\n")}}); err != nil {
		fmt.Println(err)
		return
	}
	if err := sb.Pause(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("paused:", srv.Stats().PausedNow)
	_, err = sb.Run(ctx, agentbox.Command{Cmd: "cat notes.txt", Stdout: os.Stdout})
	fmt.Println("resumed:", srv.Stats().Resumed, err)
	// Output:
	// paused: 1
	// written before the pause
	// resumed: 1 <nil>
}
