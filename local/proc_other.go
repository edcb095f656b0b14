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

// killGroup kills the process pid; without process groups, what it started
// may live on.
func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

// endSession has no process group to kill: the process sid has exited.
func endSession(int, bool, time.Duration) {}
