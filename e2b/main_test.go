package e2b_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// serveEnv, set to a port, makes the test binary a tiny web server, for
// tests to start in a sandbox (the fake's commands run on this machine).
const serveEnv = "E2B_TEST_SERVE"

// servedText is what that server answers.
const servedText = "hello from the sandbox"

func TestMain(m *testing.M) {
	if port := os.Getenv(serveEnv); port != "" {
		serve(port)
		return
	}
	goleak.VerifyTestMain(m)
}

// serve listens on port, after a moment, and answers every request with
// servedText until killed.
func serve(port string) {
	time.Sleep(200 * time.Millisecond) // a server takes a moment to start
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("listening on", port)
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, servedText)
	}))
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

// freePort returns a port that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
