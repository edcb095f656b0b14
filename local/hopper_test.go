package local_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

// hopperScript is a Python program that never stays put: it forks, lets its
// parent exit and moves its child to a process group of its own, over and
// over, writing the PID of each new generation, padded to 10 bytes, to the
// file argv[1]. It gives up after 10 seconds, so that one that escapes does
// not run for ever.
const hopperScript = `import os, sys, time
end = time.time() + 10
while time.time() < end:
    if os.fork():
        os._exit(0)
    os.setpgid(0, 0)
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"%10d" % os.getpid())
    os.close(fd)
`

// hopper is a command line that starts hopperScript in the background,
// writing to the file pidFile of the workspace, and waits until it hops.
func hopper(pidFile string) string {
	return fmt.Sprintf(`python3 -c '%s' %s </dev/null >/dev/null 2>&1 & `+
		`for i in $(seq 500); do [ -s %[2]s ] && break; sleep 0.01; done; `, hopperScript, pidFile)
}

// hopperGone fails t if the hopper writing to path still runs, or left a
// process behind (stopped, say): the PID it wrote last must not change and
// must be dead.
func hopperGone(t *testing.T, path string) {
	t.Helper()
	first := readPID(t, path)
	time.Sleep(50 * time.Millisecond) // the hopper makes a generation in under a millisecond
	last := readPID(t, path)
	if !bytes.Equal(first, last) {
		t.Errorf("the hopper still runs: its PID went from %s to %s", first, last)
		return
	}
	stat, err := os.ReadFile(filepath.Join("/proc", string(last), "stat"))
	if err != nil {
		return
	}
	// Another process may have been given the PID since.
	if bytes.Contains(stat, []byte("(python3) ")) && !bytes.Contains(stat, []byte("(python3) Z")) {
		t.Errorf("the hopper's last generation, PID %s, is still there: %s", last, stat)
	}
}

// readPID reads the PID a hopper wrote to path.
func readPID(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if pid := bytes.TrimSpace(data); err != nil || len(pid) == 0 {
		t.Fatalf("the hopper wrote no PID to %s: %v", path, err)
	}
	return bytes.TrimSpace(data)
}

// TestProcessesThatHopFromGroupToGroupAreKilled checks that with isolation
// None a process that keeps forking and moving to new process groups, but
// stays in its session, dies with its command, whether the command's shell
// exits or the sandbox is closed. A look through /proc may miss such a
// process, so each way is tried many times.
func TestProcessesThatHopFromGroupToGroupAreKilled(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3, which runs the hopper, is not installed, but CI must run this test: %v", err)
		}
		t.Skipf("no python3: %v", err)
	}
	const samples = 20
	sb := newSandbox(t, local.Config{Isolation: local.None})
	t.Run("Run", func(t *testing.T) {
		for i := range samples {
			pidFile := fmt.Sprintf("run-%d.pid", i)
			res, err := sb.Run(t.Context(), agentbox.Command{Cmd: hopper(pidFile) + "exit 3", Timeout: 30 * time.Second})
			if err != nil || res.ExitCode != 3 {
				t.Fatalf("Run = %+v, %v; want exit code 3", res, err)
			}
			hopperGone(t, filepath.Join(sb.Dir(), pidFile))
		}
	})
	t.Run("Close", func(t *testing.T) {
		for range samples {
			sb, err := local.New(t.Context(), local.Config{Isolation: local.None})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sb.Close(context.Background()) }) // after a failure
			pidFile := filepath.Join(t.TempDir(), "hopper.pid")
			if _, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: hopper(pidFile) + "sleep 1000"}); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if data, _ := os.ReadFile(pidFile); len(data) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the hopper did not start")
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			err = sb.Close(ctx)
			cancel()
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
			hopperGone(t, pidFile)
		}
	})
}
