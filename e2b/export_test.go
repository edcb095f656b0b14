package e2b

// SetMaxEnvdMessage sets the largest message read from envd by sandboxes
// made from now on, and returns what puts it back.
func SetMaxEnvdMessage(n int) (restore func()) {
	old := maxEnvdMessage
	maxEnvdMessage = n
	return func() { maxEnvdMessage = old }
}
