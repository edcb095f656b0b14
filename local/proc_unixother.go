//go:build unix && !linux

package local

import "syscall"

// setParentDeathSignal does nothing: only Linux has parent death signals.
func setParentDeathSignal(*syscall.SysProcAttr) {}

// groupAlive reports whether a process of the process group pgid exists.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) != syscall.ESRCH
}
