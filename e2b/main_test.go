package e2b_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentbox/agentbox/internal/testkit"
	"go.uber.org/goleak"
)

// serveEnv, set to a port, makes the test binary a tiny web server, for
// tests to start in a sandbox (the fake's commands run on this machine).
const serveEnv = "E2B_TEST_SERVE"

// servedText is what that server answers.
const servedText = "hello from the sandbox"

func TestMain(m *testing.M) {
	if port := os.Getenv(serveEnv); port != "" {
		testkit.Serve(port, servedText)
		return
	}
	if os.Getenv(fakeEnv) != "" {
		serveFakeEnvd()
		return
	}
	goleak.VerifyTestMain(m)
}

// serverCommand is the command line that starts the test server on port.
func serverCommand(t *testing.T, port int) string {
	t.Helper()
	exe, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s=%d exec %q", serveEnv, port, exe)
}
