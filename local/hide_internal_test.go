package local

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
)

func TestBubblewrapHidesRootSockets(t *testing.T) {
	if _, err := findBubblewrap(t.Context()); err != nil {
		t.Skipf("no bubblewrap: %v", err)
	}
	dir, err := os.MkdirTemp("/var/tmp", "agentbox-test-") // commands get an empty /tmp
	if err != nil {
		t.Skip(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	saved := rootSockets
	rootSockets = []string{sock}
	defer func() { rootSockets = saved }()

	sb, err := New(t.Context(), Config{Isolation: Bubblewrap})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(t.Context())
	var out strings.Builder
	res, err := sb.Run(t.Context(), agentbox.Command{Cmd: "test -S " + sock + " && echo socket; wc -c < " + sock, Stdout: &out, Stderr: &out})
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(out.String()) != "0" {
		t.Errorf("a command sees the daemon's socket: %+v, %v, %q; want an empty file", res, err, out.String())
	}
}
