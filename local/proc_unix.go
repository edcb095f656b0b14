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

// killGroup kills the process group pgid.
func killGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// endSession kills the process group led by sid, and waits until it is gone,
// for at most wait. Processes that moved to a group of their own are out of
// reach.
func endSession(sid int, scan bool, wait time.Duration) {
	killGroup(sid)
	deadline := time.Now().Add(wait)
	for syscall.Kill(-sid, 0) != syscall.ESRCH && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
