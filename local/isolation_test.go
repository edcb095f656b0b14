package local_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

func TestBubblewrapConfinesCommands(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap})
	ctx := t.Context()
	t.Run("the system is read-only", func(t *testing.T) {
		for _, p := range []string{"/usr/agentbox-test", "/etc/agentbox-test", "/agentbox-test", filepath.Join(os.Getenv("HOME"), "agentbox-test")} {
			var stderr strings.Builder
			res, err := sb.Run(ctx, agentbox.Command{Cmd: "touch " + p, Stderr: &stderr})
			if err != nil || res.ExitCode == 0 {
				t.Errorf("touch %s = %+v, %v; want a failure", p, res, err)
			} else if !strings.Contains(stderr.String(), "Read-only file system") {
				t.Errorf("touch %s failed with %q, want a read-only file system", p, stderr.String())
			}
			if _, err := os.Stat(p); err == nil {
				os.Remove(p)
				t.Errorf("%s was made outside the sandbox", p)
			}
		}
	})
	t.Run("the workspace and HOME are writable", func(t *testing.T) {
		run(t, sb, `echo made > made.txt && mkdir -p "$HOME/.cache" && touch "$HOME/.cache/x"`)
		if got, err := os.ReadFile(filepath.Join(sb.Dir(), "made.txt")); err != nil || string(got) != "made\n" {
			t.Errorf("made.txt = %q, %v", got, err)
		}
	})
	t.Run("/tmp is private", func(t *testing.T) {
		name := marker(t)
		run(t, sb, "echo kept > /tmp/"+name+` && echo kept > "$TMPDIR/`+name+`"`)
		if _, err := os.Stat(filepath.Join("/tmp", name)); err == nil {
			os.Remove(filepath.Join("/tmp", name))
			t.Errorf("/tmp/%s, written by a command, is in the host's /tmp", name)
		}
		if got := run(t, sb, "ls -A /tmp"); got != "" && !strings.HasPrefix(got, "agentbox-") {
			t.Errorf("the next command's /tmp holds %q, want it empty but for the sandbox's own folders", got)
		}
		if got := run(t, sb, `cat "$TMPDIR/`+name+`"`); got != "kept\n" {
			t.Errorf("the next command of the sandbox reads %q from $TMPDIR/%s, want %q", got, name, "kept\n")
		}
		other := newSandbox(t, local.Config{Isolation: local.Bubblewrap})
		var out strings.Builder
		if res, _ := other.Run(ctx, agentbox.Command{Cmd: `cat "$TMPDIR/` + name + `"`, Stdout: &out}); res.ExitCode == 0 {
			t.Errorf("another sandbox reads $TMPDIR/%s: %q", name, out.String())
		}
	})
	t.Run("new PID, IPC and UTS namespaces", func(t *testing.T) {
		for _, ns := range []string{"pid", "ipc", "uts"} {
			host, err := os.Readlink("/proc/self/ns/" + ns)
			if err != nil {
				t.Skipf("cannot read this process's namespaces: %v", err)
			}
			if inside := strings.TrimSpace(run(t, sb, "readlink /proc/self/ns/"+ns)); inside == host {
				t.Errorf("a command's %s namespace is the host's, %s", ns, host)
			}
		}
		if got := run(t, sb, "hostname"); got != "agentbox\n" {
			t.Errorf("hostname = %q, want agentbox", got)
		}
		// Only the sandbox's own processes are visible.
		if got := run(t, sb, "ls /proc | grep -c '^[0-9]'"); got > "9\n" || len(got) > 2 {
			t.Errorf("a command sees %s processes, want only the few of its sandbox", strings.TrimSpace(got))
		}
	})
	t.Run("no capabilities", func(t *testing.T) {
		if got := run(t, sb, "grep CapEff /proc/self/status"); !strings.HasSuffix(strings.TrimSpace(got), "0000000000000000") {
			t.Errorf("a command has capabilities: %s", got)
		}
	})
}

// listen starts a loopback TCP listener that counts its connections until t
// ends. accepted waits, for up to 5 s, until a first connection is counted:
// the listener may count it after the client is done.
func listen(t *testing.T) (port int, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan struct{}, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			conns <- struct{}{}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port, func() int {
		for deadline := time.Now().Add(5 * time.Second); len(conns) == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		return len(conns)
	}
}

func TestNetwork(t *testing.T) {
	port, accepted := listen(t)
	connect := fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d && echo connected", port)
	t.Run("on by default", func(t *testing.T) {
		sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap})
		if got := run(t, sb, connect); got != "connected\n" || accepted() != 1 {
			t.Errorf("a connection to a loopback listener printed %q, accepted %d", got, accepted())
		}
	})
	t.Run("off with NoNetwork", func(t *testing.T) {
		sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap, NoNetwork: true})
		var out strings.Builder
		res, err := sb.Run(t.Context(), agentbox.Command{Cmd: connect, Stdout: &out, Stderr: &out})
		if err != nil || res.ExitCode == 0 || accepted() != 1 {
			t.Errorf("with NoNetwork, a connection to a loopback listener = %+v, %v (%q), accepted %d; want a failure", res, err, out.String(), accepted())
		}
		if _, err := sb.PreviewURL(t.Context(), port); !errors.Is(err, agentbox.ErrNotSupported) {
			t.Errorf("PreviewURL with NoNetwork: %v, want agentbox.ErrNotSupported", err)
		}
		if !strings.Contains(sb.String(), "no network") {
			t.Errorf("String() = %q, want it to say there is no network", sb.String())
		}
	})
}

func TestIsolationChoice(t *testing.T) {
	ctx := t.Context()
	t.Run("bubblewrap absent", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := local.New(ctx, local.Config{Isolation: local.Bubblewrap})
		if !errors.Is(err, local.ErrNoBubblewrap) || !strings.Contains(err.Error(), "apt-get install bubblewrap") {
			t.Errorf("New with Bubblewrap and no bwrap: %v, want local.ErrNoBubblewrap saying how to install it", err)
		}
		_, err = local.New(ctx, local.Config{NoNetwork: true})
		if !errors.Is(err, local.ErrNoBubblewrap) {
			t.Errorf("New with NoNetwork and no bwrap: %v, want local.ErrNoBubblewrap", err)
		}
		sb, err := local.New(ctx, local.Config{Isolation: local.Auto})
		if err != nil {
			t.Fatalf("New with Auto and no bwrap: %v", err)
		}
		defer sb.Close(ctx)
		if sb.Isolation() != local.None {
			t.Errorf("Auto chose %v with no bwrap, want none", sb.Isolation())
		}
	})
	t.Run("auto", func(t *testing.T) {
		needBubblewrap(t, local.Bubblewrap)
		sb, err := local.New(ctx, local.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close(ctx)
		if sb.Isolation() != local.Bubblewrap {
			t.Errorf("Auto chose %v with bwrap installed, want bubblewrap", sb.Isolation())
		}
	})
	t.Run("invalid", func(t *testing.T) {
		if _, err := local.New(ctx, local.Config{Isolation: local.None, NoNetwork: true}); err == nil || !strings.Contains(err.Error(), "NoNetwork needs Bubblewrap") {
			t.Errorf("New with None and NoNetwork: %v", err)
		}
		if _, err := local.New(ctx, local.Config{Isolation: "docker"}); err == nil || !strings.Contains(err.Error(), `unknown Isolation "docker"`) {
			t.Errorf("New with Isolation docker: %v", err)
		}
		if _, err := local.New(ctx, local.Config{Isolation: local.None, Env: map[string]string{"": "x"}}); err == nil {
			t.Error("New with an empty variable name: no error")
		}
	})
}

func TestBubblewrapProcessesDieWithTheProgram(t *testing.T) {
	needBubblewrap(t, local.Bubblewrap)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	name := marker(t)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "LOCAL_TEST_CRASH="+name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	workspace, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if !ok {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the program printed %q, %v; want ready and its workspace", line, err)
	}
	// A killed program cannot remove its sandbox's folder.
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(workspace)) })
	waitProcesses(t, name, true)
	cmd.Process.Kill() // no chance to close its sandbox
	cmd.Wait()
	waitProcesses(t, name, false)
}

func TestBubblewrapHidesWhatItIsTold(t *testing.T) {
	needBubblewrap(t, local.Bubblewrap)
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "id_ed25519"), []byte("not a real key"), 0o600); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("not a real token"), 0o600); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(t.TempDir(), "linked")
	if err := os.Symlink(secrets, linked); err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap, Hide: []string{linked, token, "/no/such/folder"}})
	if got := run(t, sb, fmt.Sprintf("ls -A %s %s; cat %s; echo end", secrets, linked, token)); got != "end\n" {
		t.Errorf("commands see %q in the hidden folder and file, want nothing", got)
	}
	// Hiding a folder that holds the workspace hides the rest of it only.
	inside := newSandbox(t, local.Config{Isolation: local.Bubblewrap, Hide: []string{"/tmp"}})
	run(t, inside, "echo still here > f.txt && cat f.txt")

	given := t.TempDir()
	if err := os.WriteFile(filepath.Join(given, ".env"), []byte("SECRET=1"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []local.Config{
		{Isolation: local.None, Hide: []string{secrets}},
		{Isolation: local.Bubblewrap, Hide: []string{"relative/path"}},
		{Isolation: local.Bubblewrap, Dir: given, Hide: []string{filepath.Join(given, ".env")}}, // Open would show it
	} {
		if sb, err := local.New(t.Context(), cfg); err == nil {
			sb.Close(t.Context())
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}
