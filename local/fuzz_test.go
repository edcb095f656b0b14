package local_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

const (
	fuzzSecret  = "top secret, never to be read through the sandbox"
	fuzzWritten = "written by the fuzzer"
)

// fuzzLinks are the symbolic links of the fuzzed workspace, by path inside
// it, with the path inside the workspace they lead to, "" for outside.
var fuzzLinks = map[string]string{
	"out":         "", // to the outside folder, absolute
	"rel-out":     "", // to the outside folder, relative
	"secret-link": "", // to the secret file
	"dangling":    "", // to a missing file outside
	"sub/up":      "", // to the workspace's parent
	"inlink":      "real.txt",
	"indir":       "sub",
}

// confinementFixture is a workspace and what lies around it:
//
//	base/outside/secret.txt
//	base/work/             the workspace: real.txt, sub/ and fuzzLinks
//	base/given -> work     the workspace as given to New
type confinementFixture struct {
	base, outside, dir, given string
}

// reset empties the workspace and makes its files and links again.
func (fx *confinementFixture) reset() error {
	entries, err := os.ReadDir(fx.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(fx.dir, e.Name())); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(fx.dir, "real.txt"), []byte("real"), 0o644); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(fx.dir, "sub"), 0o755); err != nil {
		return err
	}
	for link, target := range map[string]string{
		"out":         fx.outside,
		"rel-out":     "../outside",
		"secret-link": filepath.Join(fx.outside, "secret.txt"),
		"dangling":    filepath.Join(fx.outside, "missing.txt"),
		"sub/up":      "../..",
		"inlink":      "real.txt",
		"indir":       "sub",
	} {
		if err := os.Symlink(target, filepath.Join(fx.dir, filepath.FromSlash(link))); err != nil {
			return err
		}
	}
	return nil
}

// snapshot describes everything under base but the workspace: names, kinds,
// link targets and file contents.
func (fx *confinementFixture) snapshot() (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(fx.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == fx.dir {
			return filepath.SkipDir
		}
		b.WriteString(p + " " + d.Type().String())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			b.WriteString(" -> " + target)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.WriteString(" " + string(data))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String(), err
}

// confinement says where name leads: invalid (empty or with a NUL byte), out
// of the workspace, or to rel, slash-separated and relative to it, with the
// fixture's links resolved.
func (fx *confinementFixture) confinement(name string) (rel string, invalid, outside bool) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", true, false
	}
	p := path.Clean(name)
	if path.IsAbs(p) {
		inside := false
		for _, base := range []string{fx.dir, fx.given} {
			if p == base || strings.HasPrefix(p, base+"/") {
				p, inside = strings.TrimPrefix(strings.TrimPrefix(p, base), "/"), true
				break
			}
		}
		if !inside {
			return "", false, true
		}
		if p == "" {
			p = "."
		}
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false, true
	}
	cur := ""
	for _, c := range strings.Split(p, "/") {
		next := path.Join(cur, c)
		if target, ok := fuzzLinks[next]; ok {
			if target == "" {
				return "", false, true
			}
			next = target
		}
		cur = next
	}
	if cur == "" {
		cur = "."
	}
	return cur, false, false
}

// expand replaces $W, $G, $O and $B in s with the workspace, the workspace
// as given, the outside folder and their parent: absolute paths the fuzzer
// could not guess.
func (fx *confinementFixture) expand(s string) string {
	return strings.NewReplacer("$W", fx.dir, "$G", fx.given, "$O", fx.outside, "$B", fx.base).Replace(s)
}

// FuzzPathConfinement checks that the files of a local sandbox stay in its
// workspace, whatever path WriteFiles, ReadFile and List get. Nothing outside
// the workspace is created, changed or removed, and the secret file beside
// it is never read nor listed; a path that is empty or has a NUL byte is
// refused with fs.ErrInvalid; one that leads out (by "..", an absolute path
// elsewhere, or a link pointing out) is refused by every operation with
// ErrOutsideWorkspace, and makes WriteFiles write none of its files; only
// those refused paths give ErrOutsideWorkspace; a file written can be read
// back and is in the workspace where the path leads; and List names only
// entries that are there.
func FuzzPathConfinement(f *testing.F) {
	base := f.TempDir()
	fx := &confinementFixture{
		base:    base,
		outside: filepath.Join(base, "outside"),
		dir:     filepath.Join(base, "work"),
		given:   filepath.Join(base, "given"),
	}
	if err := os.Mkdir(fx.outside, 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx.outside, "secret.txt"), []byte(fuzzSecret), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Mkdir(fx.dir, 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("work", fx.given); err != nil {
		f.Fatal(err)
	}
	sb, err := local.New(f.Context(), local.Config{Dir: fx.given, Isolation: local.None})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sb.Close(ctx); err != nil {
			f.Errorf("Close: %v", err)
		}
	})
	if sb.Dir() != fx.dir {
		f.Fatalf("Dir() = %q, want %q", sb.Dir(), fx.dir)
	}
	if err := fx.reset(); err != nil {
		f.Fatal(err)
	}
	before, err := fx.snapshot()
	if err != nil {
		f.Fatal(err)
	}

	for _, p := range []string{
		"a.txt", "sub/../b.txt", "./c/d.txt", "", ".", "..", "../outside/secret.txt", "../work/e.txt",
		"out/secret.txt", "rel-out/new.txt", "secret-link", "dangling", "sub/up/outside/secret.txt",
		"indir/up/work/f.txt", "inlink", "indir/g.txt", "real.txt/h", "a\x00b", "//x//y/", "sub/",
		"$W/abs.txt", "$G/sub/i.txt", "$G", "$O/secret.txt", "$B/new.txt", "$W/../outside/j.txt",
		"/etc/passwd", "\\..\\x", "...", "sub/up",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, name string) {
		ctx := t.Context()
		t.Cleanup(func() {
			after, err := fx.snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("outside the workspace, before:\n%s\nafter:\n%s", before, after)
			}
			if err := fx.reset(); err != nil {
				t.Fatal(err)
			}
		})
		p := fx.expand(name)
		rel, invalid, outside := fx.confinement(p)
		check := func(op string, err error) {
			t.Helper()
			switch {
			case invalid && !errors.Is(err, fs.ErrInvalid):
				t.Errorf("%s(%q): error %v, want one matching fs.ErrInvalid", op, p, err)
			case outside && !errors.Is(err, local.ErrOutsideWorkspace):
				t.Errorf("%s(%q) of a path outside: error %v, want ErrOutsideWorkspace", op, p, err)
			case !outside && errors.Is(err, local.ErrOutsideWorkspace):
				t.Errorf("%s(%q) of a path inside (%q): %v", op, p, rel, err)
			}
		}

		files := []agentbox.File{{Path: p, Data: []byte(fuzzWritten)}}
		if outside {
			files = append([]agentbox.File{{Path: "first.txt", Data: []byte(fuzzWritten)}}, files...)
		}
		err := sb.WriteFiles(ctx, files)
		check("WriteFiles", err)
		if _, serr := os.Lstat(filepath.Join(fx.dir, "first.txt")); outside && serr == nil {
			t.Errorf("WriteFiles(first.txt, %q) wrote first.txt though the second path leads out", p)
		}
		if err == nil && !invalid && !outside {
			got, rerr := os.ReadFile(filepath.Join(fx.dir, filepath.FromSlash(rel)))
			if rerr != nil || string(got) != fuzzWritten {
				t.Errorf("WriteFiles(%q) succeeded, but %s in the workspace holds %q, %v", p, rel, got, rerr)
			}
		}

		data, err := agentbox.ReadFile(ctx, sb, p)
		check("ReadFile", err)
		if bytes.Contains(data, []byte(fuzzSecret)) {
			t.Fatalf("ReadFile(%q) read the secret outside the workspace", p)
		}
		if err == nil && !invalid && !outside {
			want, rerr := os.ReadFile(filepath.Join(fx.dir, filepath.FromSlash(rel)))
			if rerr != nil || !bytes.Equal(data, want) {
				t.Errorf("ReadFile(%q) = %q, but %s in the workspace holds %q, %v", p, data, rel, want, rerr)
			}
		}

		infos, err := sb.List(ctx, p)
		if p == "" { // the workspace
			rel, invalid = ".", false
		}
		check("List", err)
		for _, fi := range infos {
			if fi.Name == "secret.txt" && fi.Size == int64(len(fuzzSecret)) {
				t.Fatalf("List(%q) listed the secret outside the workspace: %+v", p, fi)
			}
			if invalid || outside {
				t.Fatalf("List(%q) of a path outside listed %+v", p, fi)
			}
			if _, err := os.Lstat(filepath.Join(fx.dir, filepath.FromSlash(rel), fi.Name)); err != nil {
				t.Errorf("List(%q) listed %q, not in %s of the workspace: %v", p, fi.Name, rel, err)
			}
		}
	})
}
