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
	"slices"
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
		if !errors.Is(err, ErrNoBubblewrap) {
			return "", "", err
		}
		if cfg.NoNetwork || len(cfg.Hide) > 0 {
			return "", "", fmt.Errorf("local: NoNetwork and Hide need bubblewrap: %w (install it, e.g. apt-get install bubblewrap)", err)
		}
		return None, "", nil
	default:
		return "", "", fmt.Errorf("local: unknown Isolation %q: want %q, %q or %q", string(cfg.Isolation), "", Bubblewrap, None)
	}
}

// working holds the bwrap programs that were seen to work.
var working sync.Map // string → bool

// findBubblewrap returns the path of a bwrap program that works here: on
// some machines (containers without user namespaces) it is installed but
// cannot make a sandbox. A failure is not remembered: the next sandbox tries
// again.
func findBubblewrap(ctx context.Context) (string, error) {
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoBubblewrap, err)
	}
	if _, ok := working.Load(bwrap); ok {
		return bwrap, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := append(bubblewrapArgs(bubblewrapMounts{}), "--", "true")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bwrap, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("local: trying bubblewrap: %w", ctx.Err())
		}
		return "", fmt.Errorf("%w: %s cannot make a sandbox here: %v: %s", ErrNoBubblewrap, bwrap, err, strings.TrimSpace(stderr.String()))
	}
	working.Store(bwrap, true)
	return bwrap, nil
}

// bubblewrapMounts are what a sandbox's commands see differently from the
// host.
type bubblewrapMounts struct {
	hidden      []string // folders replaced by empty ones
	hiddenFiles []string // files replaced by empty
	empty       string   // an empty file
	writable    []string // folders mounted writable, at their own paths
	noNetwork   bool
}

// bubblewrapArgs returns bwrap's options for the commands of a sandbox: the
// system read-only, some of it hidden, an empty /tmp, the given folders
// writable, new PID, IPC and UTS namespaces, no capabilities, a new session,
// death with the parent.
//
// Each command gets a new /tmp, so that the folders mounted in it (the
// sandbox's own folders are in the host's /tmp) are made afresh by bwrap, out
// of the reach of earlier commands.
func bubblewrapArgs(m bubblewrapMounts) []string {
	args := []string{
		"--ro-bind", "/", "/",
		"--dev", "/dev",
		"--proc", "/proc",
	}
	for _, h := range m.hidden {
		args = append(args, "--tmpfs", h)
	}
	for _, h := range m.hiddenFiles {
		args = append(args, "--ro-bind", m.empty, h)
	}
	args = append(args, "--tmpfs", "/tmp")
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

// rootSockets are sockets of daemons that run what they are asked as root:
// bubblewrapped commands never see them.
var rootSockets = []string{
	"/run/docker.sock", "/var/run/docker.sock",
	"/run/containerd/containerd.sock",
	"/run/podman/podman.sock",
}

// hide sorts the paths to hide (cfg.Hide and rootSockets) into folders and
// files, with symbolic links resolved, leaving out those that do not exist.
// "~/" at the start of a path is the user's home folder.
func (s *Sandbox) hide(paths []string) (dirs, files []string, err error) {
	for i, p := range append(slices.Clip(paths), rootSockets...) {
		given := i < len(paths)
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
		real, err := filepath.EvalSymlinks(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("local: Hide: %w", err)
		}
		for _, own := range []string{s.dir, s.home, s.tmp} {
			if given && within(real, own) {
				return nil, nil, fmt.Errorf("local: Hide %q: it is inside the sandbox's own folder %s", p, own)
			}
		}
		fi, err := os.Stat(real)
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("local: Hide: %w", err)
		case fi.IsDir():
			dirs = append(dirs, real)
		default:
			files = append(files, real)
		}
	}
	return dirs, files, nil
}

// within reports whether the clean path p is dir or inside it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// bubblewrapStart learns from bwrap and from the command's first words how
// the start of a command in a bubblewrap sandbox went: bwrap writes the PID
// of the sandbox's first process to file 3 (--info-fd) once it has made it,
// and the shell script that starts the command writes to file 4 once bwrap
// has set everything up and run it.
type bubblewrapStart struct {
	infoR, infoW       *os.File
	startedR, startedW *os.File
	filter             *os.File // the seccomp filter, file 5, or nil
}

// startedScript is what the first shell of a bubblewrapped command runs
// before the command: it says it started.
const startedScript = "echo >&4; "

// startWait bounds how long a bubblewrap sandbox may take to start a command.
const startWait = 30 * time.Second

// newBubblewrapStart gives c, a bwrap command, pipes as its files 3 and 4
// and, when there is a seccomp filter, a pipe it reads the filter from as
// file 5.
func newBubblewrapStart(c *exec.Cmd, filter []byte) (*bubblewrapStart, error) {
	b := new(bubblewrapStart)
	var err error
	if b.infoR, b.infoW, err = os.Pipe(); err == nil {
		b.startedR, b.startedW, err = os.Pipe()
	}
	if err == nil && filter != nil {
		err = b.pipeFilter(filter)
	}
	if err != nil {
		b.close()
		return nil, err
	}
	c.ExtraFiles = []*os.File{b.infoW, b.startedW}
	if b.filter != nil {
		c.ExtraFiles = append(c.ExtraFiles, b.filter)
	}
	return b, nil
}

// pipeFilter makes b.filter a pipe holding the filter, whole: a pipe holds
// 4 KiB at least, and the filter is smaller.
func (b *bubblewrapStart) pipeFilter(filter []byte) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	_, err = w.Write(filter)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Close()
		return err
	}
	b.filter = r
	return nil
}

// wait waits until the command runs and returns the PID of the sandbox's
// first process; or it returns an error when bwrap exits first, or takes
// longer than startWait. It must be called once the command was started.
func (b *bubblewrapStart) wait() (int, error) {
	b.infoW.Close()
	b.startedW.Close()
	if b.filter != nil {
		b.filter.Close()
	}
	defer b.close()
	deadline := time.Now().Add(startWait)
	b.infoR.SetReadDeadline(deadline)
	b.startedR.SetReadDeadline(deadline)
	var info struct {
		ChildPID int `json:"child-pid"`
	}
	err := json.NewDecoder(b.infoR).Decode(&info)
	if err == nil {
		var started [1]byte
		_, err = b.startedR.Read(started[:])
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, fmt.Errorf("bubblewrap did not start the command within %v", startWait)
	case err != nil:
		return 0, errors.New("bubblewrap could not make the sandbox")
	}
	return info.ChildPID, nil
}

// close closes the pipes.
func (b *bubblewrapStart) close() {
	if b != nil {
		for _, f := range []*os.File{b.infoR, b.infoW, b.startedR, b.startedW, b.filter} {
			if f != nil {
				f.Close()
			}
		}
	}
}
