//go:build unix

package local

import (
	"syscall"
	"time"
)

// procAttr puts a command in a session and process group of its own, away
// from the terminal, and kills it if this process dies.
func procAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setsid: true}
	setParentDeathSignal(attr)
	return attr
}

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	syscall.Kill(-pid, syscall.SIGKILL)
}

// killProcess kills the process pid.
func killProcess(pid int) {
	syscall.Kill(pid, syscall.SIGKILL)
}

// waitGroupGone waits until no process of the process group led by pid is
// alive, for at most wait: killed processes take a moment to die.
func waitGroupGone(pid int, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for pause := 100 * time.Microsecond; groupAlive(pid) && time.Now().Before(deadline); pause = min(2*pause, 10*time.Millisecond) {
		time.Sleep(pause)
	}
}
