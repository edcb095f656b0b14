package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// chooseIsolation returns the isolation cfg asks for, and the bwrap program
// when that is Bubblewrap.
func chooseIsolation(ctx context.Context, cfg Config) (Isolation, string, error) {
	switch cfg.Isolation {
	case None:
		if cfg.NoNetwork {
			return "", "", errors.New("local: NoNetwork needs Bubblewrap isolation; Isolation None cannot cut the network")
		}
		if len(cfg.Hide) > 0 {
			return "", "", errors.New("local: Hide needs Bubblewrap isolation; Isolation None cannot hide files")
		}
		return None, "", nil
	case Bubblewrap:
		bwrap, err := findBubblewrap(ctx)
		if err != nil {
			return "", "", fmt.Errorf("local: Isolation Bubblewrap: %w (install it, e.g. apt-get install bubblewrap, or choose Isolation None)", err)
		}
		return Bubblewrap, bwrap, nil
	case Auto:
		bwrap, err := findBubblewrap(ctx)
		if err == nil {
			return Bubblewrap, bwrap, nil
		}
		if cfg.NoNetwork || len(cfg.Hide) > 0 {
			return "", "", fmt.Errorf("local: NoNetwork and Hide need bubblewrap: %w (install it, e.g. apt-get install bubblewrap)", err)
		}
		return None, "", nil
	default:
		return "", "", fmt.Errorf("local: unknown Isolation %q: want %q, %q or %q", string(cfg.Isolation), "", Bubblewrap, None)
	}
}

// probes holds, by bwrap program path, the outcome of running it once.
var probes sync.Map // string → *probe

type probe struct {
	once sync.Once
	err  error
}

// findBubblewrap returns the path of a bwrap program that works here: on
// some machines (containers without user namespaces) it is installed but
// cannot make a sandbox.
func findBubblewrap(ctx context.Context) (string, error) {
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoBubblewrap, err)
	}
	v, _ := probes.LoadOrStore(bwrap, new(probe))
	p := v.(*probe)
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		args := append(bubblewrapArgs(bubblewrapMounts{}), "--", "true")
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bwrap, args...)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			p.err = fmt.Errorf("%w: %s cannot make a sandbox here: %v: %s", ErrNoBubblewrap, bwrap, err, strings.TrimSpace(stderr.String()))
		}
	})
	if p.err != nil {
		return "", p.err
	}
	return bwrap, nil
}

// bubblewrapMounts are what a sandbox's commands see differently from the
// host.
type bubblewrapMounts struct {
	tmp       string   // mounted on /tmp; empty: a tmpfs
	hidden    []string // folders replaced by empty ones
	hiddenF   []string // files replaced by empty ones
	writable  []string // folders mounted writable, at their own paths
	noNetwork bool
}

// bubblewrapArgs returns bwrap's options for the commands of a sandbox: the
// system read-only, some of it hidden, the given folders writable, /tmp
// private, new PID, IPC and UTS namespaces, no capabilities, a new session,
// death with the parent.
func bubblewrapArgs(m bubblewrapMounts) []string {
	args := []string{
		"--ro-bind", "/", "/",
		"--dev", "/dev",
		"--proc", "/proc",
	}
	for _, h := range m.hidden {
		args = append(args, "--tmpfs", h)
	}
	for _, h := range m.hiddenF {
		args = append(args, "--ro-bind", "/dev/null", h)
	}
	if m.tmp != "" {
		args = append(args, "--bind", m.tmp, "/tmp")
	} else {
		args = append(args, "--tmpfs", "/tmp")
	}
	for _, w := range m.writable {
		args = append(args, "--bind", w, w)
	}
	args = append(args,
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--hostname", "agentbox",
		"--cap-drop", "ALL",
		"--new-session", "--die-with-parent",
	)
	if m.noNetwork {
		args = append(args, "--unshare-net")
	}
	return args
}

// hide sorts the paths of cfg.Hide into folders and files, leaving out those
// that do not exist. "~/" at the start of a path is the user's home folder.
func hide(paths []string) (dirs, files []string, err error) {
	for _, p := range paths {
		if rest, ok := strings.CutPrefix(p, "~/"); ok {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, nil, fmt.Errorf("local: Hide %q: %w", p, err)
			}
			p = filepath.Join(home, rest)
		}
		if !filepath.IsAbs(p) {
			return nil, nil, fmt.Errorf("local: Hide %q: not an absolute path", p)
		}
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, nil, fmt.Errorf("local: Hide: %w", err)
		case fi.IsDir():
			dirs = append(dirs, filepath.Clean(p))
		default:
			files = append(files, filepath.Clean(p))
		}
	}
	return dirs, files, nil
}

// bubblewrapInfo reads what bwrap tells of the sandbox it made (--info-fd).
type bubblewrapInfo struct {
	r, w *os.File
}

// newBubblewrapInfo gives c, a bwrap command, a pipe as its file 3.
func newBubblewrapInfo(c *exec.Cmd) (*bubblewrapInfo, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.ExtraFiles = []*os.File{w}
	return &bubblewrapInfo{r, w}, nil
}

// childPID returns the PID of the sandbox's first process, once bwrap has
// made it, or 0 when bwrap says nothing (it failed) within a few seconds.
func (i *bubblewrapInfo) childPID() int {
	if i == nil {
		return 0
	}
	i.w.Close()
	defer i.r.Close()
	i.r.SetReadDeadline(time.Now().Add(5 * time.Second))
	var info struct {
		ChildPID int `json:"child-pid"`
	}
	if json.NewDecoder(i.r).Decode(&info) != nil {
		return 0
	}
	return info.ChildPID
}

// close closes the pipe of a command that did not start.
func (i *bubblewrapInfo) close() {
	if i != nil {
		i.r.Close()
		i.w.Close()
	}
}
