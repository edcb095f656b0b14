package e2btest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem"
	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/agentbox/agentbox/e2b/internal/envdapi"
)

// filesAPI is envd's plain HTTP API.
type filesAPI struct{}

func (filesAPI) GetHealth(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

// GetFiles serves a file as envd does: with http.ServeContent (ranges,
// conditional requests, a content type guessed from the name, else from
// the content), or gzipped when the request accepts gzip and asks no range.
func (filesAPI) GetFiles(w http.ResponseWriter, r *http.Request, params envdapi.GetFilesParams) {
	sb := sandboxOf(r.Context())
	var path string
	if params.Path != nil {
		path = *params.Path
	}
	if err := sb.checkSigning(r, params.Signature, params.SignatureExpiration, params.Username, path, "read"); err != nil {
		envdError(w, http.StatusUnauthorized, err)
		return
	}
	a, status, err := sb.fileUser(params.Username)
	if err != nil {
		envdError(w, status, err)
		return
	}
	p, err := sb.resolve(a, path)
	if err != nil {
		envdError(w, http.StatusBadRequest, fmt.Errorf("error expanding and resolving path '%s': %w", path, err))
		return
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		envdError(w, http.StatusNotFound, fmt.Errorf("path '%s' does not exist", p))
		return
	case err != nil:
		envdError(w, http.StatusInternalServerError, fmt.Errorf("error checking if path exists '%s': %w", p, err))
		return
	case fi.IsDir():
		envdError(w, http.StatusBadRequest, fmt.Errorf("path '%s' is a directory", p))
		return
	}
	encoding, err := acceptedEncoding(r.Header.Get("Accept-Encoding"))
	if err != nil {
		envdError(w, http.StatusNotAcceptable, fmt.Errorf("error parsing Accept-Encoding: %w", err))
		return
	}
	w.Header().Set("Vary", "Accept-Encoding")
	if r.Header.Get("Range") != "" || r.Header.Get("If-Modified-Since") != "" || r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Range") != "" {
		if _, identityRefused := parseAcceptEncoding(r.Header.Get("Accept-Encoding")); identityRefused {
			envdError(w, http.StatusNotAcceptable, errors.New("identity encoding not acceptable for Range or conditional request"))
			return
		}
		encoding = "identity"
	}
	f, err := os.Open(p)
	if err != nil {
		envdError(w, http.StatusInternalServerError, fmt.Errorf("error opening file '%s': %w", p, err))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": filepath.Base(p)}))
	if encoding == "gzip" {
		w.Header().Set("Content-Encoding", "gzip")
		ctype := mime.TypeByExtension(filepath.Ext(path))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ctype)
		gw := gzip.NewWriter(w)
		defer gw.Close()
		io.Copy(gw, f)
		return
	}
	http.ServeContent(w, r, path, fi.ModTime(), f)
}

// An encoding is a content coding of an Accept-Encoding header, with its
// weight.
type encoding struct {
	name string
	q    float64
}

// parseAcceptEncoding parses an Accept-Encoding header and reports whether
// it refuses identity (identity;q=0, or *;q=0 without identity).
func parseAcceptEncoding(h string) ([]encoding, bool) {
	if h == "" {
		return nil, false
	}
	var encs []encoding
	identityRefused, identityAccepted, anyRefused := false, false, false
	for v := range strings.SplitSeq(h, ",") {
		name, params, _ := strings.Cut(v, ";")
		e := encoding{name: strings.ToLower(strings.TrimSpace(name)), q: 1}
		for param := range strings.SplitSeq(params, ";") {
			param = strings.TrimSpace(param)
			if len(param) > 2 && strings.EqualFold(param[:2], "q=") {
				if q, err := strconv.ParseFloat(param[2:], 64); err == nil {
					e.q = q
				}
			}
		}
		switch e.name {
		case "identity":
			identityRefused = identityRefused || e.q == 0
			identityAccepted = identityAccepted || e.q != 0
		case "*":
			anyRefused = anyRefused || e.q == 0
		}
		encs = append(encs, e)
	}
	return encs, identityRefused || (anyRefused && !identityAccepted)
}

// acceptedEncoding chooses the content coding of a download as envd does:
// gzip or identity, the client's favourite.
func acceptedEncoding(h string) (string, error) {
	encs, identityRefused := parseAcceptEncoding(h)
	best, bestQ := "", 0.0
	for _, e := range encs {
		if e.q <= bestQ {
			continue
		}
		switch e.name {
		case "identity", "gzip":
			best, bestQ = e.name, e.q
		case "*":
			best, bestQ = "identity", e.q
			if identityRefused {
				best = "gzip"
			}
		}
	}
	switch {
	case best != "":
		return best, nil
	case !identityRefused:
		return "identity", nil
	}
	return "", errors.New("no acceptable encoding found, supported: [gzip]")
}

// fileUser is the account of a request to /files: its username parameter,
// else the default user; a user that does not exist is 401.
func (sb *sandbox) fileUser(username *string) (account, int, error) {
	name := defaultUser
	if username != nil {
		name = *username
	}
	a, err := sb.account(name)
	if err != nil {
		return account{}, http.StatusUnauthorized, fmt.Errorf("error looking up user '%s': %w", name, err)
	}
	return a, 0, nil
}

// PostFiles writes files as envd does: a multipart body, each part named
// "file" with its path as its file name (or the path parameter), or a raw
// application/octet-stream body to the path parameter.
func (filesAPI) PostFiles(w http.ResponseWriter, r *http.Request, params envdapi.PostFilesParams) {
	sb := sandboxOf(r.Context())
	var path string
	if params.Path != nil {
		path = *params.Path
	}
	if err := sb.checkSigning(r, params.Signature, params.SignatureExpiration, params.Username, path, "write"); err != nil {
		envdError(w, http.StatusUnauthorized, err)
		return
	}
	switch ce := r.Header.Get("Content-Encoding"); strings.ToLower(strings.TrimSpace(strings.SplitN(ce, ";", 2)[0])) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			envdError(w, http.StatusBadRequest, fmt.Errorf("error decompressing request body: failed to create gzip reader: %w", err))
			return
		}
		defer zr.Close()
		r.Body = zr
	default:
		envdError(w, http.StatusBadRequest, fmt.Errorf("error decompressing request body: unsupported Content-Encoding: %s, supported: [gzip]", ce))
		return
	}
	a, status, err := sb.fileUser(params.Username)
	if err != nil {
		envdError(w, status, err)
		return
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var written []envdapi.EntryInfo
	switch {
	case mediaType == "application/octet-stream":
		written, status, err = sb.rawUpload(r, a, params.Path)
	case strings.HasPrefix(mediaType, "multipart/"):
		written, status, err = sb.multipartUpload(r, a, params.Path)
	default:
		status, err = http.StatusBadRequest, fmt.Errorf("unsupported content type: %s, expected multipart/form-data or application/octet-stream", r.Header.Get("Content-Type"))
	}
	if err != nil {
		envdError(w, status, err)
		return
	}
	data, err := json.Marshal(written)
	if err != nil {
		envdError(w, http.StatusInternalServerError, fmt.Errorf("error marshaling response: %w", err))
		return
	}
	w.WriteHeader(http.StatusOK) // with no content type: net/http sniffs text/plain, as for envd
	w.Write(data)
}

// rawUpload writes the request's body to the path parameter.
func (sb *sandbox) rawUpload(r *http.Request, a account, path *string) ([]envdapi.EntryInfo, int, error) {
	if path == nil {
		return nil, http.StatusBadRequest, errors.New("path query parameter is required for raw body upload")
	}
	p, err := sb.resolve(a, *path)
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("error resolving path: %w", err)
	}
	if status, err := writeFile(p, r.Body); err != nil {
		return nil, status, err
	}
	return []envdapi.EntryInfo{{Name: filepath.Base(p), Path: p, Type: envdapi.File}}, 0, nil
}

// multipartUpload writes the parts named "file" of a multipart body, in
// order, each to its file name, or to the path parameter; it stops at the
// first failure, what was written before staying written.
func (sb *sandbox) multipartUpload(r *http.Request, a account, path *string) ([]envdapi.EntryInfo, int, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, http.StatusInternalServerError, fmt.Errorf("error parsing multipart form: %w", err)
	}
	written := []envdapi.EntryInfo{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return written, 0, nil
		}
		if err != nil {
			return nil, http.StatusInternalServerError, fmt.Errorf("error reading form: %w", err)
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		p, err := sb.partPath(part.Header.Get("Content-Disposition"), a, path, written)
		if err != nil {
			part.Close()
			return nil, http.StatusBadRequest, err
		}
		status, err := writeFile(p, part)
		part.Close()
		if err != nil {
			return nil, status, err
		}
		written = append(written, envdapi.EntryInfo{Name: filepath.Base(p), Path: p, Type: envdapi.File})
	}
}

// partPath is where a part goes: the path parameter, else its file name,
// directories included (not Part.FileName, which keeps only the last
// element); it must not be where an earlier part went.
func (sb *sandbox) partPath(disposition string, a account, path *string, written []envdapi.EntryInfo) (string, error) {
	var name string
	if path != nil {
		name = *path
	} else {
		_, dp, err := mime.ParseMediaType(disposition)
		if err != nil {
			return "", fmt.Errorf("error resolving path: error getting multipart custom part file name: %w", err)
		}
		var ok bool
		if name, ok = dp["filename"]; !ok {
			return "", errors.New("error resolving path: error getting multipart custom part file name: filename not found in Content-Disposition header")
		}
	}
	p, err := sb.resolve(a, name)
	if err != nil {
		return "", fmt.Errorf("error resolving path: %w", err)
	}
	for _, e := range written {
		if e.Path != p {
			continue
		}
		err := fmt.Errorf("you cannot upload multiple files to the same path '%s' in one upload request, only the first specified file was uploaded", p)
		var others []string
		for _, o := range written {
			if o.Path != p {
				others = append(others, o.Path)
			}
		}
		if len(others) > 1 {
			err = fmt.Errorf("%w, also the following files were uploaded: %v", err, strings.Join(others, ", "))
		}
		return "", err
	}
	return p, nil
}

// writeFile writes a file as envd does, making the folders above it, and
// returns the status of a failure: 400 for a folder, 500 for a file in the
// way of a folder, 507 for a full disk.
func writeFile(p string, r io.Reader) (int, error) {
	if err := ensureDirs(filepath.Dir(p)); err != nil {
		return http.StatusInternalServerError, fmt.Errorf("error ensuring directories: %w", err)
	}
	fi, err := os.Stat(p)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return http.StatusInternalServerError, fmt.Errorf("error getting file info: %w", err)
	case err == nil && fi.IsDir():
		return http.StatusBadRequest, fmt.Errorf("path is a directory: %s", p)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return http.StatusInsufficientStorage, fmt.Errorf("not enough inodes available: %w", err)
		}
		return http.StatusInternalServerError, fmt.Errorf("error opening file: %w", err)
	}
	defer f.Close()
	if _, err := f.ReadFrom(r); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return http.StatusInsufficientStorage, errors.New("not enough disk space available")
		}
		return http.StatusInternalServerError, fmt.Errorf("error writing file: %w", err)
	}
	return 0, nil
}

// ensureDirs makes the folder dir and those above it, failing where a file
// is in the way.
func ensureDirs(dir string) error {
	var chain []string
	for p := dir; ; p = filepath.Dir(p) {
		chain = append(chain, p)
		if p == "/" || p == "." {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		p := chain[i]
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("failed to create directory: %w", err)
			}
		case err != nil:
			return fmt.Errorf("failed to stat directory: %w", err)
		case !fi.IsDir():
			return fmt.Errorf("path is a file: %s", p)
		}
	}
	return nil
}

// envd's internal and unused operations.

func (filesAPI) PostCollapse(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (filesAPI) GetEnvs(w http.ResponseWriter, r *http.Request)      { http.NotFound(w, r) }
func (filesAPI) PostFilesCompose(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
func (filesAPI) PostFreeze(w http.ResponseWriter, r *http.Request, _ envdapi.PostFreezeParams) {
	http.NotFound(w, r)
}
func (filesAPI) PostFsfreeze(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (filesAPI) PostFsthaw(w http.ResponseWriter, r *http.Request)   { http.NotFound(w, r) }
func (filesAPI) PostInit(w http.ResponseWriter, r *http.Request)     { http.NotFound(w, r) }
func (filesAPI) GetMetrics(w http.ResponseWriter, r *http.Request)   { http.NotFound(w, r) }
func (filesAPI) PostUnfreeze(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

// filesystemService is envd's Filesystem service: ListDir and Stat, which
// the e2b package uses; the other methods answer unimplemented.
type filesystemService struct {
	filesystemconnect.UnimplementedFilesystemHandler
}

// Stat describes a file as envd does, with entryInfo; a symbolic link is
// not followed.
func (filesystemService) Stat(ctx context.Context, req *connect.Request[filesystem.StatRequest]) (*connect.Response[filesystem.StatResponse], error) {
	sb := sandboxOf(ctx)
	a, err := sb.authUser(ctx)
	if err != nil {
		return nil, err
	}
	p, err := sb.resolve(a, req.Msg.GetPath())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	e, err := entryInfo(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("file not found: %w", err))
	case err != nil:
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("error getting file info: %w", err))
	}
	return connect.NewResponse(&filesystem.StatResponse{Entry: e}), nil
}

// ListDir lists a folder as envd does: a path that is a symbolic link is
// followed, and entries are described by entryInfo, under the path asked.
func (filesystemService) ListDir(ctx context.Context, req *connect.Request[filesystem.ListDirRequest]) (*connect.Response[filesystem.ListDirResponse], error) {
	sb := sandboxOf(ctx)
	depth := int(req.Msg.GetDepth())
	if depth == 0 {
		depth = 1
	}
	a, err := sb.authUser(ctx)
	if err != nil {
		return nil, err
	}
	asked, err := sb.resolve(a, req.Msg.GetPath())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	root, err := filepath.EvalSymlinks(asked)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("path not found: %w", err))
	case err != nil && strings.Contains(err.Error(), "too many links"):
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("cyclic symlink or chain >255 links at %q", asked))
	case err != nil:
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("error resolving symlink: %w", err))
	}
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("directory not found: %w", err))
	case err != nil:
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("error getting file info: %w", err))
	case !fi.IsDir():
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("path is not a directory: %s", root))
	}
	resp := &filesystem.ListDirResponse{}
	err = filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if strings.Count(rel, string(filepath.Separator))+1 > depth {
			return fs.SkipDir
		}
		e, err := entryInfo(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone since
		}
		if err != nil {
			return err
		}
		e.Path = filepath.Join(asked, rel)
		resp.Entries = append(resp.Entries, e)
		return nil
	})
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("error reading directory %s: %w", root, err))
	}
	return connect.NewResponse(resp), nil
}

// entryInfo describes a file as envd does. A symbolic link has the type and
// mode of what it leads to (FILE_TYPE_UNSPECIFIED and 0 when that is
// missing), its own size and permissions (Lrwxrwxrwx), and the absolute,
// resolved path of its target. Owner and group are the names of the file's
// user and group on this machine, their numbers when they have none.
func entryInfo(p string) (*filesystem.EntryInfo, error) {
	info, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	e := &filesystem.EntryInfo{
		Name:         info.Name(),
		Path:         p,
		Size:         info.Size(),
		Permissions:  info.Mode().String(),
		ModifiedTime: timestamppb.New(info.ModTime()),
	}
	mode := info.Mode()
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			target = p
		}
		e.SymlinkTarget = &target
		mode = 0
		if ti, err := os.Stat(target); err == nil {
			mode = ti.Mode()
		}
	}
	switch {
	case mode.IsRegular():
		e.Type = filesystem.FileType_FILE_TYPE_FILE
	case mode.IsDir():
		e.Type = filesystem.FileType_FILE_TYPE_DIRECTORY
	}
	e.Mode = uint32(mode.Perm())
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		e.Owner = strconv.FormatUint(uint64(st.Uid), 10)
		if u, err := user.LookupId(e.Owner); err == nil {
			e.Owner = u.Username
		}
		e.Group = strconv.FormatUint(uint64(st.Gid), 10)
		if g, err := user.LookupGroupId(e.Group); err == nil {
			e.Group = g.Name
		}
	}
	return e, nil
}
