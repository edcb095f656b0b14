package e2b

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/agentbox/agentbox/internal/secret"
)

// originClient returns a copy of c that sends requests to the origin of base
// only (its scheme, host and port), adding creds to each: the credentials
// of that origin. c itself is left as it is.
//
// net/http copies a request's headers onto the requests of the redirects it
// follows: all of them to another port, a subdomain or plain http, and
// custom ones such as X-API-Key and X-Access-Token to any host at all. So
// credentials are not set on requests but added here, below the redirects,
// where the origin of every request is checked, whatever CheckRedirect the
// caller's client has. A request for another origin, which only a redirect
// makes, is refused before anything is sent: a redirected POST would resend
// its body too (a sandbox's Env, uploaded files).
func originClient(c *http.Client, base string, creds http.Header) (*http.Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("e2b: bad URL %q: %w", base, err)
	}
	oc := *c
	oc.Transport = &originTransport{origin: secret.Origin(u), creds: creds, next: c.Transport}
	return &oc, nil
}

// An originTransport sends requests to one origin only, with its
// credentials.
type originTransport struct {
	origin string            // as secret.Origin returns it
	creds  http.Header       // added to every request
	next   http.RoundTripper // nil means http.DefaultTransport
}

func (t *originTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if o := secret.Origin(req.URL); o != t.origin {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, on errors too
		}
		return nil, fmt.Errorf("refused a redirect to another origin, %s: the credentials of %s are sent nowhere else", o, t.origin)
	}
	if len(t.creds) > 0 {
		req = req.Clone(req.Context()) // a RoundTripper leaves the request as it is
		for k, v := range t.creds {
			req.Header[k] = v
		}
	}
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the transport below,
// for [http.Client.CloseIdleConnections].
func (t *originTransport) CloseIdleConnections() {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	if c, ok := next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
