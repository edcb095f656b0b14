//go:build !unix

package local

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// nonblock opens files without waiting, such as a named pipe with no
// writer.
const nonblock = 0

// procAttr has nothing to set where there are no process groups.
func procAttr() *syscall.SysProcAttr { return nil }

// waitExit waits for c's process to exit, and reaps it.
func waitExit(c *exec.Cmd) (reaped bool) {
	c.Wait()
	return true
}

// killTree kills the process sid; without process groups, what it started
// may live on.
func killTree(sid int, scan bool) {
	if p, err := os.FindProcess(sid); err == nil {
		p.Kill()
	}
}

// waitTreeGone has no process group to wait for.
func waitTreeGone(int, bool, time.Duration) {}
