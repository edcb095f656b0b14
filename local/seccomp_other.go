//go:build !linux

package local

// seccompProgram returns no filter: bubblewrap runs only on Linux.
func seccompProgram(noNetwork bool) []byte { return nil }
