package openroutertest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// post sends a chat completion request and returns the status and body.
func post(t *testing.T, url, key, body string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", url+"/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}

func TestServer(t *testing.T) {
	srv := openroutertest.NewServer(t,
		openroutertest.Status(429, `{"error":{"code":429,"message":"slow down"}}`, "Retry-After", "2"),
		openroutertest.FromStep(agentboxtest.Reply("Hi")),
		openroutertest.Response{Events: []string{`{"choices":[]}`}, Drop: true},
	)
	srv.APIKey = "sk-or-test"
	srv.Models = []string{"m/one"}
	for _, tt := range []struct {
		key, body string
		status    int
		contains  string
	}{
		{"wrong", `{"model":"m/one"}`, 401, "User not found."},
		{"sk-or-test", `{"model":"m/two"}`, 400, "m/two is not a valid model ID"},
		{"sk-or-test", `{"model":"m/one"}`, 429, "slow down"},
		{"sk-or-test", `{"model":"m/one"}`, 200, `"content":"Hi"`},
	} {
		status, body, err := post(t, srv.URL, tt.key, tt.body)
		if err != nil || status != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("POST %s with key %s = %d %q, %v; want %d with %q", tt.body, tt.key, status, body, err, tt.status, tt.contains)
		}
	}
	if _, body, err := post(t, srv.URL, "sk-or-test", `{"model":"m/one"}`); err == nil && strings.HasSuffix(body, "[DONE]\n\n") {
		t.Errorf("a dropped response ended properly: %q", body)
	}
	if status, body, _ := post(t, srv.URL, "sk-or-test", `{"model":"m/one"}`); status != 500 || !strings.Contains(body, "no more scripted responses") {
		t.Errorf("after the script: %d %q", status, body)
	}
	if n := len(srv.ChatRequests()); n != 6 {
		t.Errorf("recorded %d chat requests, want 6", n)
	}
}
