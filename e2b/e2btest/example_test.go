package e2btest_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// Example proves that a piece of code kills the sandboxes it creates.
func Example() {
	srv, err := e2btest.Start(e2btest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ctx := context.Background()
	for range 3 {
		sb, err := e2b.New(ctx, srv.Config())
		if err != nil {
			fmt.Println(err)
			return
		}
		var out strings.Builder
		sb.Run(ctx, agentbox.Command{Cmd: "echo $E2B_SANDBOX", Stdout: &out})
		fmt.Print(out.String())
		sb.Close(ctx)
	}
	fmt.Printf("%+v\n", srv.Stats())
	// Output:
	// true
	// true
	// true
	// {Created:3 Forked:0 Killed:3 Expired:0 Died:0 Paused:0 Resumed:0 Alive:0 PausedNow:0}
}
