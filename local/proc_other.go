//go:build !unix

package local

import (
	"os"
	"syscall"
	"time"
)

// procAttr has nothing to set where there are no process groups.
func procAttr() *syscall.SysProcAttr { return nil }

// killProcess kills the process pid.
func killProcess(pid int) { killGroup(pid) }

// waitGroupGone has no process group to wait for.
func waitGroupGone(int, time.Duration) {}

// killGroup kills the process pid; without process groups, what it started
// may live on.
func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}
