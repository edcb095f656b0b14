package e2btest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem"
	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/agentbox/agentbox/e2b/internal/envdapi"
)

// requireToken rejects requests without the sandbox's access token, as
// envd's middleware does (with a body that is not Connect's); /health needs
// none.
func requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb := sandboxOf(r.Context())
		if r.URL.Path != "/health" && sb.token != "" && r.Header.Get("X-Access-Token") != sb.token {
			writeError(w, http.StatusUnauthorized, "unauthorized access, please provide a valid access token or method signing if supported")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// filesAPI is envd's plain HTTP API.
type filesAPI struct{}

func (filesAPI) GetHealth(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (filesAPI) GetFiles(w http.ResponseWriter, r *http.Request, params envdapi.GetFilesParams) {
	sb := sandboxOf(r.Context())
	if params.Path == nil {
		writeError(w, http.StatusBadRequest, "path is required")
		return
	}
	p := sb.resolve(*params.Path)
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		writeError(w, http.StatusNotFound, fmt.Sprintf("path '%s' does not exist", p))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	case fi.IsDir():
		writeError(w, http.StatusBadRequest, fmt.Sprintf("path '%s' is a directory", p))
		return
	}
	f, err := os.Open(p)
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("error opening file '%s': %v", p, err))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(p)}))
	io.Copy(w, f)
}

func (filesAPI) PostFiles(w http.ResponseWriter, r *http.Request, params envdapi.PostFilesParams) {
	sb := sandboxOf(r.Context())
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "error parsing multipart form: "+err.Error())
		return
	}
	var written []envdapi.EntryInfo
	seen := map[string]bool{}
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "error reading multipart form: "+err.Error())
			return
		}
		if part.FormName() != "file" {
			continue
		}
		// The file name is the path, directories included: not Part.FileName,
		// which keeps only its last element.
		_, dp, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		name := dp["filename"]
		if params.Path != nil {
			name = *params.Path
		}
		if name == "" {
			writeError(w, http.StatusBadRequest, "a file part needs a file name or the path parameter")
			return
		}
		p := sb.resolve(name)
		if seen[p] {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("cannot upload multiple files to same path '%s'", p))
			return
		}
		seen[p] = true
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("path '%s' is a directory", p))
			return
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("error ensuring directories: %v", err))
			return
		}
		f, err := os.Create(p)
		if err == nil {
			_, err = io.Copy(f, part)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("error writing file '%s': %v", p, err))
			return
		}
		written = append(written, envdapi.EntryInfo{Name: filepath.Base(p), Path: p, Type: envdapi.File})
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8") // as envd sends it
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(written)
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

// filesystemService is envd's Filesystem service: ListDir, which the e2b
// package uses; the other methods answer unimplemented.
type filesystemService struct {
	filesystemconnect.UnimplementedFilesystemHandler
}

func (filesystemService) ListDir(ctx context.Context, req *connect.Request[filesystem.ListDirRequest]) (*connect.Response[filesystem.ListDirResponse], error) {
	sb := sandboxOf(ctx)
	root := sb.resolve(req.Msg.GetPath())
	depth := int(max(req.Msg.GetDepth(), 1))
	fi, err := os.Stat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("path not found: %s", root))
	}
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	if !fi.IsDir() {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("path is not a directory: %s", root))
	}
	resp := &filesystem.ListDirResponse{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if level := strings.Count(rel, string(filepath.Separator)) + 1; level > depth {
			return fs.SkipDir
		}
		info, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		resp.Entries = append(resp.Entries, entryInfo(p, info))
		return nil
	})
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(resp), nil
}

// entryInfo describes a file as envd does.
func entryInfo(p string, info fs.FileInfo) *filesystem.EntryInfo {
	e := &filesystem.EntryInfo{
		Name:         info.Name(),
		Path:         p,
		Size:         info.Size(),
		Mode:         uint32(info.Mode().Perm()),
		Permissions:  info.Mode().String(),
		Owner:        "user",
		Group:        "user",
		ModifiedTime: timestamppb.New(info.ModTime()),
		Type:         filesystem.FileType_FILE_TYPE_FILE,
	}
	switch {
	case info.IsDir():
		e.Type = filesystem.FileType_FILE_TYPE_DIRECTORY
	case info.Mode()&fs.ModeSymlink != 0:
		e.Type = filesystem.FileType_FILE_TYPE_SYMLINK
		if target, err := os.Readlink(p); err == nil {
			e.SymlinkTarget = &target
		}
	}
	return e
}
