package local_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

// confinementCases are paths that lead out of a workspace prepared by
// prepareEscapes, with what they try.
var confinementCases = []struct {
	name, path string
}{
	{"dot dot", "../outside.txt"},
	{"dot dot inside a path", "sub/../../outside.txt"},
	{"absolute outside", "/etc/passwd"},
	{"symlink to a folder outside", "out/secret.txt"},
	{"symlink to a file outside", "secret-link"},
	{"symlink to a missing file outside", "dangling"},
}

// prepareEscapes makes, in sb's workspace, symbolic links pointing out of it,
// to a folder holding secret.txt, and returns that folder.
func prepareEscapes(t *testing.T, sb *local.Sandbox) string {
	t.Helper()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"out":         outside,
		"secret-link": filepath.Join(outside, "secret.txt"),
		"dangling":    filepath.Join(outside, "missing.txt"),
	} {
		if err := os.Symlink(target, filepath.Join(sb.Dir(), link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(sb.Dir(), "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return outside
}

// wantOutside fails t unless err says that p leads out of the workspace.
func wantOutside(t *testing.T, op, p string, err error) {
	t.Helper()
	if !errors.Is(err, local.ErrOutsideWorkspace) || !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("%s(%q): error %v, want one matching local.ErrOutsideWorkspace and fs.ErrInvalid", op, p, err)
		return
	}
	if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, "outside the workspace") {
		t.Errorf("%s(%q): error %q should name the path and say it is outside the workspace", op, p, msg)
	}
}

func TestPathsOutsideTheWorkspaceAreRefused(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	outside := prepareEscapes(t, sb)
	ctx := t.Context()
	for _, tt := range confinementCases {
		t.Run(tt.name, func(t *testing.T) {
			err := sb.WriteFiles(ctx, []agentbox.File{{Path: tt.path, Data: []byte("overwritten")}})
			wantOutside(t, "WriteFiles", tt.path, err)
			_, err = sb.Open(ctx, tt.path)
			wantOutside(t, "Open", tt.path, err)
			_, err = sb.List(ctx, tt.path)
			wantOutside(t, "List", tt.path, err)
			_, err = sb.Run(ctx, agentbox.Command{Cmd: "true", Dir: tt.path})
			wantOutside(t, "Run in Dir", tt.path, err)
		})
	}
	if got, err := os.ReadFile(filepath.Join(outside, "secret.txt")); string(got) != "secret" {
		t.Errorf("the file outside the workspace now holds %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "missing.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("writing through a dangling link made its target outside the workspace: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(sb.Dir()), "outside.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("writing ../outside.txt made a file beside the workspace: %v", err)
	}
}

func TestWriteFilesWritesNothingWhenAPathIsOutside(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	err := sb.WriteFiles(t.Context(), []agentbox.File{
		{Path: "first.txt", Data: []byte("1")},
		{Path: "../second.txt", Data: []byte("2")},
	})
	wantOutside(t, "WriteFiles", "../second.txt", err)
	if _, err := os.Stat(filepath.Join(sb.Dir(), "first.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("first.txt was written although a later path was refused: %v", err)
	}
}

func TestPathsInsideTheWorkspace(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	ctx := t.Context()
	if err := os.MkdirAll(filepath.Join(sb.Dir(), "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(sb.Dir(), "alias")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		filepath.Join(sb.Dir(), "abs.txt"), // absolute, inside
		"sub/../inside.txt",
		"./dot.txt",
		"alias/through-link.txt", // a link that stays inside
	} {
		if err := sb.WriteFiles(ctx, []agentbox.File{{Path: p, Data: []byte(p)}}); err != nil {
			t.Errorf("WriteFiles(%q): %v", p, err)
			continue
		}
		if got, err := agentbox.ReadFile(ctx, sb, p); err != nil || string(got) != p {
			t.Errorf("ReadFile(%q) = %q, %v", p, got, err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(sb.Dir(), "real", "through-link.txt")); err != nil || string(got) != "alias/through-link.txt" {
		t.Errorf("the file written through the link inside = %q, %v", got, err)
	}
	infos, err := sb.List(ctx, sb.Dir())
	if err != nil {
		t.Fatalf("List of the workspace's absolute path: %v", err)
	}
	var names []string
	for _, fi := range infos {
		names = append(names, fi.Name)
	}
	if want := "abs.txt alias dot.txt inside.txt real"; strings.Join(names, " ") != want {
		t.Errorf("List of the workspace = %v, want %s", names, want)
	}
}

func TestOpenAFolderIsAnError(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	if err := sb.WriteFiles(t.Context(), []agentbox.File{{Path: "dir/f.txt"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Open(t.Context(), "dir"); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Open of a folder: error %v, want one saying it is a directory", err)
	}
	if _, err := sb.List(t.Context(), "dir/f.txt"); err == nil {
		t.Error("List of a file: no error")
	}
	if err := sb.WriteFiles(t.Context(), []agentbox.File{{Path: "dir"}}); err == nil {
		t.Error("WriteFiles over a folder: no error")
	}
}

func TestWorkspaceFolders(t *testing.T) {
	ctx := t.Context()
	t.Run("temporary, removed on Close", func(t *testing.T) {
		sb, err := local.New(ctx, local.Config{Isolation: local.None})
		if err != nil {
			t.Fatal(err)
		}
		// What a command leaves read-only is removed too.
		run(t, sb, "mkdir -p locked/deep && touch locked/deep/f && chmod 0500 locked/deep locked")
		if err := sb.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := os.Stat(sb.Dir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the temporary workspace %s is still there after Close: %v", sb.Dir(), err)
		}
	})
	t.Run("given, kept on Close", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "made", "by", "New")
		sb, err := local.New(ctx, local.Config{Dir: dir, Isolation: local.None})
		if err != nil {
			t.Fatal(err)
		}
		if sb.Dir() != dir {
			t.Errorf("Dir() = %q, want %q", sb.Dir(), dir)
		}
		run(t, sb, "echo kept > kept.txt")
		if err := sb.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "kept.txt")); err != nil || string(got) != "kept\n" {
			t.Errorf("kept.txt after Close = %q, %v; want the given workspace kept", got, err)
		}
	})
}

// TestVeryLongPathsAreRefused writes a file 8,000 folders deep: it is
// refused at once, as too long, where making and checking its folders took
// seconds, whatever the ctx. A path 255 folders deep, within the limit, is
// written and read back.
func TestVeryLongPathsAreRefused(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	deep := strings.Repeat("a/", 8000) + "f.txt"
	start := time.Now()
	err := sb.WriteFiles(ctx, []agentbox.File{{Path: deep, Data: []byte("x")}})
	if !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("WriteFiles 8,000 folders deep: %v; want an error matching ENAMETOOLONG", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("WriteFiles 8,000 folders deep took %v", d)
	}
	if _, err := sb.Open(ctx, deep); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("Open 8,000 folders deep: %v; want an error matching ENAMETOOLONG", err)
	}
	ok := strings.Repeat("b/", 255) + "f.txt"
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: ok, Data: []byte("x")}}); err != nil {
		t.Fatalf("WriteFiles 255 folders deep: %v", err)
	}
	if got, err := agentbox.ReadFile(ctx, sb, ok); err != nil || string(got) != "x" {
		t.Errorf("ReadFile 255 folders deep: %q, %v", got, err)
	}
}

// TestListOfAHugeFolder lists a folder of one file more than List's limit
// (lowered to 1,000 for the test; 100,000 otherwise): List refuses it,
// saying it is too long, rather than holding every entry; a folder at the
// limit is listed whole.
func TestListOfAHugeFolder(t *testing.T) {
	defer local.SetMaxList(1000)()
	sb := newSandbox(t, local.Config{Isolation: local.None})
	for _, n := range []int{1000, 1001} {
		dir := filepath.Join(sb.Dir(), fmt.Sprint(n))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	if infos, err := sb.List(t.Context(), "1000"); err != nil || len(infos) != 1000 {
		t.Errorf("List of 1,000 files: %d entries, %v", len(infos), err)
	}
	if infos, err := sb.List(t.Context(), "1001"); err == nil || !strings.Contains(err.Error(), "more than 1000 entries") {
		t.Errorf("List of 1,001 files: %d entries, %v; want an error", len(infos), err)
	}
}
