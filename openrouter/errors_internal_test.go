package openrouter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestRedactEveryField checks that redact leaves the key in no field of a
// ProviderError, the errors it wraps included, while the error still
// matches what it matched.
func TestRedactEveryField(t *testing.T) {
	const key = "sk-or-v1-internal-0123456789abcdef"
	cause := &url.Error{Op: "Post", URL: "https://openrouter.example.com/?key=" + key, Err: context.DeadlineExceeded}
	e := transportError("model-"+key, fmt.Errorf("sending: %w", cause))
	e.Code = "code " + key
	e.Hint = "hint " + key
	e.Metadata = map[string]any{key: []any{map[string]any{"k": key}, 1.5, nil}, "n": 2.0}
	e = redact(e, key)
	var texts []string
	for err := error(e); err != nil; err = errors.Unwrap(err) {
		data, _ := json.Marshal(err)
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), string(data))
	}
	for _, s := range texts {
		if strings.Contains(s, key) {
			t.Errorf("the key is shown: %s", s)
		}
	}
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("%v no longer matches context.DeadlineExceeded", e)
	}
	if got := fmt.Sprint(e.Metadata); got != "map[[redacted]:[map[k:[redacted]] 1.5 <nil>] n:2]" {
		t.Errorf("metadata %s, want its shape kept and the key redacted", got)
	}
	plain := errors.New("connection refused")
	if got := redact(transportError("m", plain), key); got.Err != plain {
		t.Errorf("a cause with no key was replaced: %#v", got.Err)
	}
}
