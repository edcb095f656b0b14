package local_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

// holdEnv, set, makes the test binary make a sandbox (which cleans stale
// folders, as the first New of a program does), print "ready" and its
// workspace, and wait to be killed.
const holdEnv = "LOCAL_TEST_HOLD"

func holdSandbox() {
	sb, err := local.New(context.Background(), local.Config{Isolation: local.None})
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	fmt.Println("ready", sb.Dir())
	select {}
}

// startHolder starts a test binary holding a sandbox and returns it and its
// sandbox's private folder.
func startHolder(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	dir, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		t.Fatalf("the holder said %q, %v", line, err)
	}
	return cmd, filepath.Dir(dir) // the workspace is work/ in the private folder
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestCleanRemovesOnlyStaleFolders(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// A live sandbox of this program, one of another, a folder of an
	// older version (no lock file) and a link to a folder that looks stale.
	sb := newSandbox(t, local.Config{Isolation: local.None})
	ours := filepath.Dir(sb.Dir())
	holder, theirs := startHolder(t)
	old, err := os.MkdirTemp("", "agentbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(old) })
	target := t.TempDir()
	if err := os.WriteFile(filepath.Join(target, "owner.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(os.TempDir(), fmt.Sprintf("agentbox-link%d", os.Getpid()))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(link) })
	for _, dir := range []string{ours, theirs} {
		if !exists(filepath.Join(dir, "owner.lock")) {
			t.Fatalf("%s has no lock file", dir)
		}
	}

	removed, err := local.Clean(ctx)
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	for _, dir := range []string{ours, theirs, old, link, target} {
		if slices.Contains(removed, dir) || !exists(dir) {
			t.Errorf("Clean removed %s, which is not stale", dir)
		}
	}

	// Killed, the holder leaves its folder: the next program's first New
	// removes it (a second holder's), and Clean the second one's.
	kill(t, holder)
	if !exists(theirs) {
		t.Fatal("the killed holder's folder is already gone")
	}
	second, secondDir := startHolder(t)
	if exists(theirs) {
		t.Errorf("the first New of a program left %s, whose owner was killed", theirs)
	}
	kill(t, second)
	removed, err = local.Clean(ctx)
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	if !slices.Contains(removed, secondDir) || exists(secondDir) {
		t.Errorf("Clean removed %v; want %s, whose owner was killed, among them, and gone", removed, secondDir)
	}
	for _, dir := range []string{ours, old, link, target, filepath.Join(target, "owner.lock")} {
		if !exists(dir) {
			t.Errorf("Clean removed %s, which is not stale", dir)
		}
	}
	// The live sandbox still works, and its Close removes its folder.
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: "true"}); err != nil {
		t.Errorf("the live sandbox after Clean: %v", err)
	}
	if err := sb.Close(ctx); err != nil || exists(ours) {
		t.Errorf("Close = %v; folder left: %v", err, exists(ours))
	}
	cancel()
	if _, err := local.Clean(ctx); err == nil {
		t.Error("Clean with a done context returned no error")
	}
}
