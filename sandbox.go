package agentbox

import (
	"context"
	"errors"
	"io"
	"time"
)

// A Sandbox is where tools run: a cloud VM, a local workspace, or a fake.
//
// Paths are slash-separated. Relative paths resolve against the sandbox's
// working directory (its workspace); implementations may refuse paths outside
// it. A missing file or directory is reported with an error matching
// [fs.ErrNotExist]; a sandbox that died or was deleted under the caller with
// one matching [ErrSandboxGone]; use after Close with one matching [ErrClosed].
//
// Abilities beyond these come as optional interfaces: [ProcessStarter] for
// background processes, [Previewer] for URLs of listening ports,
// [LifetimeSetter] for sandboxes that expire, [Pauser] for those that can
// pause while idle, [Resumable] for those another process can reach again.
//
// Implementations must be safe for concurrent use: the agent runs the
// independent tool calls of a step at once.
type Sandbox interface {
	// Run runs a shell command and waits for it to exit. Its output is
	// written to cmd.Stdout and cmd.Stderr as it is produced. A command that
	// exits non-zero is not an error: the exit code is in the Result. When
	// cmd.Timeout passes, the command is killed and the error matches
	// [ErrTimeout]; when ctx is done, the command is killed and the error
	// matches ctx.Err().
	Run(ctx context.Context, cmd Command) (Result, error)
	// WriteFiles writes whole files, creating parent directories and
	// replacing existing files.
	WriteFiles(ctx context.Context, files []File) error
	// Open opens a file for reading. The caller closes it.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// List lists the entries of a directory, sorted by name.
	List(ctx context.Context, dir string) ([]FileInfo, error)
	// Close releases the sandbox and kills whatever runs in it. Calling
	// Close again returns nil.
	Close(ctx context.Context) error
}

// A Command is a shell command to run in a sandbox.
type Command struct {
	// Cmd is the command line, run by a shell (bash -l -c where there is
	// bash).
	Cmd string
	// Dir is the working directory; empty means the workspace.
	Dir string
	// Env holds variables added to the command's environment.
	Env map[string]string
	// Stdout and Stderr receive the output as it is written; nil discards
	// it. When both are the same writer, writes to it are serialised.
	Stdout, Stderr io.Writer
	// Timeout, when positive, kills the command after that long.
	Timeout time.Duration
}

// A Result is how a command ended.
type Result struct {
	// ExitCode is the command's exit status; -1 when it was killed.
	ExitCode int
}

// A File is a whole file to write.
type File struct {
	Path string
	Data []byte
}

// FileInfo describes a directory entry.
type FileInfo struct {
	Name  string `json:"name"`
	Path  string `json:"path"` // the directory given to List joined with Name
	IsDir bool   `json:"is_dir"`
	Size  int64  `json:"size"`
}

// A ProcessStarter is a [Sandbox] that can run processes in the background,
// such as a dev server. Processes end when stopped or when the sandbox closes.
type ProcessStarter interface {
	// StartProcess starts cmd and returns at once. cmd.Timeout is ignored.
	// cmd.Stdout and cmd.Stderr receive output for the process's whole life,
	// from other goroutines, after StartProcess has returned. ctx bounds only
	// the start.
	StartProcess(ctx context.Context, cmd Command) (Process, error)
	// StopProcess kills the process with the given ID and everything it
	// started. Stopping a process that has exited returns nil; an unknown ID
	// is an error matching [fs.ErrNotExist].
	StopProcess(ctx context.Context, id string) error
}

// A Process is a background process started by a [ProcessStarter].
type Process interface {
	// ID identifies the process to StopProcess, also in another run.
	ID() string
	// Wait waits until the process exits or ctx is done. A process that
	// was stopped, or ended with the sandbox, has exited: its Result has the
	// exit code it ended with (-1 when killed) and the error is nil. The
	// error says why the process could not be waited for: ctx.Err(), or a
	// failure to start or to watch it.
	Wait(ctx context.Context) (Result, error)
}

// A Previewer is a [Sandbox] whose ports can be reached from outside it.
type Previewer interface {
	// PreviewURL waits until something listens on port inside the sandbox
	// and returns the URL that reaches it, e.g. "http://127.0.0.1:5173". It
	// gives up when ctx is done.
	PreviewURL(ctx context.Context, port int) (string, error)
}

// A LifetimeSetter is a [Sandbox] that ends by itself when its lifetime
// runs out, as cloud sandboxes do. A [Session] keeps it alive while in use.
type LifetimeSetter interface {
	// SetLifetime makes the sandbox live d from now.
	SetLifetime(ctx context.Context, d time.Duration) error
}

// A Pauser is a [Sandbox] that can be paused while idle, as E2B's can: a
// paused sandbox costs (next to) nothing, and resumes with its files as
// they were (and, where the implementation says so, its processes and
// memory). A [Session] pauses its sandbox when it idles and resumes it at
// its next turn.
type Pauser interface {
	// Pause pauses the sandbox. Pausing a paused sandbox returns nil; an
	// error matching [ErrNotSupported] means this one cannot pause.
	// Implementations document what using a paused sandbox does: resume it,
	// or fail saying it is paused.
	Pause(ctx context.Context) error
	// Resume resumes a paused sandbox, or does nothing to a running one. A
	// sandbox that no longer exists is an error matching [ErrSandboxGone].
	Resume(ctx context.Context) error
}

// A Resumable is a [Sandbox] that another process can reach again, with a
// [Reconnector], from its [SandboxRef].
type Resumable interface {
	Ref() SandboxRef
}

// A SandboxRef says how to reach a sandbox again: its backend and, for that
// backend, which one.
type SandboxRef struct {
	// Backend names the implementation, such as "e2b" or "local". (Its JSON
	// name, "kind", is kept so that saved states still resume.)
	Backend string `json:"kind"`
	// ID finds the sandbox among those of its backend: an E2B sandbox ID, a
	// local workspace folder.
	ID string `json:"id"`
}

// An Opener opens a sandbox for a run, which closes it when it ends.
type Opener func(ctx context.Context) (Sandbox, error)

// A Reconnector reaches a sandbox again from its reference, e.g. in another
// process. The error matches [ErrSandboxGone] when the sandbox no longer
// exists.
type Reconnector func(ctx context.Context, ref SandboxRef) (Sandbox, error)

// Errors that sandboxes report.
var (
	// ErrSandboxGone means the sandbox died or was deleted: nothing more can
	// run in it.
	ErrSandboxGone = errors.New("sandbox is gone")
	// ErrClosed means the sandbox was used after Close.
	ErrClosed = errors.New("sandbox is closed")
	// ErrTimeout means a command ran past its Timeout and was killed.
	ErrTimeout = errors.New("command timed out")
	// ErrNotSupported means the sandbox lacks an optional ability.
	ErrNotSupported = errors.New("not supported by this sandbox")
	// ErrNoSandbox means a tool needed a sandbox and the agent has none.
	ErrNoSandbox = errors.New("no sandbox configured")
)

// ReadFile reads a whole file from the sandbox.
func ReadFile(ctx context.Context, sb Sandbox, path string) ([]byte, error) {
	f, err := sb.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
