package e2b

import "net/http"

// SetMaxEnvdMessage sets the largest message read from envd by sandboxes
// made from now on, and returns what puts it back.
func SetMaxEnvdMessage(n int) (restore func()) {
	old := maxEnvdMessage
	maxEnvdMessage = n
	return func() { maxEnvdMessage = old }
}

// DefaultTransport returns a copy of the transport sandboxes made with no
// HTTPClient use.
func DefaultTransport() *http.Transport {
	return defaultHTTPClient.Transport.(*http.Transport).Clone()
}
