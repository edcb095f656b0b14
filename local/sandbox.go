package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/agentbox/agentbox"
)

// A Sandbox is a workspace folder on this machine. It is safe for concurrent
// use. Its zero value is not usable: make one with [New].
type Sandbox struct {
	dir         string   // the workspace: absolute, clean, symbolic links resolved
	given       string   // the workspace as given, absolute and clean
	state       string   // the sandbox's private folder: home/, tmp/ and, unless given, work/
	lock        *os.File // the state folder's lock file, locked while the sandbox lives (stale.go)
	home, tmp   string   // private HOME and TMPDIR, inside state
	root        *os.Root // the workspace, for file operations
	isolation   Isolation
	bwrap       string   // the bwrap program, with Bubblewrap isolation
	bwrapArgs   []string // its options, but for the working directory
	seccomp     []byte   // the seccomp filter of its commands, or nil
	limits      Limits
	limitScript string // what sets the limits of a command's processes
	noNetwork   bool
	env         []string // the environment every command starts from

	mu      sync.Mutex
	closed  bool
	closing chan struct{}      // closed by Close
	running map[*proc]struct{} // commands and background processes not yet ended
	bg      map[string]*proc   // background processes by ID, ended ones too
	lastID  int                // of the last background process
}

var (
	_ agentbox.Sandbox        = (*Sandbox)(nil)
	_ agentbox.ProcessStarter = (*Sandbox)(nil)
	_ agentbox.Previewer      = (*Sandbox)(nil)
	_ agentbox.Resumable      = (*Sandbox)(nil)
)

var (
	errClosed = fmt.Errorf("local: %w", agentbox.ErrClosed)
	errGone   = fmt.Errorf("local: the workspace folder was removed or replaced: %w", agentbox.ErrSandboxGone)
)

// New makes a sandbox with cfg. ctx bounds only the making. The first New
// of a program removes the folders that sandboxes of ended programs left
// behind (see [Clean]).
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cleanAtNew(ctx)
	isolation, bwrap, err := chooseIsolation(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := addEnv(nil, cfg.Env); err != nil {
		return nil, err
	}
	s := &Sandbox{
		isolation:   isolation,
		bwrap:       bwrap,
		noNetwork:   cfg.NoNetwork,
		limits:      cfg.Limits,
		limitScript: cfg.Limits.script(),
		closing:     make(chan struct{}),
		running:     make(map[*proc]struct{}),
		bg:          make(map[string]*proc),
	}
	if err := s.makeFolders(cfg.Dir); err != nil {
		s.removeFolders()
		return nil, err
	}
	s.env, _ = addEnv(baseEnv(s.home, s.tmp), cfg.Env)
	if isolation == Bubblewrap {
		m := bubblewrapMounts{
			empty:     filepath.Join(s.state, "empty"),
			writable:  []string{s.home, s.tmp, s.dir},
			noNetwork: cfg.NoNetwork,
		}
		if err := os.WriteFile(m.empty, nil, 0o444); err != nil {
			s.removeFolders()
			return nil, fmt.Errorf("local: %w", err)
		}
		if m.hidden, m.hiddenFiles, err = s.hide(cfg.Hide); err != nil {
			s.removeFolders()
			return nil, err
		}
		s.bwrapArgs = bubblewrapArgs(m)
		s.seccomp = seccompProgram(cfg.NoNetwork)
	}
	return s, nil
}

// makeFolders makes the private folders and opens the workspace.
func (s *Sandbox) makeFolders(dir string) error {
	state, err := os.MkdirTemp("", "agentbox-")
	if err != nil {
		return fmt.Errorf("local: making the sandbox's folder: %w", err)
	}
	s.state = state
	if s.lock, err = lockFolder(state); err != nil {
		return err
	}
	if state, err = filepath.EvalSymlinks(state); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	s.home = filepath.Join(state, "home")
	s.tmp = filepath.Join(state, "tmp")
	if dir == "" {
		dir = filepath.Join(state, "work")
	}
	if s.given, err = filepath.Abs(dir); err != nil {
		return fmt.Errorf("local: workspace %q: %w", dir, err)
	}
	for _, d := range []string{s.home, s.tmp, s.given} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("local: %w", err)
		}
	}
	if s.dir, err = filepath.EvalSymlinks(s.given); err != nil {
		return fmt.Errorf("local: workspace: %w", err)
	}
	if s.root, err = os.OpenRoot(s.dir); err != nil {
		return fmt.Errorf("local: workspace: %w", err)
	}
	return nil
}

// Backend names local sandboxes in an [agentbox.SandboxRef].
const Backend = "local"

// Ref returns the reference [Reconnector] reaches the sandbox's workspace
// with: its backend and the workspace folder as given. A workspace that New
// made is removed on Close; only a given one (Config.Dir) outlives the
// sandbox.
func (s *Sandbox) Ref() agentbox.SandboxRef {
	return agentbox.SandboxRef{Backend: Backend, ID: s.given}
}

// Reconnector returns an [agentbox.Reconnector] opening a sandbox with cfg on
// the workspace folder of a "local" reference. A folder that no longer
// exists is an error matching [agentbox.ErrSandboxGone].
func Reconnector(cfg Config) agentbox.Reconnector {
	return func(ctx context.Context, ref agentbox.SandboxRef) (agentbox.Sandbox, error) {
		if ref.Backend != Backend {
			return nil, fmt.Errorf("local: cannot reach a %q sandbox", ref.Backend)
		}
		if !filepath.IsAbs(ref.ID) {
			return nil, fmt.Errorf("local: workspace %q is not an absolute path", ref.ID)
		}
		if fi, err := os.Stat(ref.ID); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("local: workspace %s: %w", ref.ID, agentbox.ErrSandboxGone)
		}
		cfg.Dir = ref.ID
		sb, err := New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return sb, nil
	}
}

// Dir returns the workspace folder, with symbolic links resolved.
func (s *Sandbox) Dir() string { return s.dir }

// Isolation returns the isolation in effect: [Bubblewrap] or [None].
func (s *Sandbox) Isolation() Isolation { return s.isolation }

// String describes the sandbox, e.g. "local sandbox /tmp/agentbox-1/work
// (bubblewrap)".
func (s *Sandbox) String() string {
	network := ""
	if s.noNetwork {
		network = ", no network"
	}
	return fmt.Sprintf("local sandbox %s (%s%s)", s.dir, s.isolation, network)
}

// Close kills every command and background process of the sandbox, waits for
// them to end, and removes the sandbox's private folders and, when New made
// it, the workspace. A given workspace is kept.
//
// When ctx is done before the processes have ended, Close returns an error
// wrapping ctx's, and leaves the folders; the processes are killed all the
// same, in the background. Calling Close again finishes what an earlier call
// could not, and returns nil when all is done.
func (s *Sandbox) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
		s.root.Close()
	}
	var procs []*proc
	for p := range s.running {
		procs = append(procs, p)
	}
	s.mu.Unlock()

	for _, p := range procs {
		p.kill(errClosed)
	}
	for i, p := range procs {
		select {
		case <-p.done:
			continue
		default:
		}
		select {
		case <-p.done:
		case <-ctx.Done():
			left := 0
			for _, p := range procs[i:] {
				select {
				case <-p.done:
				default:
					left++
				}
			}
			return fmt.Errorf("local: closing: %d of %d processes still ending: %w", left, len(procs), ctx.Err())
		}
	}
	if err := s.removeFolders(); err != nil {
		return fmt.Errorf("local: closing: %w", err)
	}
	return nil
}

// removeFolders removes the sandbox's private folders, the workspace too
// when New made it.
func (s *Sandbox) removeFolders() error {
	if s.state == "" {
		return nil
	}
	// The folder goes while it is locked, its lock file with it; only then
	// is the lock let go.
	if err := removeAll(s.state); err != nil {
		return err
	}
	s.mu.Lock()
	lock := s.lock
	s.lock = nil
	s.mu.Unlock()
	if lock != nil {
		lock.Close()
	}
	return nil
}

// check returns an error when s is closed, its workspace is gone, or ctx is
// done.
func (s *Sandbox) check(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errClosed
	}
	if !s.workspaceThere() {
		return errGone
	}
	return ctx.Err()
}

// workspaceThere reports whether the workspace folder is still the one the
// sandbox opened: a command may have removed or replaced it.
func (s *Sandbox) workspaceThere() bool {
	opened, err := s.root.Stat(".")
	if err != nil {
		return false
	}
	now, err := os.Stat(s.dir)
	return err == nil && os.SameFile(opened, now)
}

// removeAll removes dir and what it holds, also folders a command made
// read-only.
func removeAll(dir string) error {
	if os.RemoveAll(dir) == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
