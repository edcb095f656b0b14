package openrouter

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/agentbox/agentbox/internal/secret"
)

// originClient returns a copy of c that refuses redirects to an origin
// (scheme, host and port) other than base's; c itself is left as it is.
//
// net/http keeps the Authorization header on redirects to another port, a
// subdomain or plain http, and a redirected POST resends the conversation.
// The refusal is told apart from a network failure: it is not retried.
func originClient(c *http.Client, base string) (*http.Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("openrouter: bad BaseURL %q: %w", base, err)
	}
	want := secret.Origin(u)
	next := c.CheckRedirect
	oc := *c
	oc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if o := secret.Origin(req.URL); o != want {
			return &redirectError{to: o}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 { // net/http's own policy
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &oc, nil
}

// A redirectError is a redirect to another origin, refused.
type redirectError struct {
	to string // the origin redirected to
}

func (e *redirectError) Error() string {
	return "redirected to another origin (" + e.to + ")"
}
