//go:build unix && !linux

package local

import (
	"os/exec"
	"syscall"
	"time"
)

// nonblock opens files without waiting, such as a named pipe with no
// writer.
const nonblock = syscall.O_NONBLOCK

// procAttr puts a command in a session and process group of its own, away
// from the terminal.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// waitExit waits for c's process to exit, and reaps it.
func waitExit(c *exec.Cmd) (reaped bool) {
	c.Wait()
	return true
}

// killTree kills the process group led by sid. Processes that moved to a
// group of their own are out of reach.
func killTree(sid int, scan bool) {
	syscall.Kill(-sid, syscall.SIGKILL)
}

// waitTreeGone waits until the process group sid is gone, for at most wait.
func waitTreeGone(sid int, scan bool, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for syscall.Kill(-sid, 0) != syscall.ESRCH && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
