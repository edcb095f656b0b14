package e2b_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/internal/testkit"
)

// TestPreviewURLWaitsForThePort starts a server that listens only after a
// moment: PreviewURL hands out its URL once the port answers, not while
// E2B's edge answers 502 for it.
func TestPreviewURLWaitsForThePort(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	ctx := t.Context()
	port := testkit.FreePort(t)
	want := fmt.Sprintf("https://%d-%s.%s", port, sb.ID(), e2btest.Domain)
	if _, err := get(ctx, srv.Client(), want); err == nil || !strings.Contains(err.Error(), "port is not open") {
		t.Fatalf("GET %s before the server runs: %v, want the edge's 502 saying the port is not open", want, err)
	}
	if _, err := sb.StartProcess(ctx, agentbox.Command{Cmd: serverCommand(t, port)}); err != nil {
		t.Fatal(err)
	}
	got, err := sb.PreviewURL(ctx, port)
	if err != nil || got != want {
		t.Fatalf("PreviewURL(%d) = %q, %v; want %q", port, got, err, want)
	}
	if body, err := get(ctx, srv.Client(), got); err != nil || body != servedText {
		t.Errorf("GET %s right after PreviewURL = %q, %v; want %q", got, body, err, servedText)
	}
}

func TestPreviewURLGivesUp(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	port := testkit.FreePort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := sb.PreviewURL(ctx, port); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PreviewURL of a port nothing listens on, for 300ms: %v, want context.DeadlineExceeded", err)
	}
	for _, bad := range []int{0, -1, 70000, e2b.EnvdPort} {
		if _, err := sb.PreviewURL(t.Context(), bad); err == nil {
			t.Errorf("PreviewURL(%d): no error", bad)
		}
	}
	done := make(chan error, 1)
	go func() { _, err := sb.PreviewURL(t.Context(), port); done <- err }()
	time.Sleep(100 * time.Millisecond)
	sb.Close(t.Context())
	if err := <-done; !errors.Is(err, agentbox.ErrClosed) {
		t.Errorf("PreviewURL waiting when the sandbox closes: %v, want agentbox.ErrClosed", err)
	}
}

// TestPreviewOfAnAppAnswering502 checks that an app's own 502 (not the
// edge's) counts as answering.
func TestPreviewOfAnAppAnswering502(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream of the app is down", http.StatusBadGateway)
	}))
	defer app.Close()
	u, _ := url.Parse(app.URL)
	var port int
	fmt.Sscan(u.Port(), &port)
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := sb.PreviewURL(ctx, port); err != nil {
		t.Errorf("PreviewURL of an app answering 502 itself: %v, want its URL", err)
	}
}
