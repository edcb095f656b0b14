package local

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/agentbox/agentbox"
)

// PreviewURL waits until something accepts connections on port, on
// 127.0.0.1 (or, failing that, ::1), and returns the URL that reaches it:
// http://127.0.0.1:PORT. It gives up when ctx is done or the sandbox closes.
// A sandbox with [Config.NoNetwork] has no previews.
func (s *Sandbox) PreviewURL(ctx context.Context, port int) (string, error) {
	if err := s.check(ctx); err != nil {
		return "", err
	}
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("local: port %d is not a TCP port", port)
	}
	if s.noNetwork {
		return "", fmt.Errorf("local: the sandbox has no network (NoNetwork), so port %d cannot be reached from outside it: %w", port, agentbox.ErrNotSupported)
	}
	p := strconv.Itoa(port)
	var d net.Dialer
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		for _, host := range []string{"127.0.0.1", "::1"} {
			if listening(ctx, &d, host, p) {
				return "http://" + net.JoinHostPort(host, p), nil
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("local: waiting for port %d: %w", port, ctx.Err())
		case <-s.closing:
			t.Stop()
			return "", errClosed
		}
	}
}

// listening reports whether host:port accepts a TCP connection.
func listening(ctx context.Context, d *net.Dialer, host, port string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return false
	}
	c.Close()
	return true
}
