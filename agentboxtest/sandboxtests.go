package agentboxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/internal/testkit"
	"github.com/google/go-cmp/cmp"
)

// RunSandboxTests checks that sandboxes made by newSandbox meet the
// [agentbox.Sandbox] contract, and those of [agentbox.ProcessStarter],
// [agentbox.Previewer], [agentbox.LifetimeSetter] and [agentbox.Resumable]
// when they have them. Each subtest gets a new sandbox, closed at the end
// of the subtest (with t.Cleanup). Commands used are those of sh that both bash (with
// coreutils, for fractional sleeps) and [Shell] run. The tests wait in real
// time, a few seconds in all.
func RunSandboxTests(t *testing.T, newSandbox func(t *testing.T) agentbox.Sandbox) {
	t.Helper()
	tests := []struct {
		name string
		test func(t *testing.T, sb agentbox.Sandbox)
	}{
		{"RoundTrip", testRoundTrip},
		{"Missing", testMissing},
		{"List", testList},
		{"CommandsSeeFiles", testCommandsSeeFiles},
		{"ExitCode", testExitCode},
		{"Output", testOutput},
		{"OutputOrder", testOutputOrder},
		{"Dir", testDir},
		{"Env", testEnv},
		{"Timeout", testTimeout},
		{"Cancel", testCancel},
		{"CloseTwice", testCloseTwice},
		{"UseAfterClose", testUseAfterClose},
		{"Concurrent", testConcurrent},
		{"Process", testProcess},
		{"ProcessEndsAtClose", testProcessEndsAtClose},
		{"Preview", testPreview},
		{"Lifetime", testLifetime},
		{"Ref", testRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := sb.Close(ctx); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.test(t, sb)
		})
	}
}

// patience bounds what should take a moment, so that a broken sandbox fails
// a test rather than hanging it.
const patience = 10 * time.Second

func testRoundTrip(t *testing.T, sb agentbox.Sandbox) {
	ctx := t.Context()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	files := []agentbox.File{
		{Path: "bytes.bin", Data: all},
		{Path: "a/b/c/deep.bin", Data: []byte("deep\x00\xff\n")},
		{Path: "empty.txt", Data: []byte{}},
		{Path: "replaced.txt", Data: []byte("the old contents, longer than the new")},
	}
	if err := sb.WriteFiles(ctx, files); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "replaced.txt", Data: []byte("new")}}); err != nil {
		t.Fatalf("WriteFiles replacing a file: %v", err)
	}
	files[3].Data = []byte("new")
	for _, f := range files {
		got, err := agentbox.ReadFile(ctx, sb, f.Path)
		if err != nil {
			t.Errorf("ReadFile(%q): %v", f.Path, err)
		} else if !bytes.Equal(got, f.Data) {
			t.Errorf("ReadFile(%q) = %q, want %q", f.Path, got, f.Data)
		}
	}
}

func testMissing(t *testing.T, sb agentbox.Sandbox) {
	ctx := t.Context()
	if _, err := agentbox.ReadFile(ctx, sb, "no-such-file.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: error %v, want one matching fs.ErrNotExist", err)
	}
	if _, err := sb.List(ctx, "no-such-dir"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing directory: error %v, want one matching fs.ErrNotExist", err)
	}
}

func testList(t *testing.T, sb agentbox.Sandbox) {
	ctx := t.Context()
	err := sb.WriteFiles(ctx, []agentbox.File{
		{Path: "dir/b.txt", Data: []byte("bbb")},
		{Path: "dir/a.txt", Data: []byte("a")},
		{Path: "dir/sub/c.txt", Data: []byte("cc")},
	})
	if err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	got, err := sb.List(ctx, "dir")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for i := range got {
		if got[i].IsDir {
			got[i].Size = 0 // the size of a directory is the sandbox's business
		}
	}
	want := []agentbox.FileInfo{
		{Name: "a.txt", Path: "dir/a.txt", Size: 1},
		{Name: "b.txt", Path: "dir/b.txt", Size: 3},
		{Name: "sub", Path: "dir/sub", IsDir: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List(%q) mismatch (-want +got):\n%s", "dir", diff)
	}
}

// cmdOutput is the result of a command run by runCmd.
type cmdOutput struct {
	stdout, stderr string
	res            agentbox.Result
	err            error
}

// runCmd runs cmd in sb, recording its output.
func runCmd(ctx context.Context, sb agentbox.Sandbox, cmd agentbox.Command) cmdOutput {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res, err := sb.Run(ctx, cmd)
	return cmdOutput{stdout.String(), stderr.String(), res, err}
}

// mustRun runs cmd and fails t unless it exits with status 0.
func mustRun(t *testing.T, sb agentbox.Sandbox, cmd agentbox.Command) cmdOutput {
	t.Helper()
	out := runCmd(t.Context(), sb, cmd)
	if out.err != nil || out.res.ExitCode != 0 {
		t.Fatalf("Run(%q) = %+v, %v (stderr %q), want exit code 0", cmd.Cmd, out.res, out.err, out.stderr)
	}
	return out
}

func testCommandsSeeFiles(t *testing.T, sb agentbox.Sandbox) {
	ctx := t.Context()
	const hello = "hello, sandbox\n"
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "hello.txt", Data: []byte(hello)}}); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	if out := mustRun(t, sb, agentbox.Command{Cmd: "cat hello.txt"}); out.stdout != hello {
		t.Errorf("cat hello.txt printed %q, want %q", out.stdout, hello)
	}
	mustRun(t, sb, agentbox.Command{Cmd: "echo hi > out.txt"})
	got, err := agentbox.ReadFile(ctx, sb, "out.txt")
	if err != nil || string(got) != "hi\n" {
		t.Errorf("after echo hi > out.txt, ReadFile = %q, %v, want %q", got, err, "hi\n")
	}
}

func testExitCode(t *testing.T, sb agentbox.Sandbox) {
	for _, tt := range []struct {
		cmd  string
		want int
	}{
		{"true", 0},
		{"exit 3", 3},
		{"false", 1},
	} {
		out := runCmd(t.Context(), sb, agentbox.Command{Cmd: tt.cmd})
		if out.err != nil || out.res.ExitCode != tt.want {
			t.Errorf("Run(%q) = %+v, %v, want exit code %d and no error", tt.cmd, out.res, out.err, tt.want)
		}
	}
}

func testOutput(t *testing.T, sb agentbox.Sandbox) {
	const cmd = "echo out1; echo err1 >&2; echo out2"
	out := mustRun(t, sb, agentbox.Command{Cmd: cmd})
	if out.stdout != "out1\nout2\n" || out.stderr != "err1\n" {
		t.Errorf("Run(%q) wrote stdout %q and stderr %q, want %q and %q", cmd, out.stdout, out.stderr, "out1\nout2\n", "err1\n")
	}
}

// A logEntry is what a recorder recorded of consecutive writes to a stream.
type logEntry struct{ Stream, Text string }

// A recorder records writes to several streams in one log.
type recorder struct {
	mu  sync.Mutex
	log []logEntry
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// writer returns a writer recording its writes as those of stream.
func (r *recorder) writer(stream string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := len(r.log); n > 0 && r.log[n-1].Stream == stream {
			r.log[n-1].Text += string(p)
		} else {
			r.log = append(r.log, logEntry{stream, string(p)})
		}
		return len(p), nil
	})
}

func testOutputOrder(t *testing.T, sb agentbox.Sandbox) {
	const cmd = "echo a; sleep 0.2; echo b >&2; sleep 0.2; echo c"
	var r recorder
	res, err := sb.Run(t.Context(), agentbox.Command{Cmd: cmd, Stdout: r.writer("stdout"), Stderr: r.writer("stderr")})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run(%q) = %+v, %v, want exit code 0", cmd, res, err)
	}
	want := []logEntry{{"stdout", "a\n"}, {"stderr", "b\n"}, {"stdout", "c\n"}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if diff := cmp.Diff(want, r.log); diff != "" {
		t.Errorf("Run(%q) wrote, in order (-want +got):\n%s", cmd, diff)
	}
}

func testDir(t *testing.T, sb agentbox.Sandbox) {
	if err := sb.WriteFiles(t.Context(), []agentbox.File{{Path: "sub/f.txt", Data: []byte("in sub\n")}}); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	if out := mustRun(t, sb, agentbox.Command{Cmd: "cat f.txt", Dir: "sub"}); out.stdout != "in sub\n" {
		t.Errorf("cat f.txt in Dir sub printed %q, want %q", out.stdout, "in sub\n")
	}
}

func testEnv(t *testing.T, sb agentbox.Sandbox) {
	cmd := agentbox.Command{Cmd: `echo "$AGENTBOX_TEST_VAR"`, Env: map[string]string{"AGENTBOX_TEST_VAR": "v1"}}
	if out := mustRun(t, sb, cmd); out.stdout != "v1\n" {
		t.Errorf("Run(%q) with AGENTBOX_TEST_VAR=v1 printed %q, want %q", cmd.Cmd, out.stdout, "v1\n")
	}
}

func testTimeout(t *testing.T, sb agentbox.Sandbox) {
	start := time.Now()
	out := runCmd(t.Context(), sb, agentbox.Command{Cmd: "sleep 30", Timeout: 300 * time.Millisecond})
	if elapsed := time.Since(start); elapsed > patience {
		t.Errorf("Run of sleep 30 with Timeout 300ms took %v", elapsed)
	}
	if !errors.Is(out.err, agentbox.ErrTimeout) || out.res.ExitCode != -1 {
		t.Errorf("Run of sleep 30 with Timeout 300ms = %+v, %v, want exit code -1 and an error matching agentbox.ErrTimeout", out.res, out.err)
	}
}

func testCancel(t *testing.T, sb agentbox.Sandbox) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	out := runCmd(ctx, sb, agentbox.Command{Cmd: "sleep 30"})
	if elapsed := time.Since(start); elapsed > patience {
		t.Errorf("Run of sleep 30 cancelled after 300ms took %v", elapsed)
	}
	if !errors.Is(out.err, context.Canceled) || out.res.ExitCode != -1 {
		t.Errorf("Run of sleep 30 cancelled after 300ms = %+v, %v, want exit code -1 and an error matching context.Canceled", out.res, out.err)
	}
}

func testCloseTwice(t *testing.T, sb agentbox.Sandbox) {
	err1 := sb.Close(t.Context())
	err2 := sb.Close(t.Context())
	if err1 != nil || err2 != nil {
		t.Errorf("Close twice = %v, %v, want nil, nil", err1, err2)
	}
}

func testUseAfterClose(t *testing.T, sb agentbox.Sandbox) {
	ctx := t.Context()
	if err := sb.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, runErr := sb.Run(ctx, agentbox.Command{Cmd: "true"})
	_, openErr := sb.Open(ctx, "f.txt")
	_, listErr := sb.List(ctx, ".")
	for _, c := range []struct {
		op  string
		err error
	}{
		{"Run", runErr},
		{"WriteFiles", sb.WriteFiles(ctx, []agentbox.File{{Path: "f.txt", Data: []byte("x")}})},
		{"Open", openErr},
		{"List", listErr},
	} {
		if !errors.Is(c.err, agentbox.ErrClosed) {
			t.Errorf("%s after Close: error %v, want one matching agentbox.ErrClosed", c.op, c.err)
		}
	}
}

// testPreview checks what a Previewer does wherever it runs: while nothing
// listens on a port, PreviewURL waits, and gives up with an error when its
// context is done; once the sandbox is closed, it fails at once.
func testPreview(t *testing.T, sb agentbox.Sandbox) {
	pv, ok := sb.(agentbox.Previewer)
	if !ok {
		t.Skipf("%T is not an agentbox.Previewer", sb)
	}
	port := unusedPort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if url, err := pv.PreviewURL(ctx, port); err == nil {
		t.Errorf("PreviewURL(%d), with nothing listening = %q; want an error once its context is done", port, url)
	}
	if d := time.Since(start); d > patience {
		t.Errorf("PreviewURL(%d) returned %s after its context was done", port, d-300*time.Millisecond)
	}
	closeCtx, cancelClose := context.WithTimeout(t.Context(), patience)
	defer cancelClose()
	if err := sb.Close(closeCtx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), patience)
	defer cancel()
	if url, err := pv.PreviewURL(ctx, port); err == nil || ctx.Err() != nil {
		t.Errorf("PreviewURL(%d) after Close = %q, %v; want an error at once", port, url, err)
	}
}

// unusedPort returns a TCP port nothing on this machine listens on.
func unusedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding an unused port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func testLifetime(t *testing.T, sb agentbox.Sandbox) {
	ls, ok := sb.(agentbox.LifetimeSetter)
	if !ok {
		t.Skipf("%T is not an agentbox.LifetimeSetter", sb)
	}
	ctx := context.Background()
	if err := ls.SetLifetime(ctx, 10*time.Minute); err != nil {
		t.Fatalf("SetLifetime(10m): %v", err)
	}
	if res, err := sb.Run(ctx, agentbox.Command{Cmd: "true"}); err != nil || res.ExitCode != 0 {
		t.Errorf("Run after SetLifetime = %+v, %v", res, err)
	}
	if err := sb.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ls.SetLifetime(ctx, time.Minute); err == nil {
		t.Errorf("SetLifetime after Close succeeded")
	}
}

func testRef(t *testing.T, sb agentbox.Sandbox) {
	r, ok := sb.(agentbox.Resumable)
	if !ok {
		t.Skipf("%T is not an agentbox.Resumable", sb)
	}
	if ref := r.Ref(); ref.Backend == "" || ref.ID == "" || r.Ref() != ref {
		t.Errorf("Ref() = %+v, then %+v; want a kind and an ID, the same each time", ref, r.Ref())
	}
}

// processStarter returns sb as an agentbox.ProcessStarter, or skips t.
func processStarter(t *testing.T, sb agentbox.Sandbox) agentbox.ProcessStarter {
	ps, ok := sb.(agentbox.ProcessStarter)
	if !ok {
		t.Skipf("%T is not an agentbox.ProcessStarter", sb)
	}
	return ps
}

// waitProcess waits for p, failing t when it does not end in time.
func waitProcess(t *testing.T, p agentbox.Process, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if res, err := p.Wait(ctx); err != nil || res.ExitCode == 0 {
		t.Errorf("Wait %s = %+v, %v, want the killed process's result (a non-zero exit code) and no error", what, res, err)
	}
}

// testConcurrent uses one sandbox from several goroutines at once, as the
// agent does when a step's tool calls run concurrently.
func testConcurrent(t *testing.T, sb agentbox.Sandbox) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("dir%d/file.txt", i)
			want := fmt.Sprintf("content %d\n", i)
			if err := sb.WriteFiles(ctx, []agentbox.File{{Path: name, Data: []byte(want)}}); err != nil {
				errs <- fmt.Errorf("WriteFiles %s: %w", name, err)
				return
			}
			if got, err := agentbox.ReadFile(ctx, sb, name); err != nil || string(got) != want {
				errs <- fmt.Errorf("ReadFile %s = %q, %v; want %q", name, got, err, want)
			}
			if _, err := sb.List(ctx, fmt.Sprintf("dir%d", i)); err != nil {
				errs <- fmt.Errorf("List dir%d: %w", i, err)
			}
			var out bytes.Buffer
			if res, err := sb.Run(ctx, agentbox.Command{Cmd: fmt.Sprintf("cat dir%d/file.txt", i), Stdout: &out}); err != nil || res.ExitCode != 0 || out.String() != want {
				errs <- fmt.Errorf("cat %s = %q, exit %d, %v; want %q", name, out.String(), res.ExitCode, err, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testProcess(t *testing.T, sb agentbox.Sandbox) {
	ps := processStarter(t, sb)
	ctx := t.Context()
	var out testkit.Buffer
	p, err := ps.StartProcess(ctx, agentbox.Command{Cmd: "echo started; sleep 30", Stdout: &out})
	if err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	for deadline := time.Now().Add(patience); out.String() != "started\n"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a started process wrote %q in %v, want %q", out.String(), patience, "started\n")
		}
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if res, err := p.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait for 200ms on a running process = %+v, %v, want an error matching context.DeadlineExceeded", res, err)
	}
	if err := ps.StopProcess(ctx, p.ID()); err != nil {
		t.Errorf("StopProcess(%q): %v", p.ID(), err)
	}
	waitProcess(t, p, "after StopProcess")
	if err := ps.StopProcess(ctx, p.ID()); err != nil {
		t.Errorf("StopProcess(%q) of an ended process: %v, want nil", p.ID(), err)
	}
	if err := ps.StopProcess(ctx, "no-such-process"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StopProcess of an unknown ID: error %v, want one matching fs.ErrNotExist", err)
	}
}

func testProcessEndsAtClose(t *testing.T, sb agentbox.Sandbox) {
	ps := processStarter(t, sb)
	p, err := ps.StartProcess(t.Context(), agentbox.Command{Cmd: "sleep 30"})
	if err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := sb.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitProcess(t, p, "after Close")
}
