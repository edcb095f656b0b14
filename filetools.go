package agentbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// Limits of the file tools.
const (
	readDefaultLines = 2000
	readMaxLineBytes = 2000
	readMaxBytes     = 256 << 10
	readMaxScan      = 64 << 20
	editMaxBytes     = 10 << 20
	listDefaultDepth = 3
	listMaxDepth     = 8
	listMaxEntries   = 500
)

// listSkipped are directories list_files shows but does not descend into.
var listSkipped = map[string]bool{".git": true, "node_modules": true, ".next": true, "dist": true, "build": true, "__pycache__": true, ".venv": true, "vendor": true, ".cache": true}

// A FileArg is one file of [WriteFileArgs].
type FileArg struct {
	// Path is the file's path, relative to the workspace.
	Path string `json:"path" jsonschema:"path of the file, relative to the workspace, e.g. src/app.js"`
	// Content is the whole content of the file.
	Content string `json:"content" jsonschema:"the complete content of the file"`
}

// WriteFileArgs are the arguments of the built-in tool write_file, which
// creates or overwrites whole files, making parent directories:
//
//	{"files": [{"path": "src/app.js", "content": "..."}, ...]}
//
// files (one or more) and each file's path and content are required; no
// other property is allowed. It returns "Wrote 2 files:" and a line per
// file with its path and size in bytes. It is an [ExclusiveTool].
type WriteFileArgs struct {
	// Files are the files to write, at least one.
	Files []FileArg `json:"files" jsonschema:"the files to write, one or more"`
}

func writeFileTool() Tool {
	schema := mustSchema[WriteFileArgs]()
	schema.Properties["files"].MinItems = jsonschema.Ptr(1)
	return Exclusive(newTypedTool("write_file",
		"Create or overwrite files in the workspace. Give one or more files, each with its path (relative to the workspace) and its complete content; parent directories are created. An existing file is replaced entirely, so include all of its content. Returns the paths written and their sizes.",
		schema, writeFiles))
}

func writeFiles(ctx context.Context, env *Env, in WriteFileArgs) (string, error) {
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	files := make([]File, len(in.Files))
	for i, f := range in.Files {
		if strings.TrimSpace(f.Path) == "" {
			return "", fmt.Errorf("file %d has an empty path", i+1)
		}
		if err := checkPath(f.Path); err != nil {
			return "", err
		}
		files[i] = File{Path: f.Path, Data: []byte(f.Content)}
	}
	if err := sb.WriteFiles(ctx, files); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Wrote %d %s:", len(files), plural(len(files), "file", "files"))
	for _, f := range files {
		fmt.Fprintf(&b, "\n%s (%d bytes)", f.Path, len(f.Data))
	}
	return b.String(), nil
}

// ReadFileArgs are the arguments of the built-in tool read_file, which reads
// a text file:
//
//	{"path": "src/app.js", "offset": 1, "limit": 2000}
//
// path is required; offset (the first line, from 1) and limit (most lines,
// default 2000) are optional, at least 1. It returns the lines as stored,
// without line numbers, each cut to 2,000 characters; a result that stops
// early ends with "[more lines follow: read on with offset N]". An empty
// file gives "(the file is empty)"; a binary file, or one read past 64 MB,
// an error.
type ReadFileArgs struct {
	// Path is the file's path, relative to the workspace.
	Path string `json:"path" jsonschema:"path of the file, relative to the workspace"`
	// Offset is the first line to return, from 1; 0 means 1.
	Offset int `json:"offset,omitempty" jsonschema:"first line to return, counting from 1; default 1"`
	// Limit is the most lines to return; 0 means 2000.
	Limit int `json:"limit,omitempty" jsonschema:"most lines to return; default 2000"`
}

func readFileTool() Tool {
	schema := mustSchema[ReadFileArgs]()
	schema.Properties["offset"].Minimum = jsonschema.Ptr(1.0)
	schema.Properties["limit"].Minimum = jsonschema.Ptr(1.0)
	return newTypedTool("read_file",
		"Read a text file of the workspace. Returns its lines exactly as stored, without line numbers, from line offset (default 1) for at most limit lines (default 2000). Lines longer than 2000 characters are cut. A long result stops early, at a whole line, and then says which offset reads on. Binary files are not shown, and reading stops 64 MB into a file.",
		schema, readFile)
}

func readFile(ctx context.Context, env *Env, in ReadFileArgs) (string, error) {
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	if err := checkPath(in.Path); err != nil {
		return "", err
	}
	offset, limit := max(in.Offset, 1), in.Limit
	maxBytes := min(readMaxBytes, env.outputLimit())
	if limit <= 0 {
		limit = readDefaultLines
	}
	f, err := sb.Open(ctx, in.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := bufio.NewReaderSize(&textReader{ctx: ctx, r: f, left: readMaxScan}, 64<<10)
	var b strings.Builder
	line, shown := 0, 0
	for {
		var text string
		if line+1 < offset {
			err = skipLine(r)
		} else {
			text, err = readLine(r)
		}
		if err == io.EOF {
			break
		}
		switch {
		case errors.Is(err, errBinary):
			return "", fmt.Errorf("%s is a binary file; it is not shown", in.Path)
		case errors.Is(err, errScanned):
			return "", fmt.Errorf("stopped reading %s after %d MB, at line %d: read further into it with run_command (e.g. tail, or sed -n)", in.Path, readMaxScan>>20, line+1)
		case err != nil:
			return "", err
		}
		line++
		if line < offset {
			continue
		}
		if shown == limit || b.Len()+len(text) > maxBytes {
			fmt.Fprintf(&b, "[more lines follow: read on with offset %d]\n", line)
			return b.String(), nil
		}
		b.WriteString(text)
		shown++
	}
	switch {
	case line == 0:
		return "(the file is empty)", nil
	case shown == 0:
		return "", fmt.Errorf("%s has %d lines; offset %d is past its end", in.Path, line, offset)
	}
	return b.String(), nil
}

// A textReader reads a text file for read_file: it fails once ctx is done,
// at the first NUL byte (the mark of a binary file, or of a hole in a sparse
// one), and once left bytes were read.
type textReader struct {
	ctx  context.Context
	r    io.Reader
	left int64
}

var (
	errBinary  = errors.New("binary file")
	errScanned = errors.New("read too far into the file")
)

func (t *textReader) Read(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, err
	}
	if t.left <= 0 {
		return 0, errScanned
	}
	if int64(len(p)) > t.left {
		p = p[:t.left]
	}
	n, err := t.r.Read(p)
	if bytes.IndexByte(p[:n], 0) >= 0 {
		return 0, errBinary
	}
	t.left -= int64(n)
	return n, err
}

// skipLine reads past a line, returning io.EOF only when there is none.
func skipLine(r *bufio.Reader) error {
	for n := 0; ; {
		part, err := r.ReadSlice('\n')
		n += len(part)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && n > 0:
			return nil
		}
		return err
	}
}

// readLine reads a line with its newline, cutting it to readMaxLineBytes.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	n := 0 // the line's length
	for {
		part, err := r.ReadSlice('\n')
		n += len(bytes.TrimSuffix(part, []byte("\n")))
		if room := readMaxLineBytes - len(b); room > 0 {
			b = append(b, part[:min(room, len(part))]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(b) > 0:
			err = nil
		case err != nil:
			return "", err
		}
		s := string(b)
		if n > readMaxLineBytes {
			s = strings.ToValidUTF8(strings.TrimSuffix(s, "\n"), "") + " [line cut]\n"
		}
		return s, nil
	}
}

// ListFilesArgs are the arguments of the built-in tool list_files, which
// lists a directory recursively:
//
//	{"path": "src", "depth": 3}
//
// Both are optional: path defaults to the workspace, depth (1 to 8) to 3.
// It returns a line per entry, its path relative to the workspace:
// "src/app.js (120 bytes)", "src/lib/" for a directory, with "(not listed)"
// for dependency and build directories (node_modules, .git, dist and the
// like) and "(deeper levels not listed)" at the depth; at most 500 entries.
type ListFilesArgs struct {
	// Path is the directory to list; "" means the workspace.
	Path string `json:"path,omitempty" jsonschema:"directory to list, relative to the workspace; default the workspace itself"`
	// Depth is how many levels to show, 1 to 8; 0 means 3.
	Depth int `json:"depth,omitempty" jsonschema:"how many directory levels to show: 1 shows only the directory's own entries; default 3, at most 8"`
}

func listFilesTool() Tool {
	schema := mustSchema[ListFilesArgs]()
	schema.Properties["depth"].Minimum = jsonschema.Ptr(1.0)
	schema.Properties["depth"].Maximum = jsonschema.Ptr(float64(listMaxDepth))
	return newTypedTool("list_files",
		"List the files and directories under a directory of the workspace, recursively. Returns one entry per line, as a path relative to the workspace: directories end with '/', files show their size in bytes. Dependency and build directories (node_modules, .git, dist, build and the like) are shown but not descended into. At most 500 entries are returned.",
		schema, listFiles)
}

func listFiles(ctx context.Context, env *Env, in ListFilesArgs) (string, error) {
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	if err := checkPath(in.Path); err != nil {
		return "", err
	}
	root := in.Path
	if root == "" {
		root = "."
	}
	depth := in.Depth
	if depth <= 0 {
		depth = listDefaultDepth
	}
	var b strings.Builder
	n := 0
	var walk func(dir, prefix string, level int) error
	walk = func(dir, prefix string, level int) error {
		entries, err := sb.List(ctx, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if n == listMaxEntries {
				return errListFull
			}
			n++
			name := path.Join(prefix, e.Name)
			if !e.IsDir {
				fmt.Fprintf(&b, "%s (%d bytes)\n", name, e.Size)
				continue
			}
			switch {
			case listSkipped[e.Name]:
				fmt.Fprintf(&b, "%s/ (not listed)\n", name)
			case level == depth:
				fmt.Fprintf(&b, "%s/ (deeper levels not listed)\n", name)
			default:
				fmt.Fprintf(&b, "%s/\n", name)
				if err := walk(path.Join(dir, e.Name), name, level+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	prefix := path.Clean(root)
	if prefix == "." {
		prefix = ""
	}
	switch err := walk(root, prefix, 1); {
	case errors.Is(err, errListFull):
		fmt.Fprintf(&b, "[stopped after %d entries: list a subdirectory to see more]\n", listMaxEntries)
	case err != nil:
		return "", err
	case n == 0:
		return fmt.Sprintf("%s is empty", root), nil
	}
	return b.String(), nil
}

var errListFull = errors.New("listing is full")

// EditFileArgs are the arguments of the built-in tool edit_file, which
// replaces text in an existing file:
//
//	{"path": "src/app.js", "old_string": "let n = 0", "new_string": "let n = 1", "replace_all": false}
//
// path, old_string and new_string are required; old_string must occur
// exactly once unless replace_all is true. It returns "Edited src/app.js:
// replaced 1 occurrence." It is an [ExclusiveTool].
type EditFileArgs struct {
	// Path is the file's path, relative to the workspace.
	Path string `json:"path" jsonschema:"path of the file, relative to the workspace"`
	// OldString is the exact text to replace.
	OldString string `json:"old_string" jsonschema:"the exact text to replace, including whitespace and indentation; it must occur exactly once unless replace_all is true"`
	// NewString is the text to put in its place.
	NewString string `json:"new_string" jsonschema:"the text to put in its place"`
	// ReplaceAll replaces every occurrence rather than exactly one.
	ReplaceAll bool `json:"replace_all,omitempty" jsonschema:"replace every occurrence instead of exactly one"`
}

func editFileTool() Tool {
	return Exclusive(newTypedTool("edit_file",
		"Replace text in an existing file of the workspace. old_string must match the file exactly, whitespace included, and occur exactly once; if it occurs several times, include more surrounding lines to make it unique, or set replace_all. Returns how many occurrences were replaced. To create a file, use write_file.",
		mustSchema[EditFileArgs](), editFile))
}

func editFile(ctx context.Context, env *Env, in EditFileArgs) (string, error) {
	if in.OldString == "" {
		return "", errors.New("old_string is empty; to create or rewrite a whole file, use write_file")
	}
	if in.OldString == in.NewString {
		return "", errors.New("old_string and new_string are the same; nothing to change")
	}
	if err := checkPath(in.Path); err != nil {
		return "", err
	}
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	f, err := sb.Open(ctx, in.Path)
	if err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(f, editMaxBytes+1))
	f.Close()
	if err != nil {
		return "", err
	}
	if len(data) > editMaxBytes {
		return "", fmt.Errorf("%s is larger than %d MB; edit it with run_command instead", in.Path, editMaxBytes>>20)
	}
	content := string(data)
	count := strings.Count(content, in.OldString)
	switch {
	case count == 0:
		return "", fmt.Errorf("old_string was not found in %s; read the file and copy the text exactly, whitespace included", in.Path)
	case count > 1 && !in.ReplaceAll:
		return "", fmt.Errorf("old_string occurs %d times in %s; include more surrounding lines to make it unique, or set replace_all", count, in.Path)
	}
	// The size of the result, known before it is made: count is at most
	// len(content), and len(content) at most editMaxBytes.
	if size := int64(len(content)) + int64(count)*(int64(len(in.NewString))-int64(len(in.OldString))); size > editMaxBytes {
		return "", fmt.Errorf("the edit would make %s %d bytes, more than %d MB; make it with run_command instead", in.Path, size, editMaxBytes>>20)
	}
	content = strings.ReplaceAll(content, in.OldString, in.NewString)
	if err := sb.WriteFiles(ctx, []File{{Path: in.Path, Data: []byte(content)}}); err != nil {
		return "", err
	}
	return fmt.Sprintf("Edited %s: replaced %d %s.", in.Path, count, plural(count, "occurrence", "occurrences")), nil
}

// checkPath refuses a path no file system has: one with a NUL byte.
func checkPath(p string) error {
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%w: the path %q has a NUL byte", fs.ErrInvalid, capText(p, 200))
	}
	return nil
}

func mustSchema[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(err)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
