package secret_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/agentbox/agentbox/internal/secret"
)

// TestHideError hides a secret that only an error deep in the chain shows:
// no text of the result or of what it wraps shows it, and it still matches
// what the original matched. An error that shows no secret is kept.
func TestHideError(t *testing.T) {
	const key = "secret_0123456789abcdef"
	cause := &url.Error{Op: "Get", URL: "https://api.example.com/?t=" + key, Err: context.DeadlineExceeded}
	err := secret.HideError(errors.Join(errors.New("plain"), fmt.Errorf("sending: %w", cause)), key, "")
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
			if strings.Contains(s, key) {
				t.Errorf("the secret is shown: %s", s)
			}
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v no longer matches context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "t=[redacted]") {
		t.Errorf("%q, want the text with the secret hidden", err)
	}
	plain := errors.New("connection refused")
	if got := secret.HideError(plain, key); got != plain {
		t.Errorf("an error with no secret was replaced: %#v", got)
	}
	if got := secret.Hide("a b", ""); got != "a b" {
		t.Errorf("an empty secret hid %q", got)
	}
}

func TestOrigin(t *testing.T) {
	for raw, want := range map[string]string{
		"https://API.e2b.app/v1":      "https://api.e2b.app:443",
		"http://127.0.0.1:8080/x":     "http://127.0.0.1:8080",
		"https://openrouter.ai:443/a": "https://openrouter.ai:443",
		"http://[::1]/":               "http://[::1]:80",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := secret.Origin(u); got != want {
			t.Errorf("Origin(%s) = %s, want %s", raw, got, want)
		}
	}
}
