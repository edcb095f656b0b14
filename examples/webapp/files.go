package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
)

// The bounds of the files view: it lists a workspace, not a disk.
const (
	maxListed    = 2000      // entries in a listing
	maxDepth     = 8         // folders deep
	maxShownFile = 256 << 10 // bytes of a file shown
)

// skipped are folders listed but not entered: what tools fill, not what the
// agent wrote.
var skipped = []string{"node_modules", ".git", ".cache", "__pycache__", ".venv", "dist", "build"}

// fileEntry is one file or folder of a listing.
type fileEntry struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Dir  bool   `json:"dir"`
}

// files answers GET /api/files?chat=ID with the chat's workspace, every
// file and folder below it (relative paths, sorted), up to maxListed
// entries and maxDepth folders deep; 204 when the chat has no sandbox yet.
func (a *app) files(w http.ResponseWriter, r *http.Request) {
	sb := a.chats.Sandbox(r, r.URL.Query().Get("chat"))
	if sb == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var list []fileEntry
	truncated := false
	dirs := []string{""}
	for depth := 0; len(dirs) > 0 && !truncated; depth++ {
		var next []string
		for _, dir := range dirs {
			entries, err := sb.List(r.Context(), dir)
			if err != nil {
				if dir == "" {
					jsonError(w, http.StatusBadGateway, "listing the workspace: "+err.Error())
					return
				}
				continue // a folder that went away while listed
			}
			for _, e := range entries {
				if len(list) == maxListed {
					truncated = true
					break
				}
				p := strings.TrimPrefix(path.Join(dir, e.Name), "/")
				list = append(list, fileEntry{Path: p, Size: e.Size, Dir: e.IsDir})
				if e.IsDir && !slices.Contains(skipped, e.Name) {
					if depth+1 < maxDepth {
						next = append(next, p)
					} else {
						truncated = true
					}
				}
			}
		}
		dirs = next
	}
	slices.SortFunc(list, func(a, b fileEntry) int { return strings.Compare(a.Path, b.Path) })
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"files": list, "truncated": truncated})
}

// file answers GET /api/file?chat=ID&path=P with a text file of the chat's
// workspace: a relative path below it only, at most maxShownFile bytes, no
// binary files.
func (a *app) file(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("path")
	if !fs.ValidPath(name) || name == "." {
		jsonError(w, http.StatusBadRequest, "the path must be relative, inside the workspace")
		return
	}
	sb := a.chats.Sandbox(r, q.Get("chat"))
	if sb == nil {
		jsonError(w, http.StatusNotFound, "the chat has no workspace yet")
		return
	}
	f, err := sb.Open(r.Context(), name)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, fs.ErrNotExist) {
			status = http.StatusNotFound
		}
		jsonError(w, status, err.Error())
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxShownFile+1))
	switch {
	case err != nil:
		jsonError(w, http.StatusBadGateway, err.Error())
	case len(data) > maxShownFile:
		jsonError(w, http.StatusRequestEntityTooLarge, "the file is over 256 KiB: too large to show")
	case bytes.IndexByte(data, 0) >= 0:
		jsonError(w, http.StatusUnsupportedMediaType, "a binary file")
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(data)
	}
}

// jsonError answers with status and {"error": msg}.
func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
