package e2btest_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox/e2b/e2btest"
)

// listed returns the IDs and states GET /v2/sandboxes lists with query.
func listed(t *testing.T, srv *e2btest.Server, query string) map[string]string {
	t.Helper()
	status, _, body := call(t, srv, "GET", "https://api.example.com/v2/sandboxes"+query, "", map[string]string{"X-API-Key": srv.APIKey()})
	var list []struct{ SandboxID, State string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("GET /v2/sandboxes%s = %d %s", query, status, body)
	}
	m := make(map[string]string)
	for _, l := range list {
		m[l.SandboxID] = l.State
	}
	return m
}

// TestPauseOnTheWire pauses and resumes a sandbox through the REST API, as
// the OpenAPI spec has it: pause answers 204, then 409; the paused sandbox
// is listed as paused, its lifetime cannot be set (404), E2B's edge answers
// its envd with 409 and the paused body; connect resumes it (201), then
// only extends it (200); the deprecated resume answers 409 for a running
// sandbox. Its files are there all along.
func TestPauseOnTheWire(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	key := map[string]string{"X-API-Key": srv.APIKey()}
	id, token := create(t, srv, `{"templateID":"base","secure":true,"timeout":60}`)
	other, _ := create(t, srv, `{"templateID":"base"}`)
	if err := os.WriteFile(filepath.Join(srv.Home(id), "kept.txt"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	api := "https://api.example.com/sandboxes/" + id
	health := "https://49983-" + id + ".example.com/health"
	envd := map[string]string{"X-Access-Token": token}

	if status, _, body := call(t, srv, "POST", api+"/pause", "", key); status != http.StatusNoContent {
		t.Fatalf("pause = %d %s, want 204", status, body)
	}
	if status, _, body := call(t, srv, "POST", api+"/pause", `{"memory":true}`, key); status != http.StatusConflict {
		t.Errorf("pause of a paused sandbox = %d %s, want 409", status, body)
	}
	status, _, body := call(t, srv, "GET", health, "", envd)
	var edge struct {
		SandboxID     string `json:"sandboxId"`
		Message       string `json:"message"`
		Code          int    `json:"code"`
		CanAutoResume *bool  `json:"canAutoResume"`
	}
	if status != http.StatusConflict || json.Unmarshal([]byte(body), &edge) != nil || edge.SandboxID != id ||
		edge.Message != "The sandbox is paused" || edge.Code != 409 || edge.CanAutoResume == nil {
		t.Errorf("envd of a paused sandbox = %d %s, want the edge's 409", status, body)
	}
	if status, _, body := call(t, srv, "GET", "https://3000-"+id+".example.com/", "", nil); status != http.StatusConflict {
		t.Errorf("a port of a paused sandbox = %d %s, want 409", status, body)
	}
	if got := listed(t, srv, "?state=paused"); len(got) != 1 || got[id] != "paused" {
		t.Errorf("listed paused: %v, want only %s", got, id)
	}
	if got := listed(t, srv, "?state=running"); len(got) != 1 || got[other] != "running" {
		t.Errorf("listed running: %v, want only %s", got, other)
	}
	if got := listed(t, srv, "?state=running,paused"); len(got) != 2 {
		t.Errorf("listed running and paused: %v, want both", got)
	}
	if status, _, body := call(t, srv, "GET", api, "", key); status != http.StatusOK || !strings.Contains(body, `"state":"paused"`) {
		t.Errorf("GET a paused sandbox = %d %s, want its state paused", status, body)
	}
	if status, _, body := call(t, srv, "POST", api+"/timeout", `{"timeout":60}`, key); status != http.StatusNotFound {
		t.Errorf("the lifetime of a paused sandbox = %d %s, want E2B's 404", status, body)
	}
	if st := srv.Stats(); st.Paused != 1 || st.PausedNow != 1 || st.Alive != 2 {
		t.Errorf("stats %+v, want one pause, one paused of two alive", st)
	}

	if status, _, body := call(t, srv, "POST", api+"/connect", `{"timeout":60}`, key); status != http.StatusCreated || !strings.Contains(body, token) {
		t.Fatalf("connect to a paused sandbox = %d %s, want 201 and the sandbox, its token unchanged", status, body)
	}
	if status, _, body := call(t, srv, "POST", api+"/connect", `{"timeout":60}`, key); status != http.StatusOK {
		t.Errorf("connect to a running sandbox = %d %s, want 200", status, body)
	}
	if status, _, body := call(t, srv, "POST", api+"/resume", `{"timeout":60}`, key); status != http.StatusConflict {
		t.Errorf("resume of a running sandbox = %d %s, want 409", status, body)
	}
	if status, _, body := call(t, srv, "GET", "https://49983-"+id+".example.com/files?path=kept.txt", "", envd); status != http.StatusOK || body != "kept" {
		t.Errorf("a file after resuming = %d %q, want it kept", status, body)
	}
	call(t, srv, "POST", api+"/pause", "", key)
	if status, _, body := call(t, srv, "POST", api+"/resume", `{}`, key); status != http.StatusCreated {
		t.Errorf("the deprecated resume of a paused sandbox = %d %s, want 201", status, body)
	}
	if st := srv.Stats(); st.Paused != 2 || st.Resumed != 2 || st.PausedNow != 0 {
		t.Errorf("stats %+v, want two pauses, two resumes, none paused", st)
	}
	if status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes/nope/pause", "", key); status != http.StatusNotFound {
		t.Errorf("pause of no sandbox = %d %s, want 404", status, body)
	}
}

// TestAutoPauseOnTheWire creates a sandbox with autoPause and a one-second
// lifetime: at its end it is paused, not killed, and connect resumes it.
func TestAutoPauseOnTheWire(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	key := map[string]string{"X-API-Key": srv.APIKey()}
	id, _ := create(t, srv, `{"templateID":"base","timeout":1,"autoPause":true,"allow_internet_access":false}`)
	if status, _, body := call(t, srv, "GET", "https://api.example.com/sandboxes/"+id, "", key); status != http.StatusOK ||
		!strings.Contains(body, `"onTimeout":"pause"`) || !strings.Contains(body, `"allowInternetAccess":false`) {
		t.Errorf("GET the sandbox = %d %s, want its lifecycle and internet access as created", status, body)
	}
	for deadline := time.Now().Add(5 * time.Second); srv.Stats().PausedNow == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not pause at the end of its lifetime: %+v", srv.Stats())
		}
	}
	if st := srv.Stats(); st.Expired != 0 || st.Alive != 1 || st.Paused != 1 {
		t.Errorf("stats %+v, want the sandbox paused, not expired", st)
	}
	if status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes/"+id+"/connect", `{"timeout":1}`, key); status != http.StatusCreated {
		t.Errorf("connect = %d %s, want 201", status, body)
	}
}

// TestForkOnTheWire forks a sandbox into two: each fork is a new sandbox,
// with its own token, the files of the source, and a folder of its own. A
// fork fails alone, in its entry of the answer. A paused sandbox cannot be
// forked (409), nor can 0 forks be asked for (400).
func TestForkOnTheWire(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	key := map[string]string{"X-API-Key": srv.APIKey()}
	id, token := create(t, srv, `{"templateID":"base","secure":true,"metadata":{"app":"a"}}`)
	if err := os.WriteFile(filepath.Join(srv.Home(id), "state.txt"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.FailCreates(http.StatusTooManyRequests, 1)
	status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes/"+id+"/fork", `{"count":3,"timeout":60}`, key)
	var results []struct {
		Sandbox *struct {
			SandboxID       string
			EnvdAccessToken string
		}
		Error *struct {
			Code    int
			Message string
		}
	}
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &results) != nil || len(results) != 3 {
		t.Fatalf("fork = %d %s, want 201 and three results", status, body)
	}
	if results[0].Error == nil || results[0].Error.Code != http.StatusTooManyRequests || results[0].Sandbox != nil {
		t.Errorf("the first fork, made to fail: %s", body)
	}
	for _, r := range results[1:] {
		if r.Sandbox == nil || r.Sandbox.SandboxID == id || r.Sandbox.EnvdAccessToken == "" || r.Sandbox.EnvdAccessToken == token {
			t.Fatalf("fork: %s, want new sandboxes with their own tokens", body)
		}
		data, err := os.ReadFile(filepath.Join(srv.Home(r.Sandbox.SandboxID), "state.txt"))
		if err != nil || string(data) != "before" {
			t.Errorf("the fork's file = %q, %v; want the source's", data, err)
		}
	}
	os.WriteFile(filepath.Join(srv.Home(results[1].Sandbox.SandboxID), "state.txt"), []byte("fork"), 0o644)
	if data, _ := os.ReadFile(filepath.Join(srv.Home(id), "state.txt")); string(data) != "before" {
		t.Errorf("writing in a fork changed the source: %q", data)
	}
	if got := listed(t, srv, "?metadata=app%3Da"); len(got) != 3 {
		t.Errorf("listed by the source's metadata: %v, want it and its two forks", got)
	}
	if st := srv.Stats(); st.Forked != 2 || st.Created != 1 || st.Alive != 3 {
		t.Errorf("stats %+v, want two forks of one sandbox", st)
	}
	if status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes/"+id+"/fork", `{"count":0}`, key); status != http.StatusBadRequest {
		t.Errorf("fork of 0 = %d %s, want 400", status, body)
	}
	call(t, srv, "POST", "https://api.example.com/sandboxes/"+id+"/pause", "", key)
	if status, _, body := call(t, srv, "POST", "https://api.example.com/sandboxes/"+id+"/fork", "", key); status != http.StatusConflict {
		t.Errorf("fork of a paused sandbox = %d %s, want 409", status, body)
	}
}
