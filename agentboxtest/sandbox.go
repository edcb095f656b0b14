package agentboxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentbox/agentbox"
)

// A Sandbox is an in-memory [agentbox.Sandbox], [agentbox.ProcessStarter] and
// [agentbox.Previewer].
//
// Its workspace is a map from paths to file contents. Paths are
// slash-separated and cleaned; a leading "/" means the workspace root, so
// "/a/b" and "a/b" are the same file, and "", "." and "/" are the root. A
// path that leads out of the workspace, such as "../x", is refused with an
// [*fs.PathError] wrapping [fs.ErrInvalid]. Directories are implicit: they
// are the prefixes of the paths of files, so a directory exists while it
// holds a file.
//
// Commands, run with Run or StartProcess, are answered by Handler. Run gives
// the handler a context that is done when cmd.Timeout passes, when the
// caller's context is done, or when the sandbox closes; whatever the handler
// returns then, Run reports the command as killed (ExitCode -1) with an error
// matching [agentbox.ErrTimeout], the caller's ctx.Err() or
// [agentbox.ErrClosed]. Nil writers are replaced by [io.Discard], and when
// Stdout and Stderr are the same writer, writes to it are serialised.
//
// The zero value is an empty sandbox ready to use. A Sandbox is safe for
// concurrent use.
type Sandbox struct {
	// Handler answers the commands of Run and StartProcess; nil means
	// [Shell]. Set it before first use.
	Handler func(ctx context.Context, sb *Sandbox, cmd agentbox.Command) (agentbox.Result, error)

	mu      sync.Mutex
	files   map[string][]byte // by clean path
	closed  bool
	closes  int
	life    context.Context // done when the sandbox closes
	kill    context.CancelFunc
	procs   map[string]*process
	nprocs  int
	ports   map[int]string
	changed chan struct{} // closed when a port starts listening or the sandbox closes
	wg      sync.WaitGroup

	deadline     time.Time // when the lifetime runs out; zero for never
	lifetimeSets int
}

var (
	_ agentbox.Sandbox        = (*Sandbox)(nil)
	_ agentbox.ProcessStarter = (*Sandbox)(nil)
	_ agentbox.Previewer      = (*Sandbox)(nil)
)

var (
	errClosed  = fmt.Errorf("agentboxtest: %w", agentbox.ErrClosed)
	errOutside = outsideError{}
	errIsDir   = errors.New("is a directory")
	errNotDir  = errors.New("not a directory")
)

// outsideError says that a path leads out of the workspace.
type outsideError struct{}

func (outsideError) Error() string { return "path is outside the workspace" }
func (outsideError) Unwrap() error { return fs.ErrInvalid }

// NewSandbox returns an empty sandbox.
func NewSandbox() *Sandbox {
	s := new(Sandbox)
	s.lock()
	s.mu.Unlock()
	return s
}

// lock locks s, making its maps on first use.
func (s *Sandbox) lock() {
	s.mu.Lock()
	if s.files == nil {
		s.files = map[string][]byte{}
		s.life, s.kill = context.WithCancel(context.Background())
		s.procs = map[string]*process{}
		s.ports = map[int]string{}
		s.changed = make(chan struct{})
	}
}

// clean returns the key of path p, or an error for op when p leads out of
// the workspace.
func clean(op, p string) (string, error) {
	c := path.Clean(strings.TrimLeft(p, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", &fs.PathError{Op: op, Path: p, Err: errOutside}
	}
	return c, nil
}

// isDir reports whether the clean path c is a directory of files.
func isDir(files map[string][]byte, c string) bool {
	if c == "." {
		return true
	}
	for name := range files {
		if strings.HasPrefix(name, c+"/") {
			return true
		}
	}
	return false
}

// put sets the file p of files to a copy of data, unless p is a directory or
// lies under a file.
func put(files map[string][]byte, p string, data []byte) error {
	c, err := clean("write", p)
	if err != nil {
		return err
	}
	if isDir(files, c) {
		return &fs.PathError{Op: "write", Path: p, Err: errIsDir}
	}
	// The parents of c are its prefixes up to a slash: found without
	// making each, so that a path thousands of folders deep costs little.
	for i := strings.LastIndexByte(c, '/'); i > 0; i = strings.LastIndexByte(c[:i], '/') {
		if _, ok := files[c[:i]]; ok {
			return &fs.PathError{Op: "write", Path: p, Err: errNotDir}
		}
	}
	files[c] = append([]byte{}, data...)
	return nil
}

// write writes files, all or none. s.mu must be held.
func (s *Sandbox) write(files []agentbox.File) error {
	next := maps.Clone(s.files)
	for _, f := range files {
		if err := put(next, f.Path, f.Data); err != nil {
			return err
		}
	}
	s.files = next
	return nil
}

// SetFile sets the file at path p to data, also after Close. It panics if p
// leads out of the workspace, is a directory or lies under a file.
func (s *Sandbox) SetFile(p string, data []byte) {
	s.lock()
	defer s.mu.Unlock()
	if err := s.write([]agentbox.File{{Path: p, Data: data}}); err != nil {
		panic("agentboxtest: SetFile: " + err.Error())
	}
}

// File returns a copy of the file at path p, and whether there is one.
func (s *Sandbox) File(p string) ([]byte, bool) {
	s.lock()
	defer s.mu.Unlock()
	c, err := clean("open", p)
	data, ok := s.files[c]
	if err != nil || !ok {
		return nil, false
	}
	return append([]byte{}, data...), true
}

// Files returns a copy of all the files, keyed by clean path ("a/b", never
// "/a/b").
func (s *Sandbox) Files() map[string][]byte {
	s.lock()
	defer s.mu.Unlock()
	files := make(map[string][]byte, len(s.files))
	for name, data := range s.files {
		files[name] = append([]byte{}, data...)
	}
	return files
}

// Listen marks port as listening: from then on, PreviewURL(port) returns url.
// A handler may call it to pretend that a server started.
func (s *Sandbox) Listen(port int, url string) {
	s.lock()
	defer s.mu.Unlock()
	s.ports[port] = url
	close(s.changed)
	s.changed = make(chan struct{})
}

// Closes returns how many times Close was called.
func (s *Sandbox) Closes() int {
	s.lock()
	defer s.mu.Unlock()
	return s.closes
}

// Running returns the number of background processes still running.
func (s *Sandbox) Running() int {
	s.lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.procs {
		select {
		case <-p.done:
		default:
			n++
		}
	}
	return n
}

// check returns an error when s is closed or expired, or ctx is done. s.mu
// must be held.
func (s *Sandbox) check(ctx context.Context) error {
	switch {
	case s.closed:
		return errClosed
	case s.expired():
		return errExpired
	}
	return ctx.Err()
}

// WriteFiles writes files, all or none: if a path leads out of the
// workspace, is a directory or lies under a file, nothing is written.
func (s *Sandbox) WriteFiles(ctx context.Context, files []agentbox.File) error {
	s.lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.write(files)
}

// Open returns a reader of a copy of the file at path p.
func (s *Sandbox) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	s.lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	data, err := s.read("open", p)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// read returns a copy of the file at p. s.mu must be held.
func (s *Sandbox) read(op, p string) ([]byte, error) {
	c, err := clean(op, p)
	if err != nil {
		return nil, err
	}
	if data, ok := s.files[c]; ok {
		return append([]byte{}, data...), nil
	}
	if isDir(s.files, c) {
		return nil, &fs.PathError{Op: op, Path: p, Err: errIsDir}
	}
	return nil, &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist}
}

// List lists the directory dir. The root of an empty sandbox is an empty
// directory.
func (s *Sandbox) List(ctx context.Context, dir string) ([]agentbox.FileInfo, error) {
	s.lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s.list(dir)
}

// list lists the directory dir. s.mu must be held.
func (s *Sandbox) list(dir string) ([]agentbox.FileInfo, error) {
	c, err := clean("list", dir)
	if err != nil {
		return nil, err
	}
	if _, ok := s.files[c]; ok {
		return nil, &fs.PathError{Op: "list", Path: dir, Err: errNotDir}
	}
	prefix := c + "/"
	if c == "." {
		prefix = ""
	}
	seen := map[string]bool{}
	infos := []agentbox.FileInfo{}
	for name, data := range s.files {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		base, _, sub := strings.Cut(rest, "/")
		if seen[base] {
			continue
		}
		seen[base] = true
		info := agentbox.FileInfo{Name: base, Path: path.Join(dir, base), IsDir: sub}
		if !sub {
			info.Size = int64(len(data))
		}
		infos = append(infos, info)
	}
	if len(infos) == 0 && c != "." {
		return nil, &fs.PathError{Op: "list", Path: dir, Err: fs.ErrNotExist}
	}
	slices.SortFunc(infos, func(a, b agentbox.FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
}

// handler returns the handler of commands.
func (s *Sandbox) handler() func(context.Context, *Sandbox, agentbox.Command) (agentbox.Result, error) {
	if s.Handler != nil {
		return s.Handler
	}
	return Shell
}

// Run runs cmd with the handler and waits for it to return.
func (s *Sandbox) Run(ctx context.Context, cmd agentbox.Command) (agentbox.Result, error) {
	killed := agentbox.Result{ExitCode: -1}
	s.lock()
	err := s.check(ctx)
	life := s.life
	s.mu.Unlock()
	if err != nil {
		return killed, err
	}
	if _, err := clean("run", cmd.Dir); err != nil {
		return killed, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(life, func() { cancel(errClosed) })()
	var timeout error
	if cmd.Timeout > 0 {
		timeout = fmt.Errorf("%w after %s", agentbox.ErrTimeout, cmd.Timeout)
		var stop context.CancelFunc
		rctx, stop = context.WithTimeoutCause(rctx, cmd.Timeout, timeout)
		defer stop()
	}
	res, err := s.handler()(rctx, s, prepare(cmd))
	switch {
	case ctx.Err() != nil:
		return killed, ctx.Err()
	case rctx.Err() == nil:
		return res, err
	default:
		return killed, context.Cause(rctx)
	}
}

// prepare replaces the nil writers of cmd with io.Discard and serialises
// writes to a writer that is both Stdout and Stderr.
func prepare(cmd agentbox.Command) agentbox.Command {
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	t := reflect.TypeOf(cmd.Stdout)
	if t == reflect.TypeOf(cmd.Stderr) && t.Comparable() && cmd.Stdout == cmd.Stderr {
		w := &lockedWriter{w: cmd.Stdout}
		cmd.Stdout, cmd.Stderr = w, w
	}
	return cmd
}

// A lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// A process is a command started by StartProcess.
type process struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{} // closed when the handler has returned
	res    agentbox.Result
	err    error
}

func (p *process) ID() string { return p.id }

// Wait returns what the handler returned, or ExitCode -1 and no error when
// the process was stopped.
func (p *process) Wait(ctx context.Context) (agentbox.Result, error) {
	select {
	case <-p.done:
		return p.res, p.err
	default:
	}
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return agentbox.Result{ExitCode: -1}, ctx.Err()
	}
}

// StartProcess runs cmd with the handler in a goroutine, with a context that
// StopProcess and Close cancel. Processes are numbered "p1", "p2", ...
func (s *Sandbox) StartProcess(ctx context.Context, cmd agentbox.Command) (agentbox.Process, error) {
	s.lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if _, err := clean("start", cmd.Dir); err != nil {
		return nil, err
	}
	s.nprocs++
	pctx, cancel := context.WithCancel(s.life)
	p := &process{id: fmt.Sprintf("p%d", s.nprocs), cancel: cancel, done: make(chan struct{})}
	s.procs[p.id] = p
	h, cmd := s.handler(), prepare(cmd)
	s.wg.Go(func() {
		defer cancel()
		res, err := h(pctx, s, cmd)
		if pctx.Err() != nil {
			res, err = agentbox.Result{ExitCode: -1}, nil
		}
		p.res, p.err = res, err
		close(p.done)
	})
	return p, nil
}

// StopProcess cancels the context of the process with the given ID and waits
// until its handler returns or ctx is done.
func (s *Sandbox) StopProcess(ctx context.Context, id string) error {
	s.lock()
	err := s.check(ctx)
	p := s.procs[id]
	s.mu.Unlock()
	switch {
	case err != nil:
		return err
	case p == nil:
		return fmt.Errorf("agentboxtest: no process %q: %w", id, fs.ErrNotExist)
	}
	p.cancel()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PreviewURL waits until port is listening (see Listen) and returns its URL.
func (s *Sandbox) PreviewURL(ctx context.Context, port int) (string, error) {
	for {
		s.lock()
		url, ok := s.ports[port]
		closed, changed := s.closed, s.changed
		s.mu.Unlock()
		switch {
		case closed:
			return "", errClosed
		case ok:
			return url, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("port %d is not listening: %w", port, ctx.Err())
		}
	}
}

// Close cancels the contexts of running commands and processes, and waits for
// the handlers of processes to return. Calling it again returns nil.
func (s *Sandbox) Close(ctx context.Context) error {
	s.lock()
	s.closes++
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.kill()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("agentboxtest: close: commands still running: %w", ctx.Err())
	}
}

// appendFile appends data to the file at p, after emptying it when truncate
// is set, creating it if need be.
func (s *Sandbox) appendFile(p string, data []byte, truncate bool) error {
	s.lock()
	defer s.mu.Unlock()
	c, err := clean("write", p)
	if err != nil {
		return err
	}
	old := s.files[c]
	if truncate {
		old = nil
	}
	return put(s.files, p, append(old[:len(old):len(old)], data...))
}

// remove removes the file at p, or when recursive is set the directory at p
// and all it holds.
func (s *Sandbox) remove(p string, recursive bool) error {
	s.lock()
	defer s.mu.Unlock()
	c, err := clean("remove", p)
	if err != nil {
		return err
	}
	if _, ok := s.files[c]; ok {
		delete(s.files, c)
		return nil
	}
	if !isDir(s.files, c) {
		return &fs.PathError{Op: "remove", Path: p, Err: fs.ErrNotExist}
	}
	if !recursive || c == "." {
		return &fs.PathError{Op: "remove", Path: p, Err: errIsDir}
	}
	maps.DeleteFunc(s.files, func(name string, _ []byte) bool { return strings.HasPrefix(name, c+"/") })
	return nil
}

// stat reports whether p is a file and whether it is a directory.
func (s *Sandbox) stat(p string) (file, dir bool, err error) {
	s.lock()
	defer s.mu.Unlock()
	c, err := clean("stat", p)
	if err != nil {
		return false, false, err
	}
	_, file = s.files[c]
	return file, isDir(s.files, c), nil
}
