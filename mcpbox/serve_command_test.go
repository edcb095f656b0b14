package mcpbox_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// buildCommand builds cmd/agentbox-mcp into a temporary folder and returns
// its path.
func buildCommand(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/agentbox-mcp")
	}
	bin := filepath.Join(t.TempDir(), "agentbox-mcp")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/agentbox/agentbox/cmd/agentbox-mcp").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a TCP port that nothing listens on, most likely.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestCommandOverStdio runs cmd/agentbox-mcp with a local sandbox, as an
// MCP client starts it: it writes a page, reads it with a command, serves
// it with python3's HTTP server and fetches it at its preview URL.
func TestCommandOverStdio(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	bin := buildCommand(t)
	cmd := exec.Command(bin, "-sandbox", "local")
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	const page = "<h1>hello from agentbox</h1>\n"
	mustCall(t, cs, "write_file", `{"files":[{"path":"site/index.html","content":"<h1>hello from agentbox</h1>\n"}]}`, "site/index.html")
	mustCall(t, cs, "run_command", `{"command":"cat site/index.html"}`, page+"[exit code 0]")

	port := freePort(t)
	// The sandbox's PATH is the host's, but python3 may be a shim that
	// needs the host's HOME: the resolved path is used where it is real.
	if real, err := filepath.EvalSymlinks(python); err == nil && !strings.Contains(real, "shims") {
		python = real
	} else {
		python = "python3"
	}
	started := mustCall(t, cs, "start_process",
		`{"command":"`+python+` -m http.server `+strconv.Itoa(port)+` --bind 127.0.0.1","cwd":"site","port":`+strconv.Itoa(port)+`}`,
		"answers at")
	id := regexp.MustCompile(`Process (\S+) is running`).FindStringSubmatch(started)
	if id == nil {
		t.Fatalf("start_process = %q, want its process ID", started)
	}
	defer mustCall(t, cs, "stop_process", `{"id":"`+id[1]+`"}`, id[1])

	got := mustCall(t, cs, "preview_url", `{"port":`+strconv.Itoa(port)+`}`, "answers at ")
	url := strings.TrimSpace(got[strings.Index(got, "answers at ")+len("answers at "):])
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(url + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != page {
		t.Errorf("GET %s/index.html = %q, %v; want the page written", url, body, err)
	}
	hc.CloseIdleConnections()
}

// TestCommandOverHTTP runs cmd/agentbox-mcp -http, calls a tool, and
// stops it with SIGINT, which closes the sandbox and the workspace it made.
func TestCommandOverHTTP(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT")
	}
	cmd := startHTTPCommand(t, buildCommand(t), nil, "-sandbox", "local")
	endpoint := cmd.endpoint

	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	workspace := strings.TrimSpace(mustCall(t, cs, "run_command", `{"command":"pwd"}`, "[exit code 0]"))
	workspace = strings.TrimSpace(strings.TrimSuffix(workspace, "[exit code 0]"))
	if _, err := os.Stat(workspace); err != nil {
		t.Fatalf("the workspace %q is not on this machine: %v", workspace, err)
	}

	if err := cmd.interrupt(t, 30*time.Second); err != nil {
		t.Errorf("after SIGINT the command exited with %v, want 0", err)
	}
	if _, err := os.Stat(workspace); !os.IsNotExist(err) {
		t.Errorf("the session's temporary workspace %q is left after SIGINT: %v", workspace, err)
	}
}
