package e2b

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestTransportErrorsHideSecretsInTheirCauses checks that an error wrapped
// by an Error shows no secret either, even one that only an error deep in
// the chain shows, while it still matches what it matched.
func TestTransportErrorsHideSecretsInTheirCauses(t *testing.T) {
	const secret = "secret_0123456789abcdef"
	cause := &url.Error{Op: "Get", URL: "https://api.example.com/?t=" + secret, Err: context.DeadlineExceeded}
	e := transportError("list sandboxes", fmt.Errorf("sending: %w", cause), secret)
	var texts []string
	for err := error(e); err != nil; {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			err = nil
			if errs := u.Unwrap(); len(errs) > 0 {
				err = errs[len(errs)-1] // the cause; the others are sentinels
			}
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			err = nil
		}
	}
	for _, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("the secret is shown: %s", s)
		}
	}
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("%v no longer matches context.DeadlineExceeded", e)
	}
	if !strings.Contains(e.Error(), "t=[redacted]") {
		t.Errorf("%q, want the cause with the secret redacted", e)
	}
	plain := errors.New("connection refused")
	if got := transportError("op", plain, secret); got.err != plain {
		t.Errorf("a cause with no secret was replaced: %#v", got.err)
	}
}
