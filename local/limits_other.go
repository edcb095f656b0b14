//go:build !unix

package local

const (
	rlimitFsize = iota
	rlimitData
	rlimitNofile
)

// hardLimit reports that there are no limits to respect here.
func hardLimit(which int) (int64, bool) { return 0, false }
