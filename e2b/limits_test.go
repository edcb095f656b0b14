package e2b_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestAHugeMessageFromEnvdIsRefused lists a folder whose listing is larger
// than the largest message the sandbox reads from envd (lowered to 8 KiB
// for the test; 32 MiB otherwise): List fails with an error that says so,
// instead of reading it all, and the sandbox goes on working.
func TestAHugeMessageFromEnvdIsRefused(t *testing.T) {
	defer e2b.SetMaxEnvdMessage(8 << 10)()
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	var files []agentbox.File
	for i := range 200 {
		files = append(files, agentbox.File{Path: fmt.Sprintf("many/file-with-a-long-name-%03d.txt", i), Data: []byte("x")})
	}
	if err := sb.WriteFiles(t.Context(), files); err != nil {
		t.Fatal(err)
	}
	infos, err := sb.List(t.Context(), "many")
	if err == nil || !strings.Contains(err.Error(), "larger than configured max") {
		t.Errorf("List of 200 files in 8 KiB: %d entries, %v; want an error saying the message is too large", len(infos), err)
	}
	if err := sb.WriteFiles(t.Context(), files[:1]); err != nil {
		t.Errorf("WriteFiles after the refused listing: %v", err)
	}
	if infos, err := sb.List(t.Context(), "."); err != nil || len(infos) != 1 {
		t.Errorf("a small List after the refused one: %v, %v", infos, err)
	}
}

// TestAHugeAnswerFromTheControlPlaneIsRefused has a control plane answer a
// create with 256 MiB of JSON: New fails, saying the answer is too large,
// having read no more than 16 MiB of it: New allocates less than 128 MB, where
// reading the whole answer takes more than 512 MB.
func TestAHugeAnswerFromTheControlPlaneIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"sandboxID":"`))
		chunk := bytes.Repeat([]byte("a"), 1<<20)
		for range 256 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(`"}`))
	}))
	defer srv.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := e2b.New(t.Context(), e2b.Config{APIKey: "e2b_test", APIURL: srv.URL, HTTPClient: srv.Client()})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("New with a 256 MiB answer: %v; want an error saying it is too large", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 128<<20 {
		t.Errorf("New allocated %d MB", n>>20)
	}
	srv.Client().CloseIdleConnections()
}

// TestPathsLongerThanLinuxTakesAreRefused writes, opens and lists a path
// 5,000 folders deep, longer than Linux's PATH_MAX: each is refused before
// anything is sent to envd, which would refuse it after working at it.
func TestPathsLongerThanLinuxTakesAreRefused(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	deep := strings.Repeat("d/", 5000) + "f"
	before := len(srv.Requests())
	if err := sb.WriteFiles(t.Context(), []agentbox.File{{Path: deep, Data: []byte("x")}}); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("WriteFiles: %v; want ENAMETOOLONG", err)
	}
	if _, err := sb.Open(t.Context(), deep); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("Open: %v; want ENAMETOOLONG", err)
	}
	if _, err := sb.List(t.Context(), deep); !errors.Is(err, syscall.ENAMETOOLONG) || len(err.Error()) > 200 {
		t.Errorf("List: %v; want a short ENAMETOOLONG", err)
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("%d requests sent for refused paths", n)
	}
}
