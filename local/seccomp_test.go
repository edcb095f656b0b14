package local_test

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

// TestCommandsCannotLeaveSetIDFiles tries, in a bubblewrap sandbox on a
// given workspace that outlives it, every way a command sets the setuid or
// setgid bit of a file: chmod of a copy of bash (by mode and by u+s/g+s),
// install -m, and creating a file with such a mode (open, mknod). Each is
// refused, and no file of the workspace has either bit after Close.
func TestCommandsCannotLeaveSetIDFiles(t *testing.T) {
	dir := t.TempDir()
	sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap, Dir: dir})
	for _, cmd := range []string{
		"cp /bin/bash suid && chmod 4755 suid",
		"cp /bin/bash sgid && chmod 2755 sgid",
		"cp /bin/bash us && chmod u+s us",
		"cp /bin/bash gs && chmod g+s gs",
		"install -m 4755 /bin/bash installed",
		"mkdir -p d && cp /bin/bash d/x && chmod 6755 d/x",
		`python3 -c 'import os; os.open("opened", os.O_CREAT|os.O_WRONLY, 0o4755)'`,
		`python3 -c 'import os, stat; os.mknod("made", stat.S_IFREG|0o6755)'`,
		`python3 -c 'import os; fd = os.open("f", os.O_CREAT|os.O_WRONLY, 0o755); os.fchmod(fd, 0o4755)'`,
	} {
		var out strings.Builder
		res, err := sb.Run(t.Context(), agentbox.Command{Cmd: cmd, Stdout: &out, Stderr: &out, Timeout: 30 * time.Second})
		if err != nil || res.ExitCode == 0 {
			t.Errorf("%s: %+v, %v (%q); want it refused", cmd, res, err, out.String())
		}
	}
	// Plain modes still work.
	run(t, sb, "cp /bin/bash plain && chmod 755 plain && ./plain -c 'exit 0'")
	if err := sb.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			t.Errorf("%s is left with mode %v", p, fi.Mode())
		}
		return nil
	})
}

// TestNoNetworkReachesNoSocketFile listens on a Unix socket in a folder the
// sandbox's read-only system shows (/var/tmp): with NoNetwork, a command
// cannot connect to it, and the listener gets nothing; with the network on,
// it can, as the package documentation says.
func TestNoNetworkReachesNoSocketFile(t *testing.T) {
	needBubblewrap(t, local.Bubblewrap)
	folder, err := os.MkdirTemp("/var/tmp", "agentbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(folder) })
	path := filepath.Join(folder, "service.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 5)
			n, _ := c.Read(b)
			c.Close()
			got <- string(b[:n])
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	dial := "LOCAL_TEST_DIAL=" + path + " ./server"

	t.Run("NoNetwork", func(t *testing.T) {
		sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap, NoNetwork: true})
		installServer(t, sb.Dir())
		var out strings.Builder
		res, err := sb.Run(t.Context(), agentbox.Command{Cmd: dial, Stdout: &out, Stderr: &out, Timeout: 30 * time.Second})
		if err != nil || res.ExitCode == 0 {
			t.Errorf("with NoNetwork, connecting to %s: %+v, %v (%q); want a failure", path, res, err, out.String())
		}
		select {
		case msg := <-got:
			t.Errorf("with NoNetwork, the host's socket received %q", msg)
		default:
		}
	})
	t.Run("network on", func(t *testing.T) {
		sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap})
		installServer(t, sb.Dir())
		if out := run(t, sb, dial); out != "sent\n" {
			t.Errorf("with the network on, connecting to %s printed %q", path, out)
		}
		if msg := <-got; msg != "hello" {
			t.Errorf("the host's socket received %q", msg)
		}
	})
}
