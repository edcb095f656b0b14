package e2b_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestOneConnectionPerSandbox checks that commands, uploads, downloads and
// listings all reuse one connection to envd: a command's stream is read to
// its end, past the end event, or its connection could not be reused.
func TestOneConnectionPerSandbox(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{Debug: true})
	w := &wire{}
	hc := w.client()
	t.Cleanup(hc.CloseIdleConnections)
	sb := newSandbox(t, e2b.Config{Debug: true, SandboxURL: srv.DebugURL(), HTTPClient: hc})
	ctx := t.Context()
	for i := range 20 {
		var out strings.Builder
		if res, err := sb.Run(ctx, agentbox.Command{Cmd: "echo hi", Stdout: &out}); err != nil || res.ExitCode != 0 || out.String() != "hi\n" {
			t.Fatalf("Run %d: exit %d, %v, %q", i, res.ExitCode, err, out.String())
		}
		if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "f.txt", Data: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		r, err := sb.Open(ctx, "f.txt")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r)
		r.Close()
		if _, err := sb.List(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.dials.Load(); n != 1 {
		t.Errorf("20 rounds of Run, WriteFiles, Open and List dialled %d connections, want 1", n)
	}
}

// TestCloseEndsConnections checks that a sandbox made with no HTTPClient
// leaves no connection behind once closed: it has a transport of its own,
// whose idle connections Close closes.
func TestCloseEndsConnections(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{Debug: true})
	before := goleak.IgnoreCurrent()
	sb, err := e2b.New(t.Context(), e2b.Config{Debug: true, SandboxURL: srv.DebugURL()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("after Close: %v", err)
	}
}

// TestDownloadEncodingPerLink checks how downloads are asked for: without
// gzip from an envd on this machine, where compressing costs more than it
// saves, and with it (Go's transport asks, and decompresses) across a
// network.
func TestDownloadEncodingPerLink(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{Debug: true})
	data := []byte(strings.Repeat("the same line of text, again and again\n", 4096))
	for _, tt := range []struct {
		name string
		cfg  e2b.Config
		want string
	}{
		{"loopback", e2b.Config{Debug: true, SandboxURL: srv.DebugURL(), HTTPClient: srv.DebugClient()}, "identity"},
		{"network", srv.Config(), "gzip"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t, tt.cfg)
			if err := sb.WriteFiles(t.Context(), []agentbox.File{{Path: "text.txt", Data: data}}); err != nil {
				t.Fatal(err)
			}
			r, err := sb.Open(t.Context(), "text.txt")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(got) != string(data) {
				t.Fatalf("read %d bytes, %v; want the %d written", len(got), err, len(data))
			}
			asked := ""
			for _, req := range srv.Requests() {
				if req.Method == "GET" && req.Path == "/files" && req.Header.Get("E2b-Sandbox-Id") == sb.ID() {
					asked = req.Header.Get("Accept-Encoding")
				}
			}
			if asked != tt.want {
				t.Errorf("GET /files asked Accept-Encoding %q, want %q", asked, tt.want)
			}
		})
	}
}
