package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentbox/agentbox"
)

// drainWait bounds how long output is read after a command's processes were
// killed: only a process that escaped them can hold its output open that long.
const drainWait = 2 * time.Second

var killed = agentbox.Result{ExitCode: -1}

// closeFiles is the shell script that starts every command: it closes the
// files it inherited beyond stdin, stdout and stderr (the host program's,
// opened without close-on-exec), then runs the command, $1, in a login shell.
const closeFiles = `for fd in /proc/self/fd/*; do fd=${fd##*/}; case $fd in 0|1|2|*[!0-9]*) ;; *) eval "exec $fd>&-";; esac; done; exec /bin/bash -l -c "$1"`

// Run runs cmd.Cmd with bash in the workspace and waits for it, and for
// everything it started, to end. See the package documentation.
func (s *Sandbox) Run(ctx context.Context, cmd agentbox.Command) (agentbox.Result, error) {
	if err := s.check(ctx); err != nil {
		return killed, err
	}
	p, err := s.start(cmd, false)
	if err != nil {
		return killed, err
	}
	var timeout <-chan time.Time
	if cmd.Timeout > 0 {
		t := time.NewTimer(cmd.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill(ctx.Err())
		<-p.done
	case <-timeout:
		p.kill(fmt.Errorf("local: %w after %v", agentbox.ErrTimeout, cmd.Timeout))
		<-p.done
	}
	return p.result()
}

// A proc is a command running in the sandbox: a shell that leads a session
// and process group of its own.
type proc struct {
	id   string // set before start returns
	cmd  *exec.Cmd
	pid  int
	scan bool          // whether killing it must look for processes that left its group
	done chan struct{} // closed once all its processes are dead and its output read

	mu     sync.Mutex
	inner  pidfd // with bubblewrap, the sandbox's first process, whose death kills all of it
	exited bool  // the shell has exited
	why    error // why the process was killed before it exited, if it was
	res    agentbox.Result
}

// start starts cmd as a new proc of s, a background one when bg is set. The
// proc's goroutines end when its processes are dead and its output read.
func (s *Sandbox) start(cmd agentbox.Command, bg bool) (*proc, error) {
	dir, err := s.workdir(cmd.Dir)
	if err != nil {
		return nil, err
	}
	env, err := addEnv(s.env, cmd.Env)
	if err != nil {
		return nil, err
	}
	c := exec.Command("/bin/bash", "-c", s.limitScript+closeFiles, "agentbox", cmd.Cmd)
	var (
		info *bubblewrapStart
		head *headBuffer // the start of stderr, where bwrap says why it failed
	)
	if s.isolation == Bubblewrap {
		if info, err = newBubblewrapStart(c, s.seccomp); err != nil {
			return nil, fmt.Errorf("local: %w", err)
		}
		head = new(headBuffer)
		c.Path = s.bwrap
		c.Args = slices.Concat([]string{s.bwrap}, s.bwrapArgs, []string{"--chdir", dir, "--info-fd", "3"})
		if s.seccomp != nil {
			c.Args = append(c.Args, "--seccomp", "5")
		}
		c.Args = append(c.Args, "--", "/bin/bash", "-c", startedScript+s.limitScript+closeFiles, "agentbox", cmd.Cmd)
	}
	c.Dir = dir
	c.Env = env
	c.SysProcAttr = procAttr()
	out, err := newOutputs(c, cmd.Stdout, cmd.Stderr, head)
	if err != nil {
		info.close()
		return nil, fmt.Errorf("local: %w", err)
	}
	p := &proc{cmd: c, scan: s.isolation != Bubblewrap, done: make(chan struct{}), inner: noPidfd}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		out.abort()
		info.close()
		return nil, errClosed
	}
	err = startCommand(c)
	if err == nil {
		p.pid = c.Process.Pid
		s.running[p] = struct{}{}
	}
	s.mu.Unlock()
	if err != nil {
		out.abort()
		info.close()
		return nil, fmt.Errorf("local: starting the command: %w", err)
	}
	out.started()
	go s.watch(p, out)
	if info != nil {
		pid, err := info.wait()
		if err != nil {
			p.kill(err)
			<-p.done
			return nil, fmt.Errorf("local: %w: %s", err, cmp.Or(strings.TrimSpace(head.String()), "no reason given"))
		}
		p.mu.Lock()
		if !p.exited {
			p.inner = openPidfd(pid)
		}
		p.mu.Unlock()
		if limit := s.limits.processes(); limit > 0 {
			go limitProcesses(p, pid, limit)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if bg {
		s.lastID++
		p.id = fmt.Sprintf("p%d", s.lastID)
		s.bg[p.id] = p
	} else {
		p.id = strconv.Itoa(p.pid)
	}
	return p, nil
}

// startCommand starts c from a goroutine of its own: the parent death signal
// is tied to the thread that starts a process, and a thread locked by the
// caller's goroutine may end with it.
func startCommand(c *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() { errc <- c.Start() }()
	return <-errc
}

// watch waits for p's shell to exit, kills what it left running, reads the
// rest of its output, and marks p done.
func (s *Sandbox) watch(p *proc, out *outputs) {
	reaped := waitExit(p.cmd)
	p.mu.Lock()
	p.exited = true
	p.inner.close()
	p.mu.Unlock()
	endSession(p.pid, p.scan, drainWait)
	if !reaped {
		p.cmd.Wait()
	}
	out.drain(drainWait)

	p.mu.Lock()
	p.res = agentbox.Result{ExitCode: p.cmd.ProcessState.ExitCode()}
	if p.why != nil {
		p.res = killed
	}
	p.mu.Unlock()
	s.mu.Lock()
	delete(s.running, p)
	s.mu.Unlock()
	close(p.done)
}

// kill kills p and what it started, unless its shell has already exited, and
// records why. It does not wait: it kills the shell's process group, or the
// bubblewrap sandbox, at once, and watch, woken by the shell's death, kills
// the rest of the session.
func (p *proc) kill(why error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return // watch kills what is left
	}
	if p.why == nil {
		p.why = why
	}
	if p.inner.kill() {
		// Killing the first process of a bubblewrap sandbox kills the rest,
		// and bwrap exits only once they are all dead.
		return
	}
	killGroup(p.pid)
}

// result returns how p ended. It must be called after p is done.
func (p *proc) result() (agentbox.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.res, p.why
}

// workdir returns the folder a command runs in: dir, relative to the
// workspace, which must exist inside it.
func (s *Sandbox) workdir(dir string) (string, error) {
	if dir == "" {
		return s.dir, nil
	}
	rel, err := s.rel("chdir", dir)
	if err != nil {
		return "", err
	}
	fi, err := s.root.Stat(filepath.FromSlash(rel))
	if err != nil {
		return "", s.fsError("chdir", dir, err)
	}
	if !fi.IsDir() {
		return "", &fs.PathError{Op: "chdir", Path: dir, Err: errors.New("not a directory")}
	}
	return filepath.Join(s.dir, filepath.FromSlash(rel)), nil
}
