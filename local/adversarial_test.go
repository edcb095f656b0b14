package local_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

func TestConcurrentCommandsKeepTheirOwnVariables(t *testing.T) {
	t.Setenv("USER", "someone") // the base environment has room to grow
	sb := newSandbox(t, local.Config{Isolation: local.None, Env: map[string]string{"FROM_CONFIG": "c"}})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			var out strings.Builder
			want := fmt.Sprint(i)
			_, err := sb.Run(t.Context(), agentbox.Command{Cmd: `echo "$MINE"`, Env: map[string]string{"MINE": want}, Stdout: &out})
			if err != nil || out.String() != want+"\n" {
				errs <- fmt.Errorf("command %d saw MINE=%q, %v", i, out.String(), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestProcessesThatLeaveTheGroupAreKilled(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso})
			for _, how := range []string{"set -m; ", "timeout 1000 "} {
				name := marker(t)
				cmd := fmt.Sprintf("%s(exec -a %s sleep 1000) & sleep 0.2", how, name)
				if how == "timeout 1000 " {
					cmd = fmt.Sprintf("timeout 1000 bash -c 'exec -a %s sleep 1000' & sleep 0.2", name)
				}
				if res, err := sb.Run(t.Context(), agentbox.Command{Cmd: cmd}); err != nil || res.ExitCode != 0 {
					t.Fatalf("Run(%q) = %+v, %v", cmd, res, err)
				}
				waitProcesses(t, name, false)
			}
		})
	}
}

func TestBackgroundProcessIDsAreNeverReused(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	ctx := t.Context()
	first, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "sleep 1000"})
	if err != nil {
		t.Fatal(err)
	}
	if first.ID() != "p1" || second.ID() != "p2" {
		t.Errorf("IDs = %q, %q; want p1, p2", first.ID(), second.ID())
	}
	if err := sb.StopProcess(ctx, first.ID()); err != nil {
		t.Errorf("StopProcess of the ended first process: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if res, err := second.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the second process ended (%+v, %v) when the first was stopped", res, err)
	}
}

func TestCommandsGetNoneOfTheHostsOpenFiles(t *testing.T) {
	// A file opened without close-on-exec, as C code or a parent process
	// may leave one.
	path := filepath.Join(t.TempDir(), "host.txt")
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso})
			var out strings.Builder
			sb.Run(t.Context(), agentbox.Command{Cmd: fmt.Sprintf("echo written from the sandbox >&%d; ls /proc/$$/fd; true", fd), Stdout: &out, Stderr: &out})
			if data, _ := os.ReadFile(path); len(data) > 0 {
				t.Errorf("a command wrote %q to the host's file through its inherited descriptor %d", data, fd)
			}
			if got := strings.Fields(out.String()); strings.Join(got[len(got)-3:], " ") != "0 1 2" {
				t.Errorf("a command's open files: %q, want 0 1 2", out.String())
			}
		})
	}
}

func TestSpecialFilesAreNeverWaitedOn(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	run(t, sb, "mkfifo pipe && ln -s pipe link")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, name := range []string{"pipe", "link"} {
		if _, err := sb.Open(ctx, name); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Open(%q) of a named pipe: %v, want an error saying it is not a regular file", name, err)
		}
		if err := sb.WriteFiles(ctx, []agentbox.File{{Path: name, Data: []byte("x")}}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("WriteFiles(%q) of a named pipe: %v, want an error saying it is not a regular file", name, err)
		}
	}
	if ctx.Err() != nil {
		t.Error("the file operations waited on the named pipe")
	}
}

func TestWritesReplaceFilesWhole(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	ctx := t.Context()
	run(t, sb, "printf '#!/bin/sh\\necho old\\n' > run.sh && chmod 755 run.sh && mkdir real && ln -s real/target.txt link.txt")
	err := sb.WriteFiles(ctx, []agentbox.File{
		{Path: "run.sh", Data: []byte("#!/bin/sh\necho new\n")},
		{Path: "link.txt", Data: []byte("through the link")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, sb, "./run.sh"); got != "new\n" {
		t.Errorf("the rewritten script printed %q, want it still executable and new", got)
	}
	if got, err := os.ReadFile(filepath.Join(sb.Dir(), "real", "target.txt")); err != nil || string(got) != "through the link" {
		t.Errorf("the file a link inside points to = %q, %v", got, err)
	}
	if entries, _ := os.ReadDir(sb.Dir()); len(entries) != 3 {
		t.Errorf("the workspace holds %d entries, want 3 (no temporary files left)", len(entries))
	}
}

func TestMissingFileWithAnOddName(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	const name = "path escapes from parent.txt"
	if _, err := sb.Open(t.Context(), name); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, local.ErrOutsideWorkspace) {
		t.Errorf("Open of a missing %q: %v, want fs.ErrNotExist only", name, err)
	}
}

func TestWorkspaceRemovedByACommand(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	ctx := t.Context()
	run(t, sb, `rm -rf "$PWD"`)
	_, runErr := sb.Run(ctx, agentbox.Command{Cmd: "true"})
	_, openErr := sb.Open(ctx, "f.txt")
	_, listErr := sb.List(ctx, ".")
	writeErr := sb.WriteFiles(ctx, []agentbox.File{{Path: "f.txt"}})
	for op, err := range map[string]error{"Run": runErr, "Open": openErr, "List": listErr, "WriteFiles": writeErr} {
		if !errors.Is(err, agentbox.ErrSandboxGone) {
			t.Errorf("%s after the workspace was removed: %v, want agentbox.ErrSandboxGone", op, err)
		}
	}
	// Made again, it is another folder: the sandbox is still gone.
	if err := os.Mkdir(sb.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.List(ctx, "."); !errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("List after the workspace was made again: %v, want agentbox.ErrSandboxGone", err)
	}
}

func TestBubblewrapWorkspaceThroughASymlink(t *testing.T) {
	needBubblewrap(t, local.Bubblewrap)
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, local.Config{Dir: link, Isolation: local.Bubblewrap})
	run(t, sb, "echo hi > f.txt")
	if got, err := agentbox.ReadFile(t.Context(), sb, filepath.Join(link, "f.txt")); err != nil || string(got) != "hi\n" {
		t.Errorf("ReadFile through the link given as the workspace = %q, %v", got, err)
	}
}

func TestBubblewrapFailureIsAnError(t *testing.T) {
	needBubblewrap(t, local.Bubblewrap)
	hidden := t.TempDir()
	sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap, Hide: []string{hidden}})
	if err := os.Remove(hidden); err != nil { // bwrap cannot hide it any more
		t.Fatal(err)
	}
	res, err := sb.Run(t.Context(), agentbox.Command{Cmd: "echo ran"})
	if err == nil || !strings.Contains(err.Error(), "bubblewrap could not make the sandbox") || !strings.Contains(err.Error(), hidden) {
		t.Errorf("Run when bwrap fails = %+v, %v; want an error with bwrap's reason", res, err)
	}
	if _, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: "sleep 1"}); err == nil {
		t.Error("StartProcess when bwrap fails: no error")
	}
}

func TestBubblewrapPrivateTmpCannotRedirectMounts(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap})
	target := filepath.Join(t.TempDir(), "redirected")
	state := filepath.Dir(sb.Dir())
	// Try to turn the mount points of the sandbox's own folders, which bwrap
	// makes in /tmp, into links leading elsewhere on the host.
	attack := fmt.Sprintf("mv %s /tmp/moved; ln -s /oldroot%s %s; ln -s /oldroot%s %s/home; true", state, target, state, target, state)
	run(t, sb, attack)
	if got := run(t, sb, "echo still works"); got != "still works\n" {
		t.Errorf("the next command printed %q", got)
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("%s was made on the host", target)
	}
}
