//go:build !linux

package local

// limitProcesses does nothing: bubblewrap runs only on Linux.
func limitProcesses(p *proc, pid, limit int) {}
