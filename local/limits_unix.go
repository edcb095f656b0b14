//go:build unix

package local

import "syscall"

const (
	rlimitFsize  = syscall.RLIMIT_FSIZE
	rlimitData   = syscall.RLIMIT_DATA
	rlimitNofile = syscall.RLIMIT_NOFILE
)

// hardLimit returns this program's hard limit of the resource which, and
// whether it has one.
func hardLimit(which int) (int64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(which, &r); err != nil || r.Max > 1<<62 { // none, or RLIM_INFINITY
		return 0, false
	}
	return int64(r.Max), true
}
