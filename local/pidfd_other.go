//go:build !linux

package local

// A pidfd refers to a process; only Linux has them, and bubblewrap.
type pidfd int

const noPidfd pidfd = -1

func openPidfd(int) pidfd { return noPidfd }
func (pidfd) kill() bool  { return false }
func (f *pidfd) close()   {}
