package local

import (
	"context"
	"errors"
	"io/fs"

	"github.com/agentbox/agentbox"
)

// Isolation says how commands are kept from the host.
type Isolation string

// Isolation levels. See the package documentation for what each protects.
const (
	// Auto uses Bubblewrap when bwrap is installed and works, None otherwise.
	Auto Isolation = ""
	// Bubblewrap runs each command in a bubblewrap sandbox.
	Bubblewrap Isolation = "bubblewrap"
	// None runs commands directly on the host.
	None Isolation = "none"
)

// String returns "auto", "bubblewrap" or "none".
func (i Isolation) String() string {
	if i == Auto {
		return "auto"
	}
	return string(i)
}

// Config configures a local sandbox. The zero value is a temporary
// workspace, isolated with bubblewrap when it is available.
type Config struct {
	// Dir is the workspace folder. Empty means a new temporary folder,
	// removed on Close; a given folder is created when missing and kept.
	Dir string
	// Isolation is how commands are kept from the host.
	Isolation Isolation
	// NoNetwork cuts commands off the network, the host's loopback and Unix
	// sockets included (see the package documentation). It needs
	// bubblewrap: New fails when it cannot be honoured.
	NoNetwork bool
	// Hide lists folders and files that commands must not read, such as
	// "~/.ssh" or "~/.aws": each is replaced by an empty one. Absolute paths,
	// or paths under "~/"; those that do not exist are left out. It needs
	// bubblewrap: New fails when it cannot be honoured.
	Hide []string
	// Env holds variables added to every command's environment.
	Env map[string]string
	// Limits bound what each command may use: processes, file size,
	// memory, open files. The zero value sets safe defaults.
	Limits Limits
}

// ErrOutsideWorkspace means a path leads out of the workspace: it has "..",
// is absolute and outside, or goes through a symbolic link pointing out. It
// also matches [fs.ErrInvalid].
var ErrOutsideWorkspace error = outsideError{}

type outsideError struct{}

func (outsideError) Error() string { return "path is outside the workspace" }
func (outsideError) Unwrap() error { return fs.ErrInvalid }

// ErrNoBubblewrap means bubblewrap isolation was asked for but bwrap is not
// installed or cannot run here.
var ErrNoBubblewrap = errors.New("bubblewrap (bwrap) is not available")

// Opener returns an [agentbox.Opener] that makes a new sandbox with cfg for
// each run. Give each its own workspace (leave cfg.Dir empty) when runs may
// overlap.
func Opener(cfg Config) agentbox.Opener {
	return func(ctx context.Context) (agentbox.Sandbox, error) {
		sb, err := New(ctx, cfg)
		if err != nil {
			return nil, err // not a nil *Sandbox in a non-nil interface
		}
		return sb, nil
	}
}
