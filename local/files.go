package local

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/agentbox/agentbox"
)

// WriteFiles writes whole files in the workspace, creating parent folders and
// replacing existing files. Every path is checked before anything is written:
// one leading out of the workspace writes nothing.
func (s *Sandbox) WriteFiles(ctx context.Context, files []agentbox.File) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	rels := make([]string, len(files))
	for i, f := range files {
		rel, err := s.rel("write", f.Path)
		if err != nil {
			return err
		}
		if rel == "." {
			return &fs.PathError{Op: "write", Path: f.Path, Err: syscall.EISDIR}
		}
		rels[i] = rel
	}
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if dir := path.Dir(rels[i]); dir != "." {
			if err := s.root.MkdirAll(filepath.FromSlash(dir), 0o755); err != nil {
				return s.fsError("write", f.Path, err)
			}
		}
		if err := s.root.WriteFile(filepath.FromSlash(rels[i]), f.Data, 0o644); err != nil {
			return s.fsError("write", f.Path, err)
		}
	}
	return nil
}

// Open opens a file of the workspace for reading.
func (s *Sandbox) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rel, err := s.rel("open", name)
	if err != nil {
		return nil, err
	}
	f, err := s.root.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, s.fsError("open", name, err)
	}
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		if err == nil {
			err = syscall.EISDIR
		}
		return nil, s.fsError("open", name, err)
	}
	return f, nil
}

// List lists a folder of the workspace, sorted by name. Symbolic links are
// listed as they are, not followed.
func (s *Sandbox) List(ctx context.Context, dir string) ([]agentbox.FileInfo, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rel := "."
	if dir != "" {
		var err error
		if rel, err = s.rel("list", dir); err != nil {
			return nil, err
		}
	}
	f, err := s.root.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, s.fsError("list", dir, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, s.fsError("list", dir, err)
	}
	infos := make([]agentbox.FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue // removed since the folder was read
		}
		infos = append(infos, agentbox.FileInfo{
			Name:  e.Name(),
			Path:  path.Join(dir, e.Name()),
			IsDir: e.IsDir(),
			Size:  fi.Size(),
		})
	}
	slices.SortFunc(infos, func(a, b agentbox.FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
}

// rel returns name relative to the workspace, slash-separated and clean, or
// an error when it leads out of it. Absolute names inside the workspace are
// accepted.
func (s *Sandbox) rel(op, name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	rel := path.Clean(filepath.ToSlash(name))
	if path.IsAbs(rel) {
		inside := false
		for _, base := range []string{filepath.ToSlash(s.dir), filepath.ToSlash(s.realDir)} {
			if rel == base {
				rel, inside = ".", true
				break
			}
			if rest, ok := strings.CutPrefix(rel, strings.TrimSuffix(base, "/")+"/"); ok {
				rel, inside = rest, true
				break
			}
		}
		if !inside {
			return "", &fs.PathError{Op: op, Path: name, Err: ErrOutsideWorkspace}
		}
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &fs.PathError{Op: op, Path: name, Err: ErrOutsideWorkspace}
	}
	return rel, nil
}

// fsError reports err, from an operation of s.root on name, with the name the
// caller gave. A symbolic link leading out of the workspace is reported as
// [ErrOutsideWorkspace], use after Close as [agentbox.ErrClosed].
func (s *Sandbox) fsError(op, name string, err error) error {
	if s.check(context.Background()) != nil {
		return errClosed
	}
	if strings.Contains(err.Error(), "path escapes from parent") {
		return &fs.PathError{Op: op, Path: name, Err: ErrOutsideWorkspace}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: op, Path: name, Err: pe.Err}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}
