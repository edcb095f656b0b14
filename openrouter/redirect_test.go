package openrouter_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox/openrouter"
)

// redirects are the ways a server can send a client to another origin. Go's
// client keeps the Authorization header on all of them but the other host.
var redirects = []struct {
	name     string
	from, to string // the origins of the redirecting server and its target
}{
	{"another port", "http://openrouter.example.com:1000", "http://openrouter.example.com:2000"},
	{"another host", "http://openrouter.example.com", "http://evil.example.net"},
	{"a subdomain", "http://example.com", "http://evil.example.com"},
	{"https to http", "https://openrouter.example.com", "http://openrouter.example.com"},
}

// A sink is the target of redirects: it records the headers it gets and
// answers 401, as a server that got no key would.
type sink struct {
	mu         sync.Mutex
	headers    []http.Header
	redirected int // requests the redirecting server answered
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.headers = append(s.headers, r.Header.Clone())
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"error":{"message":"No auth credentials found","code":401}}`)
}

// got returns how many requests sink got, and the headers among them that
// carry Authorization or key.
func (s *sink) got(key string) (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var leaks []string
	for _, h := range s.headers {
		for name, vs := range h {
			for _, v := range vs {
				if name == "Authorization" || strings.Contains(v, key) {
					leaks = append(leaks, name+": "+v)
				}
			}
		}
	}
	return len(s.headers), leaks
}

// redirectingClient starts a server at origin from answering every request
// with a 307 to the same path at origin to, and a sink there. It returns a
// client that reaches both, on loopback.
func redirectingClient(t *testing.T, from, to string) (*http.Client, *sink) {
	t.Helper()
	fromURL, toURL := mustParse(t, from), mustParse(t, to)
	s := &sink{}
	redirector := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.redirected++
		s.mu.Unlock()
		http.Redirect(w, r, to+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	if fromURL.Scheme == "https" {
		redirector.StartTLS()
	} else {
		redirector.Start()
	}
	t.Cleanup(redirector.Close)
	target := httptest.NewServer(s)
	t.Cleanup(target.Close)
	routes := map[string]string{
		hostPort(fromURL): redirector.Listener.Addr().String(),
		hostPort(toURL):   target.Listener.Addr().String(),
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := routes[addr]
		if !ok {
			return nil, fmt.Errorf("no route to %s in this test", addr)
		}
		return dialer.DialContext(ctx, network, to)
	}}
	if cert := redirector.Certificate(); cert != nil {
		roots := x509.NewCertPool()
		roots.AddCert(cert)
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, s
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// hostPort is the address a URL dials.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

// TestKeyStaysWithTheBaseURL has the server redirect every request to
// another origin: neither the key nor the conversation may reach it,
// whatever the redirect changes (port, host, subdomain, scheme), and the
// error says so at once, with no retry nor fallback, as neither could help.
func TestKeyStaysWithTheBaseURL(t *testing.T) {
	for _, tt := range redirects {
		t.Run(tt.name, func(t *testing.T) {
			client, s := redirectingClient(t, tt.from, tt.to)
			p, err := openrouter.New(openrouter.Config{
				APIKey: testKey, BaseURL: tt.from + "/api/v1", Models: []string{"test/model", "other/model"},
				HTTPClient: client, RetryDelay: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			resp, streamErr := stream(t, p)
			checkErr := p.Check(t.Context())
			for _, err := range []error{streamErr, checkErr} {
				if err == nil {
					t.Errorf("a request redirected to %s succeeded", tt.to)
					continue
				}
				pe := providerError(t, err)
				if pe.Retryable || !strings.Contains(err.Error(), "redirected to another origin") || strings.Contains(err.Error(), testKey) {
					t.Errorf("redirected to %s: %v (retryable %v), want an error saying so, not retryable", tt.to, err, pe.Retryable)
				}
			}
			s.mu.Lock()
			redirected := s.redirected
			s.mu.Unlock()
			if len(resp.Warnings) > 0 || redirected != 2 {
				t.Errorf("%d requests redirected, warnings %v; want one Stream and one Check request, no retries nor fallbacks", redirected, resp.Warnings)
			}
			if n, leaks := s.got(testKey); n > 0 || len(leaks) > 0 {
				t.Errorf("%s got %d requests, with the credentials of %s: %q; want none", tt.to, n, tt.from, leaks)
			}
			if _, ok := client.Transport.(*http.Transport); !ok || client.CheckRedirect != nil {
				t.Errorf("the caller's client was changed: transport %T", client.Transport)
			}
		})
	}
}
