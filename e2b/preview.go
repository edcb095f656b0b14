package e2b

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/agentbox/agentbox"
)

// PreviewURL waits until something answers on port in the sandbox and
// returns its URL, https://{port}-{id}.{domain} (http://localhost:{port} in
// debug mode). E2B's edge answers 502 while nothing listens on a port: the
// URL is handed out only once it answers anything else.
func (s *Sandbox) PreviewURL(ctx context.Context, port int) (string, error) {
	op := "preview port " + strconv.Itoa(port)
	if err := s.check(); err != nil {
		return "", err
	}
	if port <= 0 || port > 65535 || port == EnvdPort {
		return "", fmt.Errorf("e2b: %s: not a port for a preview", op)
	}
	if err := s.wake(ctx); err != nil {
		return "", s.pausedError(op, err)
	}
	url := "https://" + s.host(port)
	if s.cfg.Debug {
		url = "http://" + s.host(port)
	}
	delay := 50 * time.Millisecond
	for {
		ready, err := s.answers(ctx, op, url)
		if ready || err != nil {
			return url, err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return "", fmt.Errorf("e2b: %s: %w", op, agentbox.ErrClosed)
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("e2b: %s: nothing answered: %w", op, ctx.Err())
		}
		delay = min(2*delay, time.Second)
	}
}

// answers reports whether something answers at url: anything but a failed
// connection or the edge's 502.
func (s *Sandbox) answers(ctx context.Context, op, url string) (bool, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return false, fmt.Errorf("e2b: %s: %w", op, err)
	}
	req.Header.Set("User-Agent", userAgent)
	if s.traffic != "" {
		req.Header.Set("E2b-Traffic-Access-Token", s.traffic)
	}
	probe := *s.httpClient
	probe.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // an answer; and the token stays here
	}
	resp, err := probe.Do(req)
	if err != nil {
		return false, nil // not listening yet, in debug mode
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		return true, nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var edge struct {
		Message string `json:"message"`
		Port    int    `json:"port"`
	}
	if json.Unmarshal(data, &edge) != nil || edge.Message == "" {
		return true, nil // a 502 of the app itself
	}
	if portClosed(edge.Message) {
		return false, nil
	}
	return false, statusError(op, resp.StatusCode, data, envd, s.secrets()...)
}
