package local_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/internal/testkit"
	"github.com/agentbox/agentbox/local"
	"go.uber.org/goleak"
)

// serveEnv, set to a port, makes the test binary a tiny web server, for
// tests to start in a sandbox.
const serveEnv = "LOCAL_TEST_SERVE"

// servedText is what that server answers.
const servedText = "hello from the sandbox"

// crashEnv, set to a name, makes the test binary start a background process
// of that name in a bubblewrap sandbox, print "ready" and the workspace, and
// wait to be killed.
const crashEnv = "LOCAL_TEST_CRASH"

// dialEnv, set to the path of a Unix socket, makes the test binary connect
// to it, send "hello" and print "sent"; it exits 1 when it cannot.
const dialEnv = "LOCAL_TEST_DIAL"

func TestMain(m *testing.M) {
	if port := os.Getenv(serveEnv); port != "" {
		testkit.Serve(port, servedText)
		return
	}
	if path := os.Getenv(dialEnv); path != "" {
		dialAndSend(path)
		return
	}
	if name := os.Getenv(crashEnv); name != "" {
		startAndWait(name)
		return
	}
	if os.Getenv(holdEnv) != "" {
		holdSandbox()
		return
	}
	goleak.VerifyTestMain(m)
}

// startAndWait starts a process named name in a new bubblewrap sandbox and
// waits forever.
func startAndWait(name string) {
	ctx := context.Background()
	sb, err := local.New(ctx, local.Config{Isolation: local.Bubblewrap})
	if err == nil {
		_, err = sb.StartProcess(ctx, agentbox.Command{Cmd: grandchild(name) + "sleep 1000"})
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	fmt.Println("ready", sb.Dir())
	select {}
}

// dialAndSend connects to the Unix socket path and sends "hello".
func dialAndSend(path string) {
	c, err := net.Dial("unix", path)
	if err == nil {
		_, err = c.Write([]byte("hello"))
		c.Close()
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("sent")
}
