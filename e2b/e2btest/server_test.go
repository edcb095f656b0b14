package e2btest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentbox/agentbox/e2b/e2btest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// call sends a request to the fake and returns the status and the body.
func call(t *testing.T, srv *e2btest.Server, method, url, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

// create creates a sandbox through the REST API and returns its ID and
// envd access token.
func create(t *testing.T, srv *e2btest.Server, body string) (id, token string) {
	t.Helper()
	status, _, resp := call(t, srv, "POST", "https://api.example.com/sandboxes", body, map[string]string{"X-API-Key": srv.APIKey()})
	var sb struct {
		SandboxID, EnvdVersion, TemplateID string
		EnvdAccessToken                    *string
	}
	if status != http.StatusCreated || json.Unmarshal([]byte(resp), &sb) != nil || sb.SandboxID == "" || sb.EnvdVersion == "" {
		t.Fatalf("POST /sandboxes = %d %s, want 201 and a sandbox", status, resp)
	}
	if sb.EnvdAccessToken != nil {
		token = *sb.EnvdAccessToken
	}
	return sb.SandboxID, token
}

func TestControlPlane(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	if status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes", `{"templateID":"base"}`, nil); status != http.StatusUnauthorized || !strings.Contains(body, `"code":401`) {
		t.Errorf("POST /sandboxes without a key = %d %s, want 401 with E2B's error body", status, body)
	}
	key := map[string]string{"X-API-Key": srv.APIKey()}
	if status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes", `{}`, key); status != http.StatusBadRequest {
		t.Errorf("POST /sandboxes without a template = %d %s, want 400", status, body)
	}
	id, token := create(t, srv, `{"templateID":"base","secure":true,"metadata":{"app":"a"}}`)
	if token == "" {
		t.Error("a secure sandbox has no envd access token")
	}
	if _, plain := create(t, srv, `{"templateID":"base","metadata":{"app":"a"}}`); plain != "" {
		t.Error("a sandbox not asked secure has an access token")
	}
	create(t, srv, `{"templateID":"base","metadata":{"app":"a"}}`)
	create(t, srv, `{"templateID":"base"}`)

	// Pages of the list, by metadata.
	var ids []string
	next := ""
	for page := 0; page < 5; page++ {
		url := "https://api.example.com/v2/sandboxes?metadata=app%3Da&limit=2"
		if next != "" {
			url += "&nextToken=" + next
		}
		status, header, body := call(t, srv, "GET", url, "", key)
		var listed []struct{ SandboxID string }
		if status != http.StatusOK || json.Unmarshal([]byte(body), &listed) != nil {
			t.Fatalf("GET /v2/sandboxes = %d %s", status, body)
		}
		for _, l := range listed {
			ids = append(ids, l.SandboxID)
		}
		if next = header.Get("X-Next-Token"); next == "" {
			break
		}
	}
	if len(ids) != 3 || ids[0] != id {
		t.Errorf("listed %v by metadata in pages of 2, want the 3 sandboxes with app=a, oldest first", ids)
	}

	if status, _, _ := call(t, srv, "POST", "https://api.example.com/sandboxes/"+id+"/timeout", `{"timeout":3600}`, key); status != http.StatusNoContent {
		t.Errorf("POST timeout = %d, want 204", status)
	}
	status, _, body := call(t, srv, "GET", "https://api.example.com/sandboxes/"+id, "", key)
	var detail struct {
		SandboxID string
		EndAt     time.Time
		Metadata  map[string]string
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &detail) != nil || detail.SandboxID != id || detail.Metadata["app"] != "a" {
		t.Errorf("GET /sandboxes/{id} = %d %s, want the sandbox's detail", status, body)
	} else if left := time.Until(detail.EndAt); left < 59*time.Minute {
		t.Errorf("the sandbox ends in %v after a timeout of an hour", left)
	}
	if status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes/"+id+"/connect", `{"timeout":60}`, key); status != http.StatusOK || !strings.Contains(body, id) {
		t.Errorf("POST connect = %d %s, want 200 and the sandbox", status, body)
	}
	if status, _, _ := call(t, srv, "DELETE", "https://api.example.com/sandboxes/"+id, "", key); status != http.StatusNoContent {
		t.Errorf("DELETE = %d, want 204", status)
	}
	if status, _, _ := call(t, srv, "DELETE", "https://api.example.com/sandboxes/"+id, "", key); status != http.StatusNotFound {
		t.Errorf("DELETE again = %d, want 404", status)
	}
	if st := srv.Stats(); st.Created != 4 || st.Killed != 1 || st.Alive != 3 {
		t.Errorf("Stats = %+v, want 4 created, 1 killed, 3 alive", st)
	}
}

// TestEdge checks how the fake answers as E2B's edge and envd do.
func TestEdge(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	id, token := create(t, srv, `{"templateID":"base","secure":true}`)
	envd := fmt.Sprintf("https://49983-%s.%s", id, e2btest.Domain)
	if status, _, _ := call(t, srv, "GET", envd+"/health", "", nil); status != http.StatusNoContent {
		t.Errorf("GET /health = %d, want 204 (no token needed)", status)
	}
	if status, _, body := call(t, srv, "GET", envd+"/files?path=x", "", nil); status != http.StatusUnauthorized || !strings.Contains(body, `"code":401`) {
		t.Errorf("GET /files without the access token = %d %s, want envd's 401", status, body)
	}
	auth := map[string]string{"X-Access-Token": token}
	if status, _, body := call(t, srv, "GET", envd+"/files?path=missing.txt", "", auth); status != http.StatusNotFound || !strings.Contains(body, "does not exist") {
		t.Errorf("GET /files of a missing file = %d %s, want 404", status, body)
	}
	if status, _, body := call(t, srv, "GET", fmt.Sprintf("https://3000-%s.%s/", id, e2btest.Domain), "", nil); status != http.StatusBadGateway || !strings.Contains(body, "port is not open") {
		t.Errorf("GET of a closed port = %d %s, want the edge's 502", status, body)
	}
	srv.Kill(id)
	if status, _, body := call(t, srv, "GET", envd+"/health", "", nil); status != http.StatusBadGateway || !strings.Contains(body, "sandbox was not found") {
		t.Errorf("GET /health of a dead sandbox = %d %s, want the edge's 502", status, body)
	}
	if st := srv.Stats(); st.Died != 1 || st.Alive != 0 {
		t.Errorf("Stats = %+v, want 1 died", st)
	}
}

func TestFailuresAndLifetimes(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	srv.FailCreates(http.StatusTooManyRequests, 1)
	key := map[string]string{"X-API-Key": srv.APIKey()}
	if status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes", `{"templateID":"base"}`, key); status != http.StatusTooManyRequests || !strings.Contains(body, "concurrent") {
		t.Errorf("POST /sandboxes after FailCreates(429) = %d %s", status, body)
	}
	create(t, srv, `{"templateID":"base","timeout":1}`)
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Expired == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := srv.Stats(); st.Expired != 1 || st.Alive != 0 || st.Created != 1 {
		t.Errorf("Stats after a 1-second lifetime = %+v, want 1 created and expired", st)
	}
}
