package openrouter_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
)

func TestHTTPErrorsAreTyped(t *testing.T) {
	for _, tt := range []struct {
		file      string
		kind      agentbox.ErrorKind
		retryable bool
		line      string // Error() must contain it
	}{
		{"400_model_not_found.http", agentbox.KindModelNotFound, false, "openrouter: 400 acme/fake-1.0 is not a valid model ID for test/model: check the model ID"},
		{"401_user_not_found.http", agentbox.KindAuth, false, "openrouter: 401 User not found. for test/model: the API key is missing, wrong or disabled"},
		{"402_insufficient_credits.http", agentbox.KindNoCredits, false, "for test/model: add credits at https://openrouter.ai/settings/credits, lower max tokens, or use a :free model"},
		{"402_negative_balance_free.http", agentbox.KindNoCredits, false, "openrouter: 402 Your account or API key has a negative credit balance."},
		{"403_moderation.http", agentbox.KindModeration, false, "openrouter: 403 "},
		{"404_no_endpoints_tools.http", agentbox.KindModelNotFound, false, "No endpoints found that support tool use"},
		{"429_upstream_retry_after.http", agentbox.KindRateLimited, true, "openrouter: 429 Rate limit exceeded for test/model (retry after 1m0s): rate limited"},
		{"429_daily_cap.http", agentbox.KindQuotaExhausted, false, "the daily request limit is reached"},
		{"502_provider_error.http", agentbox.KindUpstream, true, "openrouter: 502 Provider returned error"},
		{"503_capacity.http", agentbox.KindUpstream, true, "(retry after 40s)"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			srv := openroutertest.NewServer(t, httpError(t, tt.file))
			_, err := stream(t, newProvider(t, srv, openrouter.Config{MaxRetries: -1}))
			pe := providerError(t, err)
			if pe.Kind != tt.kind || pe.Retryable != tt.retryable || pe.Model != "test/model" || pe.StatusCode == 0 {
				t.Errorf("%v: kind %q, retryable %v, model %q, status %d; want %q, %v", err, pe.Kind, pe.Retryable, pe.Model, pe.StatusCode, tt.kind, tt.retryable)
			}
			if line := err.Error(); !strings.Contains(line, tt.line) || strings.Contains(line, "\n") {
				t.Errorf("Error() = %q, want one line containing %q", line, tt.line)
			}
		})
	}
}

func TestRetriesBeforeTheFirstToken(t *testing.T) {
	srv := openroutertest.NewServer(t,
		openroutertest.Status(429, `{"error":{"code":429,"message":"Rate limit exceeded"}}`, "Retry-After-Ms", "20"),
		openroutertest.Status(502, `{"error":{"code":502,"message":"Provider returned error"}}`),
		openroutertest.FromStep(agentboxtest.Reply("ok")),
	)
	resp, err := stream(t, newProvider(t, srv, openrouter.Config{}))
	if err != nil || resp.Text != "ok" {
		t.Fatalf("Stream = %q, %v", resp.Text, err)
	}
	if len(resp.Warnings) != 2 || !strings.Contains(resp.Warnings[0].Error(), "retrying test/model in 20ms (retry 1 of 2)") {
		t.Errorf("warnings = %v, want two retries, the first after the asked 20ms", resp.Warnings)
	}
	for _, w := range resp.Warnings {
		var pe *agentbox.ProviderError
		if !errors.As(w, &pe) {
			t.Errorf("warning %v does not carry the ProviderError", w)
		}
		if !errors.Is(w, agentbox.ErrRetrying) || errors.Is(w, agentbox.ErrFallingBack) {
			t.Errorf("warning %v does not match ErrRetrying alone", w)
		}
	}
}

func TestNoRetryAfterTheFirstToken(t *testing.T) {
	srv := openroutertest.NewServer(t,
		openroutertest.Response{Events: []string{openroutertest.ChunkJSON(agentbox.Chunk{Text: "Hel"})}, Drop: true},
		openroutertest.FromStep(agentboxtest.Reply("never")),
	)
	resp, err := stream(t, newProvider(t, srv, openrouter.Config{}))
	if pe := providerError(t, err); pe.Kind != agentbox.KindTruncated || resp.Text != "Hel" {
		t.Errorf("a dropped stream: %q, %v; want the text so far and a truncated error", resp.Text, err)
	}
	if n := len(srv.ChatRequests()); n != 1 {
		t.Errorf("%d requests, want 1: nothing is retried after the first token", n)
	}
}

func TestFallbackToTheNextModel(t *testing.T) {
	srv := openroutertest.NewServer(t,
		httpError(t, "404_no_endpoints_tools.http"),
		openroutertest.Status(429, `{"error":{"code":429,"message":"Rate limit exceeded"}}`),
		openroutertest.Status(429, `{"error":{"code":429,"message":"Rate limit exceeded"}}`),
		openroutertest.FromStep(agentboxtest.Reply("from the third")),
	)
	p := newProvider(t, srv, openrouter.Config{Models: []string{"a/one", "b/two", "c/three"}, MaxRetries: 1})
	resp, err := stream(t, p)
	if err != nil || resp.Text != "from the third" {
		t.Fatalf("Stream = %q, %v", resp.Text, err)
	}
	var models []string
	for _, r := range srv.ChatRequests() {
		models = append(models, fmt.Sprint(r["model"]))
	}
	if got := strings.Join(models, " "); got != "a/one b/two b/two c/three" {
		t.Errorf("models asked: %s", got)
	}
	var warned []string
	for _, w := range resp.Warnings {
		warned = append(warned, w.Error())
	}
	want := []string{"openrouter: falling back to b/two: openrouter: 404", "openrouter: retrying b/two", "openrouter: falling back to c/three: openrouter: 429"}
	for i, w := range want {
		if i >= len(warned) || !strings.HasPrefix(warned[i], w) {
			t.Errorf("warning %d = %q, want it to start with %q", i, warned, w)
		}
	}
	for i, what := range []error{agentbox.ErrFallingBack, agentbox.ErrRetrying, agentbox.ErrFallingBack} {
		if i < len(resp.Warnings) && !errors.Is(resp.Warnings[i], what) {
			t.Errorf("warning %d (%v) does not match %v", i, resp.Warnings[i], what)
		}
	}
}

func TestFailFast(t *testing.T) {
	for _, tt := range []struct {
		name     string
		resp     openroutertest.Response
		models   []string
		requests int
		text     string
	}{
		{"auth", httpError(t, "401_user_not_found.http"), []string{"a/one", "b/two"}, 1, ""},
		{"no credits", httpError(t, "402_insufficient_credits.http"), []string{"a/one", "b/two"}, 1, ""},
		{"no credits, a free model left", httpError(t, "402_insufficient_credits.http"), []string{"a/one", "b/two:free"}, 2, "free"},
		{"daily cap waits no retry", httpError(t, "429_daily_cap.http"), []string{"a/one"}, 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := openroutertest.NewServer(t, tt.resp, openroutertest.FromStep(agentboxtest.Reply("free")))
			resp, err := stream(t, newProvider(t, srv, openrouter.Config{Models: tt.models}))
			if n := len(srv.ChatRequests()); n != tt.requests || resp.Text != tt.text {
				t.Errorf("%d requests, text %q, error %v; want %d, %q", n, resp.Text, err, tt.requests, tt.text)
			}
		})
	}
}

func TestRetryAfterLongerThanAllowedMovesOn(t *testing.T) {
	srv := openroutertest.NewServer(t, httpError(t, "429_upstream_retry_after.http"), openroutertest.FromStep(agentboxtest.Reply("other")))
	start := time.Now()
	resp, err := stream(t, newProvider(t, srv, openrouter.Config{Models: []string{"a/one", "b/two"}, MaxRetryDelay: time.Second}))
	if err != nil || resp.Text != "other" || time.Since(start) > 5*time.Second {
		t.Errorf("a 429 asking for 60s with MaxRetryDelay 1s: %q, %v after %v; want the next model at once", resp.Text, err, time.Since(start))
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	// A server that echoes the Authorization header in its error message.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		msg, _ := json.Marshal("bad header: " + r.Header.Get("Authorization"))
		fmt.Fprintf(w, `{"error":{"code":400,"message":%s}}`, msg)
	}))
	defer echo.Close()
	p, err := openrouter.New(openrouter.Config{APIKey: testKey, BaseURL: echo.URL, Models: []string{"test/model"}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream(t, p)
	if err == nil || !strings.Contains(err.Error(), "bad header: Bearer [redacted]") {
		t.Errorf("error = %v, want the echo with the key redacted", err)
	}
	for _, s := range []string{fmt.Sprint(err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), p.String(), fmt.Sprintf("%v %+v %#v", p, p, p)} {
		if strings.Contains(s, testKey) {
			t.Errorf("%q shows the key", s)
		}
	}
}

func TestTimeoutAndUnreachable(t *testing.T) {
	srv := openroutertest.NewServer(t, openroutertest.Status(408, `{"error":{"code":408,"message":"Request timed out"}}`))
	_, err := stream(t, newProvider(t, srv, openrouter.Config{MaxRetries: -1}))
	if pe := providerError(t, err); pe.Kind != agentbox.KindTimeout || !pe.Retryable {
		t.Errorf("408: %v, kind %q", err, pe.Kind)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there now
	p, err := openrouter.New(openrouter.Config{APIKey: testKey, BaseURL: down.URL, Models: []string{"test/model"}, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream(t, p)
	if pe := providerError(t, err); pe.Kind != agentbox.KindUpstream || !strings.Contains(err.Error(), "no response") || len(resp.Warnings) != 2 {
		t.Errorf("an unreachable server: %v (kind %q), %d retries; want upstream after 2 retries", err, pe.Kind, len(resp.Warnings))
	}
}

// TestKeyNeverInErrorFields has servers echo the key into every field of
// their errors (message, code, type, metadata at any depth, its keys too):
// no field of the ProviderError, nor any error it wraps, may show it,
// however printed, for an error status, an error in the stream, an error
// in a choice, and Check.
func TestKeyNeverInErrorFields(t *testing.T) {
	echoed := func(r *http.Request) string {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		data, _ := json.Marshal(map[string]any{
			"code":       key,
			"message":    "who is " + key + "?",
			"error_type": key,
			"metadata": map[string]any{
				"raw":           "upstream said: " + key,
				"provider_name": key,
				key:             true,
				"headers":       map[string]any{"X-Echo": key},
				"list":          []any{key, map[string]any{"deep": []any{key}}},
			},
		})
		return string(data)
	}
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%s}`, echoed(r))
	}))
	defer status.Close()
	inStream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n")
		fmt.Fprintf(w, "data: {\"id\":\"1\",\"error\":%s}\n\n", echoed(r))
	}))
	defer inStream.Close()
	inChoice := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{},\"error\":%s}]}\n\n", echoed(r))
	}))
	defer inChoice.Close()
	provider := func(url string) *openrouter.Provider {
		p, err := openrouter.New(openrouter.Config{APIKey: testKey, BaseURL: url, Models: []string{"test/model"}, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, statusErr := stream(t, provider(status.URL))
	_, streamErr := stream(t, provider(inStream.URL))
	_, choiceErr := stream(t, provider(inChoice.URL))
	checkErr := provider(status.URL).Check(t.Context())
	for i, err := range []error{statusErr, streamErr, choiceErr, checkErr} {
		pe := providerError(t, err)
		if pe.Code != "[redacted]" || pe.Message != "who is [redacted]?" {
			t.Errorf("error %d: code %q, message %q; want the server's, the key redacted", i, pe.Code, pe.Message)
		}
		if raw, _ := pe.Metadata["raw"].(string); raw != "upstream said: [redacted]" {
			t.Errorf("error %d: metadata raw %q; want the server's, the key redacted", i, raw)
		}
		for _, s := range errorTexts(err) {
			if strings.Contains(s, testKey) {
				t.Errorf("error %d shows the key: %s", i, s)
			}
		}
	}
}

// errorTexts returns err and every error it wraps as %v, %+v, %#v and JSON
// print them.
func errorTexts(err error) []string {
	var texts []string
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		data, _ := json.Marshal(err)
		texts = append(texts, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), string(data))
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return texts
}
