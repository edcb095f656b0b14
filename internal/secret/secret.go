// Package secret keeps credentials out of texts and errors, and names the
// origin of a URL: the one place credentials are sent.
package secret

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Mark stands where a secret was.
const Mark = "[redacted]"

// Hide returns s with every non-empty secret in it replaced by Mark.
func Hide(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, Mark)
		}
	}
	return s
}

// HideError returns err, or, when its text or the text of an error it wraps
// shows one of secrets, an error with its text hidden that wraps nothing (so
// that no text with a secret can be reached) but matches what err matches
// with errors.Is.
func HideError(err error, secrets ...string) error {
	if !shows(err, secrets) {
		return err
	}
	return &hiddenError{text: Hide(err.Error(), secrets...), err: err}
}

// shows reports whether the text of err, or of an error it wraps, shows one
// of secrets.
func shows(err error, secrets []string) bool {
	if err == nil {
		return false
	}
	if Hide(err.Error(), secrets...) != err.Error() {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return shows(u.Unwrap(), secrets)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if shows(e, secrets) {
				return true
			}
		}
	}
	return false
}

// A hiddenError is an error whose text showed a secret.
type hiddenError struct {
	text string
	err  error // the original, never returned
}

func (e *hiddenError) Error() string { return e.text }

// Is reports whether the original error matches target, so that
// errors.Is(err, context.DeadlineExceeded) and the like still hold.
func (e *hiddenError) Is(target error) bool { return errors.Is(e.err, target) }

// Origin returns the origin of u as scheme://host:port, in lower case and
// with the scheme's default port when u has none.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
