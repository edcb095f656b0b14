package local_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/internal/testkit"
	"github.com/agentbox/agentbox/local"
)

// installServer copies the test binary into the folder dir, as ./server: run
// with LOCAL_TEST_SERVE=PORT, it serves servedText on that port.
func installServer(t *testing.T, dir string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server"), data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// get fetches url and returns its body.
func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestPreviewURLOfAServer(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso})
			installServer(t, sb.Dir())
			port := testkit.FreePort(t)
			p, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: "./server", Env: map[string]string{"LOCAL_TEST_SERVE": strconv.Itoa(port)}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			url, err := sb.PreviewURL(ctx, port)
			if err != nil {
				t.Fatalf("PreviewURL: %v", err)
			}
			if want := "http://127.0.0.1:" + strconv.Itoa(port); url != want {
				t.Errorf("PreviewURL = %q, want %q", url, want)
			}
			// Handed out only once the port listens: the first request works.
			if body, err := get(url); err != nil || body != servedText {
				t.Errorf("GET %s = %q, %v; want %q", url, body, err, servedText)
			}
			if err := sb.StopProcess(t.Context(), p.ID()); err != nil {
				t.Fatal(err)
			}
			if _, err := get(url); err == nil {
				t.Errorf("GET %s answered after StopProcess", url)
			}
		})
	}
}

func TestPreviewURLWaits(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	ctx := t.Context()
	port := testkit.FreePort(t)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if url, err := sb.PreviewURL(short, port); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PreviewURL of a port nothing listens on = %q, %v; want context.DeadlineExceeded", url, err)
	}
	for _, bad := range []int{0, -1, 70000} {
		if _, err := sb.PreviewURL(ctx, bad); err == nil {
			t.Errorf("PreviewURL(%d): no error", bad)
		}
	}
	// Close ends a wait.
	errs := make(chan error, 1)
	go func() {
		_, err := sb.PreviewURL(ctx, port)
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond)
	sb.Close(ctx)
	if err := <-errs; !errors.Is(err, agentbox.ErrClosed) {
		t.Errorf("PreviewURL when the sandbox closes: %v, want agentbox.ErrClosed", err)
	}
}

func TestPreviewURLOfAnIPv6Server(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	sb := newSandbox(t, local.Config{Isolation: local.None})
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	url, err := sb.PreviewURL(ctx, port)
	if want := "http://[::1]:" + strconv.Itoa(port); err != nil || url != want {
		t.Errorf("PreviewURL of a port only ::1 listens on = %q, %v; want %q", url, err, want)
	}
}
