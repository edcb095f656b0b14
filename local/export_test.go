package local

// SetMaxList sets the most entries List returns, and returns what puts it
// back.
func SetMaxList(n int) (restore func()) {
	old := maxList
	maxList = n
	return func() { maxList = old }
}
