package e2b

import (
	"net"
	"net/http"
	"net/url"
)

// sandboxClient is the HTTP client of one sandbox's envd and ports: the
// Config's, or, when it has none, a client of the sandbox's own, whose
// connections end with the sandbox. closeIdle closes those connections
// once the sandbox is closed; for a caller's client it does nothing, since
// its connections are the caller's.
func (c Config) sandboxClient() (hc *http.Client, closeIdle func()) {
	if c.HTTPClient != nil {
		return c.HTTPClient, func() {}
	}
	tr := defaultHTTPClient.Transport.(*http.Transport).Clone()
	return &http.Client{Transport: tr}, tr.CloseIdleConnections
}

// onLoopback reports whether envd at base is on this machine: debug mode,
// or a SandboxURL naming a loopback host.
func onLoopback(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
