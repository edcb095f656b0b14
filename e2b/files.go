package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path"
	"slices"
	"strings"
	"syscall"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem"
	"github.com/agentbox/agentbox/e2b/internal/envdapi"
)

// WriteFiles uploads files in one multipart request to envd, which creates
// parent directories and replaces existing files.
func (s *Sandbox) WriteFiles(ctx context.Context, files []agentbox.File) error {
	const op = "write files"
	if err := s.check(); err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if err := checkPath(op, f.Path); err != nil {
			return err
		}
		if f.Path == "" || strings.HasSuffix(f.Path, "/") {
			return fmt.Errorf("e2b: %s: %q is not a file path: %w", op, f.Path, fs.ErrInvalid)
		}
		if seen[path.Clean(f.Path)] {
			return fmt.Errorf("e2b: %s: %q is given twice: %w", op, f.Path, fs.ErrInvalid)
		}
		seen[path.Clean(f.Path)] = true
	}
	body, contentType := multipartBody(files)
	params := &envdapi.PostFilesParams{}
	if s.cfg.User != "" {
		params.Username = &s.cfg.User
	}
	resp, err := s.files.PostFilesWithBody(ctx, params, contentType, body)
	if err != nil {
		return s.requestError(ctx, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return s.statusError(op, resp.StatusCode, data)
	}
	var written []envdapi.EntryInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&written); err != nil {
		return fmt.Errorf("e2b: %s: reading envd's answer: %w", op, err)
	}
	if len(written) != len(files) {
		return fmt.Errorf("e2b: %s: envd wrote %d of %d files", op, len(written), len(files))
	}
	return nil
}

// multipartBody is the body of an upload: one part named "file" per file,
// its file name the destination path.
func multipartBody(files []agentbox.File) (io.Reader, string) {
	size := 0
	for _, f := range files {
		size += len(f.Data) + len(f.Path) + 160
	}
	var buf bytes.Buffer
	buf.Grow(size + 64)
	w := multipart.NewWriter(&buf)
	for _, f := range files {
		h := make(textproto.MIMEHeader, 2)
		// envd reads the path with mime.ParseMediaType, which takes a
		// quoted value and, for one with control or non-ASCII characters,
		// its RFC 2231 encoding (filename*=utf-8''...).
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": homePath(f.Path)}))
		h.Set("Content-Type", "application/octet-stream")
		part, _ := w.CreatePart(h) // writes to a bytes.Buffer cannot fail
		part.Write(f.Data)
	}
	w.Close()
	return &buf, w.FormDataContentType()
}

// Open downloads a file from envd; the download streams as it is read.
func (s *Sandbox) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkPath("open", name); err != nil {
		return nil, err
	}
	op := "open " + name
	if err := s.check(); err != nil {
		return nil, err
	}
	params := &envdapi.GetFilesParams{Path: ptr(homePath(name))}
	if s.cfg.User != "" {
		params.Username = &s.cfg.User
	}
	resp, err := s.files.GetFiles(ctx, params)
	if err != nil {
		return nil, s.requestError(ctx, op, err)
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, s.statusError(op, resp.StatusCode, data)
	}
	// Uncompressed, envd serves a device such as /dev/zero as an empty
	// file (its size is 0): only its type tells it from one. (Compressed,
	// it streams what the device gives.)
	if resp.ContentLength == 0 {
		if err := s.checkRegular(ctx, name); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	return resp.Body, nil
}

// checkRegular returns an error when envd says name is not a regular file.
func (s *Sandbox) checkRegular(ctx context.Context, name string) error {
	st, err := s.fs.Stat(ctx, connect.NewRequest(&filesystem.StatRequest{Path: homePath(name)}))
	if err == nil && st.Msg.GetEntry().GetType() != filesystem.FileType_FILE_TYPE_FILE {
		return fmt.Errorf("e2b: %w", &fs.PathError{Op: "open", Path: name, Err: errNotRegular})
	}
	return nil
}

// errNotRegular is the error of opening what is not a regular file.
var errNotRegular = errors.New("not a regular file")

// List lists a directory with envd's ListDir, sorted by name.
func (s *Sandbox) List(ctx context.Context, dir string) ([]agentbox.FileInfo, error) {
	if err := checkPath("list", dir); err != nil {
		return nil, err
	}
	op := "list " + dir
	if err := s.check(); err != nil {
		return nil, err
	}
	resp, err := s.fs.ListDir(ctx, connect.NewRequest(&filesystem.ListDirRequest{Path: homePath(dir), Depth: 1}))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("e2b: %s: %w", op, ctx.Err())
		}
		return nil, s.gone(op, rpcError(op, err, s.secrets()...))
	}
	entries := resp.Msg.GetEntries()
	infos := make([]agentbox.FileInfo, 0, len(entries))
	for _, e := range entries {
		infos = append(infos, agentbox.FileInfo{
			Name:  e.GetName(),
			Path:  path.Join(dir, e.GetName()),
			IsDir: e.GetType() == filesystem.FileType_FILE_TYPE_DIRECTORY,
			Size:  e.GetSize(),
		})
	}
	slices.SortFunc(infos, func(a, b agentbox.FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
}

// requestError reports a request to envd that got no answer.
func (s *Sandbox) requestError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("e2b: %s: %w", op, ctx.Err())
	}
	return s.gone(op, transportError(op, err, s.secrets()...))
}

// statusError reports an error status from envd or E2B's edge.
func (s *Sandbox) statusError(op string, status int, body []byte) error {
	if s.isClosed() {
		return fmt.Errorf("e2b: %s: %w", op, agentbox.ErrClosed)
	}
	return statusError(op, status, body, envd, s.secrets()...)
}

// homePath is p as sent to envd, relative to the user's home directory
// whatever the template: envd resolves a relative file path against the
// home, but runs a command with no cwd in the template's workdir, and
// versions differ on what a relative cwd means. "~" means the home to every
// version, so a relative path is sent below it, and an empty one as "~".
func homePath(p string) string {
	switch {
	case p == "":
		return "~"
	case p == "~" || strings.HasPrefix(p, "~/") || path.IsAbs(p):
		return p
	}
	return "~/" + p
}

// maxPath is the longest path Linux takes (PATH_MAX, less its NUL): envd
// would refuse a longer one, after working at it.
const maxPath = 4095

// checkPath refuses a path longer than maxPath before it is sent.
func checkPath(op, p string) error {
	if len(p) > maxPath {
		return fmt.Errorf("e2b: %w", &fs.PathError{Op: op, Path: fmt.Sprintf("%.64s… (%d bytes)", p, len(p)), Err: syscall.ENAMETOOLONG})
	}
	return nil
}
