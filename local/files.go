package local

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/agentbox/agentbox"
)

// WriteFiles writes whole files in the workspace, creating parent folders.
// Each file is written to a new file that then replaces the old one, so a
// reader sees the old contents or the new, never a mix; a replaced file keeps
// its permissions, and a symbolic link at the path is replaced, not followed.
//
// Every path is checked before anything is written: one that leads out of
// the workspace, is a folder, or lies under a file writes nothing.
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
		if err := s.checkWrite(f.Path, rel); err != nil {
			return err
		}
		rels[i] = rel
	}
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.writeFile(f.Path, rels[i], f.Data); err != nil {
			return err
		}
	}
	return nil
}

// checkWrite returns the error that writing name, rel to the workspace,
// would meet: it is a folder or not a regular file, it is a symbolic link or
// has a parent leading out of the workspace, or a parent is a file.
func (s *Sandbox) checkWrite(name, rel string) error {
	if rel == "." {
		return &fs.PathError{Op: "write", Path: name, Err: syscall.EISDIR}
	}
	native := filepath.FromSlash(rel)
	if fi, err := s.root.Lstat(native); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			fi, err = s.root.Stat(native)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a link to a file yet to be made, inside
			}
			if err != nil {
				return s.fsError("write", name, err)
			}
		}
		switch {
		case fi.IsDir():
			return &fs.PathError{Op: "write", Path: name, Err: syscall.EISDIR}
		case !fi.Mode().IsRegular():
			return &fs.PathError{Op: "write", Path: name, Err: errNotRegular}
		}
	}
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		fi, err := s.root.Stat(filepath.FromSlash(dir))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // made by the write; what is above it decides
		case err != nil:
			return s.fsError("write", name, err)
		case !fi.IsDir():
			return &fs.PathError{Op: "write", Path: name, Err: syscall.ENOTDIR}
		}
		return nil
	}
	return nil
}

// writeFile writes data to rel: to a new file renamed over the old one, or
// through a symbolic link (inside the workspace) to the file it points to.
func (s *Sandbox) writeFile(name, rel string, data []byte) error {
	native := filepath.FromSlash(rel)
	if dir := filepath.Dir(native); dir != "." {
		if err := s.root.MkdirAll(dir, 0o755); err != nil {
			return s.fsError("write", name, err)
		}
	}
	perm := fs.FileMode(0o644)
	if fi, err := s.root.Lstat(native); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return s.writeThrough(name, native, data)
		}
		if fi.Mode().IsRegular() {
			perm = fi.Mode().Perm()
		}
	}
	tmp := filepath.Join(filepath.Dir(native), ".agentbox-"+rand.Text()[:12]+".tmp")
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return s.fsError("write", name, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.root.Chmod(tmp, perm) // the umask may have taken bits off
	}
	if err == nil {
		err = s.root.Rename(tmp, native)
	}
	if err != nil {
		s.root.Remove(tmp)
		return s.fsError("write", name, err)
	}
	return nil
}

// writeThrough writes data to the regular file that the symbolic link native
// points to. os.Root refuses a link leading out of the workspace.
func (s *Sandbox) writeThrough(name, native string, data []byte) error {
	f, err := s.root.OpenFile(native, os.O_WRONLY|os.O_CREATE|nonblock, 0o644)
	if err != nil {
		return s.fsError("write", name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return s.fsError("write", name, cmp.Or(err, errNotRegular))
	}
	if err := f.Truncate(0); err != nil {
		return s.fsError("write", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return s.fsError("write", name, err)
	}
	return f.Close()
}

// Open opens a regular file of the workspace for reading.
func (s *Sandbox) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rel, err := s.rel("open", name)
	if err != nil {
		return nil, err
	}
	// O_NONBLOCK: opening a named pipe must not wait for a writer.
	f, err := s.root.OpenFile(filepath.FromSlash(rel), os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, s.fsError("open", name, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errNotRegular
		if fi.IsDir() {
			err = syscall.EISDIR
		}
	}
	if err != nil {
		f.Close()
		return nil, s.fsError("open", name, err)
	}
	return f, nil
}

var errNotRegular = errors.New("not a regular file")

// maxList is the most entries List returns: a folder with more is an error,
// not a listing that takes all memory. Tests lower it.
var maxList = 100_000

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
	f, err := s.root.OpenFile(filepath.FromSlash(rel), os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, s.fsError("list", dir, err)
	}
	defer f.Close()
	var infos []agentbox.FileInfo
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		entries, err := f.ReadDir(1024)
		if len(infos)+len(entries) > maxList {
			return nil, &fs.PathError{Op: "list", Path: dir, Err: fmt.Errorf("the folder has more than %d entries; look into it with a command, such as ls | head", maxList)}
		}
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
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, s.fsError("list", dir, err)
		}
	}
	slices.SortFunc(infos, func(a, b agentbox.FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
}

// The longest path a file operation takes, and the most folders deep it
// goes: the cost of checking and making a path's folders grows with the
// square of its depth.
const (
	maxPath  = 4096
	maxDepth = 256
)

// errPathTooLong is the error of a path longer than maxPath or deeper than
// maxDepth.
var errPathTooLong = fmt.Errorf("%w: longer than %d bytes or more than %d folders deep", syscall.ENAMETOOLONG, maxPath, maxDepth)

// rel returns name relative to the workspace, slash-separated and clean, or
// an error when it leads out of it. Absolute names inside the workspace are
// accepted.
func (s *Sandbox) rel(op, name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if len(name) > maxPath || strings.Count(name, "/") >= maxDepth {
		return "", &fs.PathError{Op: op, Path: name, Err: errPathTooLong}
	}
	rel := path.Clean(filepath.ToSlash(name))
	if path.IsAbs(rel) {
		inside := false
		for _, base := range []string{filepath.ToSlash(s.dir), filepath.ToSlash(s.given)} {
			if within(rel, base) {
				rel = strings.TrimPrefix(strings.TrimPrefix(rel, base), "/")
				rel, inside = cmp.Or(rel, "."), true
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

// escapes is the message of os.Root's error for a path that leads out of it.
const escapes = "path escapes from parent"

// fsError reports err, from an operation of s.root on name, with the name the
// caller gave. A symbolic link leading out of the workspace is reported as
// [ErrOutsideWorkspace]; a closed sandbox or a workspace that is gone as
// such.
func (s *Sandbox) fsError(op, name string, err error) error {
	if cerr := s.check(context.Background()); cerr != nil {
		return cerr
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if err.Error() == escapes {
		err = ErrOutsideWorkspace
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}
