package e2b_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
)

// redirects are the ways a server can send a client to another origin. Go's
// client keeps custom headers such as X-API-Key on every one of them, and
// Authorization on all but the other host.
var redirects = []struct {
	name     string
	from, to string // the origins of the redirecting server and its target
}{
	{"another port", "http://api.example.com:1000", "http://api.example.com:2000"},
	{"another host", "http://api.example.com", "http://evil.example.net"},
	{"a subdomain", "http://example.com", "http://evil.example.com"},
	{"https to http", "https://api.example.com", "http://api.example.com"},
}

// A sink is the target of redirects: it records the headers it gets and
// answers 418.
type sink struct {
	mu      sync.Mutex
	headers []http.Header
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.headers = append(s.headers, r.Header.Clone())
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTeapot)
	fmt.Fprint(w, `{"code":418,"message":"not E2B"}`)
}

// leaks returns the headers of the requests sink got that carry one of
// secrets, or an Authorization.
func (s *sink) leaks(secrets ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	for _, h := range s.headers {
		for name, vs := range h {
			for _, v := range vs {
				if name == "Authorization" || containsAny(v, secrets) {
					found = append(found, name+": "+v)
				}
			}
		}
	}
	return found
}

// requests returns how many requests sink got.
func (s *sink) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.headers)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// redirectingClient starts a server at origin from answering every request
// with a 307 to the same path at origin to, and a sink there. It returns a
// client that reaches both (and other loopback addresses), on loopback.
func redirectingClient(t *testing.T, from, to string) (*http.Client, *sink) {
	t.Helper()
	fromURL, toURL := mustParse(t, from), mustParse(t, to)
	redirector := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	if fromURL.Scheme == "https" {
		redirector.StartTLS()
	} else {
		redirector.Start()
	}
	t.Cleanup(redirector.Close)
	s := &sink{}
	target := httptest.NewServer(s)
	t.Cleanup(target.Close)
	routes := map[string]string{
		hostPort(fromURL): redirector.Listener.Addr().String(),
		hostPort(toURL):   target.Listener.Addr().String(),
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := routes[addr]; ok {
				addr = to
			} else if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
				return nil, fmt.Errorf("no route to %s in this test", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
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

// TestAPIKeyStaysWithTheControlPlane has the control plane redirect every
// request to another origin: the key must never reach it, whatever the
// redirect changes (port, host, subdomain, scheme).
func TestAPIKeyStaysWithTheControlPlane(t *testing.T) {
	const key = "e2b_redirected_key_0123456789abcdef"
	for _, tt := range redirects {
		t.Run(tt.name, func(t *testing.T) {
			client, s := redirectingClient(t, tt.from, tt.to)
			cfg := e2b.Config{APIKey: key, APIURL: tt.from, Env: map[string]string{"TOKEN": "a secret of the user"}, HTTPClient: client}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, newErr := e2b.New(ctx, cfg)
			_, listErr := e2b.List(ctx, cfg, nil)
			_, connErr := e2b.Connect(ctx, "abc", cfg)
			for _, err := range []error{newErr, listErr, connErr} {
				if err == nil {
					t.Errorf("a call redirected to %s succeeded", tt.to)
				} else if strings.Contains(err.Error(), key) {
					t.Errorf("the error shows the key: %v", err)
				}
			}
			if leaks := s.leaks(key); len(leaks) > 0 {
				t.Errorf("%s got the credentials of %s: %q", tt.to, tt.from, leaks)
			}
			if s.requests() > 0 {
				t.Errorf("%s got %d requests: nothing, not even a body with the sandbox's Env, goes to another origin", tt.to, s.requests())
			}
			var e *e2b.Error
			if !errors.As(newErr, &e) || !strings.Contains(newErr.Error(), "another origin") {
				t.Errorf("New redirected: %v, want an *e2b.Error saying the redirect went to another origin", newErr)
			}
			if _, ok := client.Transport.(*http.Transport); !ok || client.CheckRedirect != nil {
				t.Errorf("the caller's client was changed: transport %T", client.Transport)
			}
		})
	}
}

// TestAccessTokenStaysWithEnvd has envd redirect every request to another
// origin: neither the sandbox's access token nor the user's Basic
// authorization may reach it, and the calls fail.
func TestAccessTokenStaysWithEnvd(t *testing.T) {
	const token = "envd_redirected_token_0123456789abcdef"
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"sandboxID":"sbx1","templateID":"base","clientID":"c","envdVersion":"0.6.13","envdAccessToken":%q}`, token)
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	defer control.Close()
	for _, tt := range redirects {
		t.Run(tt.name, func(t *testing.T) {
			client, s := redirectingClient(t, tt.from, tt.to)
			cfg := e2b.Config{APIKey: "e2b_key_0123456789abcdef", APIURL: control.URL, SandboxURL: tt.from, User: "user", HTTPClient: client}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			sb, err := e2b.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close(context.Background())
			_, openErr := sb.Open(ctx, "f")
			_, runErr := sb.Run(ctx, agentbox.Command{Cmd: "true"})
			writeErr := sb.WriteFiles(ctx, []agentbox.File{{Path: "f", Data: []byte("x")}})
			_, listErr := sb.List(ctx, ".")
			for _, err := range []error{openErr, runErr, writeErr, listErr} {
				if err == nil {
					t.Errorf("a call to envd redirected to %s succeeded", tt.to)
				} else if strings.Contains(err.Error(), token) {
					t.Errorf("the error shows the token: %v", err)
				}
			}
			if leaks := s.leaks(token, cfg.APIKey); len(leaks) > 0 {
				t.Errorf("%s got the credentials of %s: %q", tt.to, tt.from, leaks)
			}
			if s.requests() > 0 {
				t.Errorf("%s got %d requests: nothing goes to another origin", tt.to, s.requests())
			}
			var e *e2b.Error
			if !errors.As(openErr, &e) || !strings.Contains(openErr.Error(), "another origin") {
				t.Errorf("Open redirected: %v, want an *e2b.Error saying the redirect went to another origin", openErr)
			}
		})
	}
}
