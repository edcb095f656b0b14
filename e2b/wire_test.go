package e2b_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/e2b/internal/envd/process"
	"github.com/agentbox/agentbox/internal/testkit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// newSandbox creates a sandbox on srv, killed when the test ends.
func newSandbox(t *testing.T, cfg e2b.Config) *e2b.Sandbox {
	t.Helper()
	sb, err := e2b.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

// TestWireProtocol checks the requests the sandbox sends, as the fake saw
// them: hosts, headers, how commands are started, one upload for many files.
func TestWireProtocol(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	ctx := t.Context()
	id := sb.ID()
	token := srv.AccessToken(id)
	if token == "" {
		t.Fatal("the sandbox has no access token: New must ask for a secure sandbox")
	}
	for _, s := range []string{fmt.Sprint(sb), fmt.Sprintf("%+v", sb), fmt.Sprintf("%#v", sb)} {
		if strings.Contains(s, token) || strings.Contains(s, srv.APIKey()) {
			t.Errorf("the sandbox prints a secret: %s", s)
		}
	}
	files := []agentbox.File{{Path: "a.txt", Data: []byte("a")}, {Path: "sub/b.txt", Data: []byte("b")}, {Path: "sub/deeper/c.txt", Data: []byte("c")}}
	if err := sb.WriteFiles(ctx, files); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	var out bytes.Buffer
	res, err := sb.Run(ctx, agentbox.Command{Cmd: `echo "$GREETING from $(basename "$PWD")"`, Dir: "sub", Env: map[string]string{"GREETING": "hi"}, Timeout: 30 * time.Second, Stdout: &out})
	if err != nil || res.ExitCode != 0 || out.String() != "hi from sub\n" {
		t.Fatalf("Run = %+v, %v, output %q; want exit 0 and %q", res, err, out.String(), "hi from sub\n")
	}
	p, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "sleep 30"})
	if err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	if err := sb.StopProcess(ctx, p.ID()); err != nil {
		t.Fatalf("StopProcess: %v", err)
	}
	if _, err := sb.List(ctx, "sub"); err != nil {
		t.Fatalf("List: %v", err)
	}

	var uploads, starts int
	for _, r := range srv.Requests() {
		if r.Header.Get("User-Agent") != "agentbox-go" {
			t.Errorf("%s %s has User-Agent %q, want agentbox-go", r.Method, r.Path, r.Header.Get("User-Agent"))
		}
		if r.Host == "api."+e2btest.Domain {
			if r.Header.Get("X-API-Key") != srv.APIKey() {
				t.Errorf("%s %s to the control plane lacks the API key", r.Method, r.Path)
			}
			if r.Header.Get("X-Access-Token") != "" {
				t.Errorf("%s %s to the control plane carries the sandbox's access token", r.Method, r.Path)
			}
			continue
		}
		if want := strconv.Itoa(e2b.EnvdPort) + "-" + id + "." + e2btest.Domain; r.Host != want {
			t.Errorf("%s %s went to host %q, want %q", r.Method, r.Path, r.Host, want)
			continue
		}
		if r.Header.Get("X-Access-Token") != token || r.Header.Get("E2b-Sandbox-Id") != id || r.Header.Get("X-API-Key") != "" {
			t.Errorf("%s %s to envd has X-Access-Token %t, E2b-Sandbox-Id %q and X-API-Key %t; want the token, the ID and no API key",
				r.Method, r.Path, r.Header.Get("X-Access-Token") == token, r.Header.Get("E2b-Sandbox-Id"), r.Header.Get("X-API-Key") != "")
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("%s %s sends Authorization although no user was chosen", r.Method, r.Path)
		}
		switch r.Path {
		case "/files":
			if r.Method == "POST" {
				uploads++
				if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
					t.Errorf("POST /files has Content-Type %q, want multipart/form-data", r.Header.Get("Content-Type"))
				}
			}
		case "/process.Process/Start":
			starts++
			if got := r.Header.Get("Keepalive-Ping-Interval"); got != "50" {
				t.Errorf("Start has Keepalive-Ping-Interval %q, want 50", got)
			}
			if got := r.Header.Get("Content-Type"); got != "application/connect+proto" {
				t.Errorf("Start has Content-Type %q, want application/connect+proto: output travels as it is, not base64 in JSON", got)
			}
			if got := r.Header.Get("Connect-Accept-Encoding"); got != "" {
				t.Errorf("Start has Connect-Accept-Encoding %q, want none: envd would gzip every message", got)
			}
		case "/filesystem.Filesystem/ListDir":
			if got := r.Header.Get("Content-Type"); got != "application/proto" {
				t.Errorf("ListDir has Content-Type %q, want application/proto", got)
			}
		}
	}
	if uploads != 1 {
		t.Errorf("WriteFiles of %d files made %d uploads, want 1", len(files), uploads)
	}
	if starts < 2 {
		t.Errorf("%d Process.Start requests, want at least 2", starts)
	}

	cmds := srv.Commands()
	if len(cmds) < 2 {
		t.Fatalf("the fake started %d processes, want at least 2", len(cmds))
	}
	run, bg := cmds[0], cmds[1]
	if want := []string{"-l", "-c", `echo "$GREETING from $(basename "$PWD")"`}; run.Cmd != "/bin/bash" || !slices.Equal(run.Args, want) {
		t.Errorf("Run started %q %q, want /bin/bash %q", run.Cmd, run.Args, want)
	}
	if run.Cwd != "~/sub" || run.Env["GREETING"] != "hi" {
		t.Errorf("Run started with cwd %q and env %v, want ~/sub and GREETING=hi", run.Cwd, run.Env)
	}
	if ms, err := strconv.Atoi(run.Timeout); err != nil || ms <= 30_000 || ms > 35_000 {
		t.Errorf("Run with Timeout 30s sent Connect-Timeout-Ms %q, want about 35000: the Timeout and a grace", run.Timeout)
	}
	if bg.Timeout != "" || bg.Cwd != "~" {
		t.Errorf("StartProcess sent Connect-Timeout-Ms %q and cwd %q, want none and ~: a background process has no time limit, and runs in the home, not the template's workdir", bg.Timeout, bg.Cwd)
	}
	if !strings.HasPrefix(run.Tag, "agentbox-") || run.Tag == bg.Tag {
		t.Errorf("processes tagged %q and %q, want distinct agentbox- tags", run.Tag, bg.Tag)
	}
	for _, f := range files {
		if got, err := os.ReadFile(filepath.Join(srv.Home(id), f.Path)); err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s in the sandbox's home = %q, %v; want %q", f.Path, got, err, f.Data)
		}
	}
}

// TestUser checks that a chosen user is sent as envd's Basic authorization
// and as the owner of uploads.
func TestUser(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	cfg.User = "user"
	sb := newSandbox(t, cfg)
	if err := sb.WriteFiles(t.Context(), []agentbox.File{{Path: "f", Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.Host == "api."+e2btest.Domain {
			continue
		}
		if got := r.Header.Get("Authorization"); got != "Basic dXNlcjo=" { // base64("user:")
			t.Errorf("%s %s has Authorization %q, want Basic base64(\"user:\")", r.Method, r.Path, got)
		}
	}
}

// TestExitCodes checks exit codes as envd sends them in the end event (in
// its JSON form: 0 is omitted, a killed process has -1 and exited false).
func TestExitCodes(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	wire := &recorder{next: cfg.HTTPClient.Transport}
	cfg.HTTPClient = &http.Client{Transport: wire}
	sb := newSandbox(t, cfg)
	for _, tt := range []struct {
		cmd  string
		want int
		end  string // the end event on the wire
	}{
		{"true", 0, `{"exited":true,"status":"exit status 0"}`},
		{"exit 3", 3, `{"exitCode":3,"exited":true,"status":"exit status 3","error":"exit status 3"}`},
		{"exit 255", 255, `{"exitCode":255,"exited":true,"status":"exit status 255","error":"exit status 255"}`},
		{"kill -KILL $$", -1, `{"exitCode":-1,"status":"signal: killed","error":"signal: killed"}`},
	} {
		wire.reset()
		res, err := sb.Run(t.Context(), agentbox.Command{Cmd: tt.cmd})
		if err != nil || res.ExitCode != tt.want {
			t.Errorf("Run(%q) = %+v, %v; want exit code %d and no error", tt.cmd, res, err, tt.want)
		}
		var want, got any
		json.Unmarshal([]byte(tt.end), &want)
		msgs := messages(t, wire.String())
		for _, m := range msgs {
			var resp process.StartResponse
			if proto.Unmarshal([]byte(m), &resp) != nil {
				continue
			}
			if end := resp.GetEvent().GetEnd(); end != nil {
				js, _ := protojson.Marshal(end)
				json.Unmarshal(js, &got)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Run(%q): the end event on the wire differs (-want +got):\n%s\nstream: %q", tt.cmd, diff, msgs)
		}
	}
}

// messages decodes a Connect stream's envelopes (a flags byte, a 4-byte
// big-endian length, the message, gzipped when flags has bit 0) into its
// messages; the last is the end of the stream, JSON.
func messages(t *testing.T, stream string) []string {
	t.Helper()
	var out []string
	for len(stream) >= 5 {
		flags, n := stream[0], int(binary.BigEndian.Uint32([]byte(stream[1:5])))
		if len(stream) < 5+n {
			t.Fatalf("a stream envelope of %d bytes is cut at %d", n, len(stream)-5)
		}
		msg := stream[5 : 5+n]
		stream = stream[5+n:]
		if flags&1 != 0 {
			zr, err := gzip.NewReader(strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			msg = string(data)
		}
		out = append(out, msg)
	}
	return out
}

// A recorder keeps the bodies of the responses to Process.Start.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil && req.URL.Path == "/process.Process/Start" {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(resp.Body, r), resp.Body}
	}
	return resp, err
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Reset()
}

// TestNothingACommandStartsSurvivesIt checks that a command's children die
// with it, though envd signals only the process itself: when its ctx ends,
// when it times out, and when it is stopped.
func TestNothingACommandStartsSurvivesIt(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	const cmd = "sleep 1000 & echo $! > child.pid; sleep 1000; wait"
	childOf := func(t *testing.T) int {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			data, err := os.ReadFile(filepath.Join(srv.Home(sb.ID()), "child.pid"))
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && perr == nil {
				os.Remove(filepath.Join(srv.Home(sb.ID()), "child.pid"))
				return pid
			}
			if time.Now().After(deadline) {
				t.Fatal("the command did not write child.pid")
			}
		}
	}
	for _, tt := range []struct {
		name string
		run  func(t *testing.T) int
	}{
		{"cancelled", func(t *testing.T) int {
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { _, err := sb.Run(ctx, agentbox.Command{Cmd: cmd}); done <- err }()
			pid := childOf(t)
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run cancelled: %v, want context.Canceled", err)
			}
			return pid
		}},
		{"timed out", func(t *testing.T) int {
			done := make(chan error, 1)
			go func() { _, err := sb.Run(t.Context(), agentbox.Command{Cmd: cmd, Timeout: time.Second}); done <- err }()
			pid := childOf(t)
			if err := <-done; !errors.Is(err, agentbox.ErrTimeout) {
				t.Errorf("Run timed out: %v, want agentbox.ErrTimeout", err)
			}
			return pid
		}},
		{"stopped", func(t *testing.T) int {
			p, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: cmd})
			if err != nil {
				t.Fatal(err)
			}
			pid := childOf(t)
			if err := sb.StopProcess(t.Context(), p.ID()); err != nil {
				t.Errorf("StopProcess: %v", err)
			}
			return pid
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pid := tt.run(t)
			for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the command's child %d is still alive", pid)
				}
			}
		})
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(data), ") ")
	return !strings.HasPrefix(after, "Z")
}

// TestDroppedConnections checks what happens when the network drops a
// command's stream while the sandbox lives: a background process is
// re-attached and its output goes on; a command is reported failed and
// killed, not left running unwatched.
func TestDroppedConnections(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	ctx := t.Context()
	var out testkit.Buffer
	p, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "for i in $(seq 1 40); do echo line $i; sleep 0.05; done", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "line 3\n") })
	srv.DropConnections(sb.ID())
	res, err := p.Wait(ctx)
	if err != nil || res.ExitCode != 0 {
		t.Errorf("Wait after a dropped stream = %+v, %v; want exit code 0", res, err)
	}
	if !strings.Contains(out.String(), "line 40\n") {
		t.Errorf("output after a dropped stream ends %q, want it to go on to line 40", tail(out.String()))
	}

	done := make(chan error, 1)
	go func() {
		_, err := sb.Run(ctx, agentbox.Command{Cmd: "sleep 1000 & echo $! > child.pid; wait"})
		done <- err
	}()
	var child int
	waitFor(t, func() bool {
		data, err := os.ReadFile(filepath.Join(srv.Home(sb.ID()), "child.pid"))
		child, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil && child > 0
	})
	srv.DropConnections(sb.ID())
	if err := <-done; err == nil || errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("Run whose stream dropped: error %v, want a connection error (the sandbox lives)", err)
	} else {
		t.Logf("Run whose stream dropped: %v", err)
	}
	waitFor(t, func() bool { return !alive(child) })
}

// waitFor waits until cond holds, failing t after 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting")
		}
	}
}

func tail(s string) string {
	if len(s) > 60 {
		return "…" + s[len(s)-60:]
	}
	return s
}

// TestHugeOutputStreams runs a command writing 16 MB: it all arrives, in
// order, as it is written, without being held in memory.
func TestHugeOutputStreams(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	const size = 16 << 20
	runtime.GC()
	before := liveHeap()
	var peak atomic.Uint64
	done := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Go(func() { // the live heap as each collection found it: garbage is not held
		for {
			if h := liveHeap(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	var n countWriter
	res, err := sb.Run(t.Context(), agentbox.Command{Cmd: fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x", size), Stdout: &n})
	close(done)
	sampling.Wait()
	if err != nil || res.ExitCode != 0 || n.n != size || n.bad {
		t.Fatalf("Run writing %d bytes = %+v, %v; got %d bytes (all x: %t)", size, res, err, n.n, !n.bad)
	}
	if grown := int64(peak.Load()) - int64(before); grown > 8<<20 {
		t.Errorf("the live heap grew by %d MB while streaming 16 MB", grown>>20)
	}
}

// liveHeap is the heap that the last garbage collection found in use.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A countWriter counts the bytes written to it and checks they are all 'x'.
type countWriter struct {
	n   int
	bad bool
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.bad = w.bad || bytes.Count(p, []byte{'x'}) != len(p)
	return len(p), nil
}
