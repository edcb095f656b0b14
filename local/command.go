package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/agentbox/agentbox"
)

// drainWait bounds how long output is read after a command's process group
// was killed: only a process that left the group (with setsid) can hold its
// output open that long.
const drainWait = 2 * time.Second

var killed = agentbox.Result{ExitCode: -1}

// Run runs cmd.Cmd with bash in the workspace and waits for it, and for
// everything it started, to end. See the package documentation.
func (s *Sandbox) Run(ctx context.Context, cmd agentbox.Command) (agentbox.Result, error) {
	if err := s.check(ctx); err != nil {
		return killed, err
	}
	p, err := s.start(cmd)
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
	id   string
	cmd  *exec.Cmd
	done chan struct{} // closed once the group is dead and the output read

	mu     sync.Mutex
	inner  int   // with bubblewrap, the PID of the sandbox's first process, whose death kills all of it
	exited bool  // the shell has exited
	why    error // why the process was killed before it exited, if it was
	res    agentbox.Result
}

// start starts cmd as a new proc of s. The proc's goroutines end when its
// process group is dead and its output read.
func (s *Sandbox) start(cmd agentbox.Command) (*proc, error) {
	dir, err := s.workdir(cmd.Dir)
	if err != nil {
		return nil, err
	}
	env, err := addEnv(s.env, cmd.Env)
	if err != nil {
		return nil, err
	}
	c := exec.Command("/bin/bash", "-l", "-c", cmd.Cmd)
	var info *bubblewrapInfo
	if s.isolation == Bubblewrap {
		if info, err = newBubblewrapInfo(c); err != nil {
			return nil, fmt.Errorf("local: %w", err)
		}
		c.Path = s.bwrap
		c.Args = slices.Concat([]string{s.bwrap}, s.bwrapArgs,
			[]string{"--chdir", dir, "--info-fd", "3", "--", "/bin/bash", "-l", "-c", cmd.Cmd})
	}
	c.Dir = dir
	c.Env = env
	c.SysProcAttr = procAttr()
	out, err := newOutputs(c, cmd.Stdout, cmd.Stderr)
	if err != nil {
		info.close()
		return nil, fmt.Errorf("local: %w", err)
	}
	p := &proc{cmd: c, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		out.abort()
		info.close()
		return nil, errClosed
	}
	err = c.Start()
	if err == nil {
		p.id = strconv.Itoa(c.Process.Pid)
		s.running[p] = struct{}{}
	}
	s.mu.Unlock()
	if err != nil {
		out.abort()
		info.close()
		return nil, fmt.Errorf("local: starting the command: %w", err)
	}
	out.started()
	if pid := info.childPID(); pid > 0 {
		p.mu.Lock()
		p.inner = pid
		p.mu.Unlock()
	}
	go s.watch(p, out)
	return p, nil
}

// watch waits for p's shell to exit, kills what it left running, reads the
// rest of its output, and marks p done.
func (s *Sandbox) watch(p *proc, out *outputs) {
	p.cmd.Wait()
	p.mu.Lock()
	p.exited = true
	p.mu.Unlock()
	killGroup(p.cmd.Process.Pid)
	waitGroupGone(p.cmd.Process.Pid, drainWait)
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

// kill kills p's process group, unless the shell has already exited, and
// records why.
func (p *proc) kill(why error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return // watch kills what is left
	}
	if p.why == nil {
		p.why = why
	}
	if p.inner > 0 {
		// Killing the first process of a bubblewrap sandbox kills the rest,
		// and bwrap exits only once they are all dead.
		killProcess(p.inner)
		return
	}
	killGroup(p.cmd.Process.Pid)
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

// outputs copies a command's stdout and stderr, each from a pipe, to the
// caller's writers as the command writes them.
type outputs struct {
	readers []*os.File
	writers []*os.File // the pipes' ends the command writes to
	dests   []io.Writer
	wg      sync.WaitGroup
	mu      sync.Mutex // held while writing to a dest: stdout and stderr may be one writer of a type that cannot be compared
}

// newOutputs connects c's stdout and stderr to pipes read into stdout and
// stderr. A nil writer gets nothing (the command writes to /dev/null); one
// writer for both gets one pipe, so its writes stay in order.
func newOutputs(c *exec.Cmd, stdout, stderr io.Writer) (*outputs, error) {
	o := new(outputs)
	pipe := func(w io.Writer) (*os.File, error) {
		if w == nil {
			return nil, nil
		}
		r, pw, err := os.Pipe()
		if err != nil {
			o.abort()
			return nil, err
		}
		o.readers = append(o.readers, r)
		o.writers = append(o.writers, pw)
		o.dests = append(o.dests, w)
		return pw, nil
	}
	outW, err := pipe(stdout)
	if err != nil {
		return nil, err
	}
	errW := outW
	if !sameWriter(stdout, stderr) {
		if errW, err = pipe(stderr); err != nil {
			return nil, err
		}
	}
	if outW != nil {
		c.Stdout = outW
	}
	if errW != nil {
		c.Stderr = errW
	}
	return o, nil
}

// started closes the command's ends of the pipes in this process and starts
// copying.
func (o *outputs) started() {
	for _, w := range o.writers {
		w.Close()
	}
	for i, r := range o.readers {
		o.wg.Go(func() { o.copy(o.dests[i], r) })
	}
}

// drain waits up to wait for the output to be read to its end, then stops
// reading.
func (o *outputs) drain(wait time.Duration) {
	finished := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(wait):
		for _, r := range o.readers {
			r.Close() // ends the copies' reads
		}
		<-finished
	}
	for _, r := range o.readers {
		r.Close()
	}
}

// abort closes the pipes of a command that did not start.
func (o *outputs) abort() {
	for _, f := range append(o.readers, o.writers...) {
		f.Close()
	}
}

// copy copies r to w until r ends. A failing w is given up on, but r is
// still read to its end, so that the command never blocks on a full pipe.
func (o *outputs) copy(w io.Writer, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 && w != nil {
			o.mu.Lock()
			_, werr := w.Write(buf[:n])
			o.mu.Unlock()
			if werr != nil {
				w = nil
			}
		}
		if err != nil {
			return
		}
	}
}

// sameWriter reports whether a and b are the same writer. Writers of types
// that cannot be compared are different.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a != nil && a == b
}
