package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/examples/internal/replay"
)

// fetch GETs path from srv and returns the status and body.
func fetch(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestTheFilesView lists the workspace of a chat and shows its files,
// through the chat's own sandbox: relative paths inside it only, text files
// up to 256 KiB.
func TestTheFilesView(t *testing.T) {
	needNode(t)
	a, srv := startApp(t, nil)
	if code, _ := fetch(t, srv, "/api/files?chat=chat-1"); code != http.StatusNoContent {
		t.Errorf("files of a chat with no sandbox: %d, want 204", code)
	}
	if code, _ := fetch(t, srv, "/api/file?chat=chat-1&path=index.html"); code != http.StatusNotFound {
		t.Errorf("a file of a chat with no sandbox: %d, want 404", code)
	}
	chat(t, srv, userMessage(replay.Prompt)) // chat-1 builds the app

	code, body := fetch(t, srv, "/api/files?chat=chat-1")
	var listing struct {
		Files []struct {
			Path string
			Size int64
			Dir  bool
		}
		Truncated bool
	}
	if code != 200 || json.Unmarshal([]byte(body), &listing) != nil {
		t.Fatalf("files: %d %s", code, body)
	}
	got := map[string]int64{}
	for _, f := range listing.Files {
		got[f.Path] = f.Size
	}
	for _, name := range []string{"index.html", "server.js", "test.js"} {
		if got[name] == 0 {
			t.Errorf("the listing lacks %s: %s", name, body)
		}
	}
	if code, body := fetch(t, srv, "/api/file?chat=chat-1&path=index.html"); code != 200 || !strings.Contains(body, `id="add"`) {
		t.Errorf("index.html: %d %.200s", code, body)
	}

	sb := a.chats.Sandbox(httptest.NewRequest("GET", "/", nil), "chat-1")
	err := sb.WriteFiles(context.Background(), []agentbox.File{
		{Path: "deep/a/b/c.txt", Data: []byte("nested\n")},
		{Path: "logo.png", Data: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")},
		{Path: "big.txt", Data: []byte(strings.Repeat("x", 300<<10))},
		{Path: "node_modules/left-pad/index.js", Data: []byte("module.exports = 1\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, body = fetch(t, srv, "/api/files?chat=chat-1")
	if !strings.Contains(body, `"deep/a/b/c.txt"`) || !strings.Contains(body, `"node_modules"`) || strings.Contains(body, "left-pad") {
		t.Errorf("the listing should hold deep/a/b/c.txt and node_modules, not node_modules' contents: %s", body)
	}
	for _, tt := range []struct {
		path string
		want int
	}{
		{"deep/a/b/c.txt", 200},
		{"logo.png", http.StatusUnsupportedMediaType},
		{"big.txt", http.StatusRequestEntityTooLarge},
		{"missing.txt", http.StatusNotFound},
		{"../outside.txt", http.StatusBadRequest},
		{"/etc/passwd", http.StatusBadRequest},
		{"deep/../../etc/passwd", http.StatusBadRequest},
		{"", http.StatusBadRequest},
	} {
		code, body := fetch(t, srv, "/api/file?chat=chat-1&path="+url.QueryEscape(tt.path))
		if code != tt.want {
			t.Errorf("file %q: %d %.100s, want %d", tt.path, code, body, tt.want)
		}
	}
	if code, _ := fetch(t, srv, "/api/files?chat=someone-else"); code != http.StatusNoContent {
		t.Errorf("files of another chat: %d, want 204", code)
	}
}
