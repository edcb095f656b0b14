package local

import (
	"errors"
	"fmt"
	"strings"
)

// Limits bound what the commands of a sandbox may use. Each field's zero
// value means its default; a negative value means no limit of that kind.
// Past a limit a process's system calls fail (or, for FileSize, it gets
// SIGXFSZ, which ends it), as for any Linux resource limit, except
// Processes, which kills the whole command.
type Limits struct {
	// Processes is the most processes that one command, with everything
	// it started, may have at once; a command that goes past it, such as a
	// fork bomb, is killed, with an error matching [ErrLimit]. It is
	// checked, every few milliseconds, only with [Bubblewrap] isolation,
	// where a command's processes are those of its own PID namespace.
	// 0 means 1024.
	Processes int
	// FileSize is the largest file, in bytes, that a process may write
	// (RLIMIT_FSIZE). 0 means 1 GiB.
	FileSize int64
	// Memory is the most memory, in bytes, that each process may take for
	// its data: its heap and other private writable mappings (RLIMIT_DATA).
	// 0 means 8 GiB.
	Memory int64
	// OpenFiles is the most files each process may have open at once
	// (RLIMIT_NOFILE). 0 means 65,536.
	OpenFiles int
}

// Defaults of Limits.
const (
	defaultProcesses = 1024
	defaultFileSize  = 1 << 30
	defaultMemory    = 8 << 30
	defaultOpenFiles = 1 << 16
)

// ErrLimit means a command was killed for going past one of its [Limits].
var ErrLimit = errors.New("resource limit reached")

// processes returns the process limit, 0 for none.
func (l Limits) processes() int {
	return limitOr(l.Processes, defaultProcesses)
}

// limitOr returns v, or def when v is 0, or 0 when v is negative.
func limitOr[T int | int64](v, def T) T {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

// script returns the shell commands that set the limits of a command's
// first shell, inherited by all it starts: hard and soft limits alike, so
// that the command cannot raise them, each no higher than the program's own
// hard limit. Core dumps are turned off.
func (l Limits) script() string {
	var b strings.Builder
	b.WriteString("ulimit -H -S -c 0")
	for _, r := range []struct {
		flag  string
		value int64
		unit  int64
		which int
	}{
		{"f", limitOr(l.FileSize, defaultFileSize), 1024, rlimitFsize},
		{"d", limitOr(l.Memory, defaultMemory), 1024, rlimitData},
		{"n", int64(limitOr(l.OpenFiles, defaultOpenFiles)), 1, rlimitNofile},
	} {
		if r.value == 0 {
			continue
		}
		v := r.value
		if hard, ok := hardLimit(r.which); ok && hard < v {
			v = hard
		}
		fmt.Fprintf(&b, " -%s %d", r.flag, max(v/r.unit, 1))
	}
	b.WriteString("; ")
	return b.String()
}
