package agentboxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/google/go-cmp/cmp"
)

func TestSandboxConformance(t *testing.T) {
	RunSandboxTests(t, func(t *testing.T) agentbox.Sandbox { return NewSandbox() })
}

func TestZeroSandboxConformance(t *testing.T) {
	RunSandboxTests(t, func(t *testing.T) agentbox.Sandbox { return new(Sandbox) })
}

func TestPathOutsideWorkspace(t *testing.T) {
	ctx := t.Context()
	sb := NewSandbox()
	defer sb.Close(ctx)
	for _, p := range []string{"..", "../x", "a/../../x", "/../x"} {
		_, openErr := sb.Open(ctx, p)
		_, listErr := sb.List(ctx, p)
		_, runErr := sb.Run(ctx, agentbox.Command{Cmd: "true", Dir: p})
		_, startErr := sb.StartProcess(ctx, agentbox.Command{Cmd: "true", Dir: p})
		for op, err := range map[string]error{
			"WriteFiles":   sb.WriteFiles(ctx, []agentbox.File{{Path: p}}),
			"Open":         openErr,
			"List":         listErr,
			"Run":          runErr,
			"StartProcess": startErr,
		} {
			var pe *fs.PathError
			if !errors.Is(err, fs.ErrInvalid) || !errors.As(err, &pe) || !strings.Contains(err.Error(), "outside the workspace") {
				t.Errorf("%s(%q): error %v, want an *fs.PathError matching fs.ErrInvalid, saying the path is outside the workspace", op, p, err)
			}
		}
		if _, ok := sb.File(p); ok {
			t.Errorf("File(%q) found a file", p)
		}
	}
	if len(sb.Files()) != 0 {
		t.Errorf("files after refused writes: %v", sb.Files())
	}
}

func TestPaths(t *testing.T) {
	ctx := t.Context()
	sb := NewSandbox()
	defer sb.Close(ctx)
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "/a/b.txt", Data: []byte("b")}, {Path: "./a/./c/../d.txt", Data: []byte("d")}}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"a/b.txt": []byte("b"), "a/d.txt": []byte("d")}
	if diff := cmp.Diff(want, sb.Files()); diff != "" {
		t.Errorf("Files mismatch (-want +got):\n%s", diff)
	}
	if got, err := agentbox.ReadFile(ctx, sb, "a/b.txt"); err != nil || string(got) != "b" {
		t.Errorf("ReadFile(a/b.txt) = %q, %v", got, err)
	}
	for _, root := range []string{"", ".", "/"} {
		infos, err := sb.List(ctx, root)
		want := []agentbox.FileInfo{{Name: "a", Path: strings.TrimSuffix(root, ".") + "a", IsDir: true}}
		if err != nil || !cmp.Equal(infos, want) {
			t.Errorf("List(%q) = %v, %v, want %v", root, infos, err, want)
		}
	}
	infos, err := sb.List(ctx, "/a/")
	if err != nil || len(infos) != 2 || infos[0].Path != "/a/b.txt" {
		t.Errorf("List(/a/) = %v, %v, want paths under /a", infos, err)
	}
}

func TestEmptyRoot(t *testing.T) {
	sb := NewSandbox()
	defer sb.Close(t.Context())
	infos, err := sb.List(t.Context(), "")
	if err != nil || infos == nil || len(infos) != 0 {
		t.Errorf("List of an empty root = %#v, %v, want an empty list", infos, err)
	}
}

func TestConflicts(t *testing.T) {
	ctx := t.Context()
	sb := NewSandbox()
	defer sb.Close(ctx)
	sb.SetFile("dir/file.txt", []byte("x"))
	for _, tt := range []struct {
		files []agentbox.File
		want  string
	}{
		{[]agentbox.File{{Path: "dir"}}, "is a directory"},
		{[]agentbox.File{{Path: "/"}}, "is a directory"},
		{[]agentbox.File{{Path: "dir/file.txt/x"}}, "not a directory"},
		{[]agentbox.File{{Path: "ok.txt"}, {Path: "ok.txt/x"}}, "not a directory"},
		{[]agentbox.File{{Path: "new/x"}, {Path: "new"}}, "is a directory"},
		{[]agentbox.File{{Path: "ok.txt"}, {Path: "../bad"}}, "outside the workspace"},
	} {
		err := sb.WriteFiles(ctx, tt.files)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("WriteFiles(%v): error %v, want one saying %q", tt.files, err, tt.want)
		}
	}
	if diff := cmp.Diff(map[string][]byte{"dir/file.txt": []byte("x")}, sb.Files()); diff != "" {
		t.Errorf("failed writes changed the files (-want +got):\n%s", diff)
	}
	if _, err := sb.Open(ctx, "dir"); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Open of a directory: error %v, want one saying it is a directory", err)
	}
	if _, err := sb.List(ctx, "dir/file.txt"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("List of a file: error %v, want one saying it is not a directory", err)
	}
}

func TestCopies(t *testing.T) {
	ctx := t.Context()
	sb := NewSandbox()
	defer sb.Close(ctx)
	data := []byte("abc")
	sb.SetFile("f", data)
	data[0] = 'X'
	got, _ := sb.File("f")
	got[1] = 'Y'
	sb.Files()["f"][2] = 'Z'
	if got, _ := sb.File("f"); string(got) != "abc" {
		t.Errorf("File(f) = %q after changes to copies, want %q", got, "abc")
	}
	if got, ok := sb.File("missing"); ok || got != nil {
		t.Errorf("File(missing) = %q, %v", got, ok)
	}
	sb.SetFile("empty", nil)
	if got, ok := sb.File("empty"); !ok || got == nil || len(got) != 0 {
		t.Errorf("File(empty) = %#v, %v, want an empty slice", got, ok)
	}
}

func TestSetFile(t *testing.T) {
	sb := NewSandbox()
	sb.Close(t.Context())
	sb.SetFile("after-close.txt", []byte("x"))
	if _, ok := sb.File("after-close.txt"); !ok {
		t.Error("SetFile after Close did not set the file")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "outside the workspace") {
			t.Errorf("SetFile(../x) panicked with %v, want a panic saying the path is outside the workspace", r)
		}
	}()
	sb.SetFile("../x", nil)
}

func TestRunHandler(t *testing.T) {
	ctx := t.Context()
	sb := NewSandbox()
	defer sb.Close(ctx)
	errHandler := errors.New("handler failed")
	sb.Handler = func(ctx context.Context, sb *Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		fmt.Fprint(cmd.Stdout, "out")
		fmt.Fprint(cmd.Stderr, "err")
		if cmd.Cmd == "fail" {
			return agentbox.Result{ExitCode: 7}, errHandler
		}
		return agentbox.Result{ExitCode: 5}, nil
	}
	if res, err := sb.Run(ctx, agentbox.Command{Cmd: "x"}); err != nil || res.ExitCode != 5 {
		t.Errorf("Run with nil writers = %+v, %v, want exit code 5", res, err)
	}
	if res, err := sb.Run(ctx, agentbox.Command{Cmd: "fail"}); !errors.Is(err, errHandler) || res.ExitCode != 7 {
		t.Errorf("Run of a failing handler = %+v, %v, want its result and error", res, err)
	}
}

// racyWriter is a writer that is not safe for concurrent use: the race
// detector reports concurrent writes.
type racyWriter struct{ buf []byte }

func (w *racyWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func TestRunSharedWriter(t *testing.T) {
	ctx := t.Context()
	sb := NewSandbox()
	defer sb.Close(ctx)
	sb.Handler = func(ctx context.Context, sb *Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		var wg sync.WaitGroup
		for _, w := range []io.Writer{cmd.Stdout, cmd.Stderr} {
			wg.Go(func() {
				for range 100 {
					w.Write([]byte("x"))
				}
			})
		}
		wg.Wait()
		return agentbox.Result{}, nil
	}
	var w racyWriter
	if _, err := sb.Run(ctx, agentbox.Command{Stdout: &w, Stderr: &w}); err != nil {
		t.Fatal(err)
	}
	if len(w.buf) != 200 {
		t.Errorf("wrote %d bytes, want 200", len(w.buf))
	}
}

func TestRunTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := NewSandbox()
		defer sb.Close(context.Background())
		start := time.Now()
		res, err := sb.Run(t.Context(), agentbox.Command{Cmd: "echo a; sleep 5; echo b", Timeout: time.Second})
		if !errors.Is(err, agentbox.ErrTimeout) || res.ExitCode != -1 || time.Since(start) != time.Second {
			t.Errorf("Run = %+v, %v after %v, want exit code -1 and agentbox.ErrTimeout after 1s", res, err, time.Since(start))
		}
		if want := "command timed out after 1s"; err == nil || err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
}

func TestRunCancelledBefore(t *testing.T) {
	sb := NewSandbox()
	defer sb.Close(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if res, err := sb.Run(ctx, agentbox.Command{Cmd: "true"}); !errors.Is(err, context.Canceled) || res.ExitCode != -1 {
		t.Errorf("Run with a done ctx = %+v, %v", res, err)
	}
}

func TestRunKilledByClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := NewSandbox()
		done := make(chan error)
		go func() {
			_, err := sb.Run(context.Background(), agentbox.Command{Cmd: "sleep 60"})
			done <- err
		}()
		time.Sleep(time.Second)
		sb.Close(context.Background())
		if err := <-done; !errors.Is(err, agentbox.ErrClosed) {
			t.Errorf("Run killed by Close: error %v, want one matching agentbox.ErrClosed", err)
		}
	})
}

func TestProcesses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		sb := NewSandbox()
		var stopped atomic.Int32
		sb.Handler = func(ctx context.Context, sb *Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
			if cmd.Cmd == "server" {
				<-ctx.Done()
				time.Sleep(time.Second) // shutting down
				stopped.Add(1)
				return agentbox.Result{ExitCode: 0}, nil
			}
			return Shell(ctx, sb, cmd)
		}
		quick, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "exit 4"})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := quick.Wait(ctx); err != nil || res.ExitCode != 4 {
			t.Errorf("Wait for exit 4 = %+v, %v", res, err)
		}
		var servers []agentbox.Process
		for range 2 {
			p, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "server"})
			if err != nil {
				t.Fatal(err)
			}
			servers = append(servers, p)
		}
		if ids := []string{quick.ID(), servers[0].ID(), servers[1].ID()}; !cmp.Equal(ids, []string{"p1", "p2", "p3"}) {
			t.Errorf("IDs %v, want p1, p2, p3", ids)
		}
		if n := sb.Running(); n != 2 {
			t.Errorf("Running() = %d, want 2", n)
		}
		if err := sb.StopProcess(ctx, "p2"); err != nil {
			t.Errorf("StopProcess(p2): %v", err)
		}
		if res, err := servers[0].Wait(ctx); err != nil || res.ExitCode != -1 {
			t.Errorf("Wait for a stopped process = %+v, %v, want exit code -1 and no error", res, err)
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := sb.StopProcess(short, "p1"); err != nil {
			t.Errorf("StopProcess of an ended process: %v", err)
		}
		if err := sb.StopProcess(short, "p9"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("StopProcess(p9): %v, want fs.ErrNotExist", err)
		}
		if err := sb.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := stopped.Load(); n != 2 {
			t.Errorf("%d servers ended when Close returned, want 2", n)
		}
		if n := sb.Running(); n != 0 {
			t.Errorf("Running() = %d after Close", n)
		}
		if _, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "true"}); !errors.Is(err, agentbox.ErrClosed) {
			t.Errorf("StartProcess after Close: %v", err)
		}
		if err := sb.StopProcess(ctx, "p1"); !errors.Is(err, agentbox.ErrClosed) {
			t.Errorf("StopProcess after Close: %v", err)
		}
		if sb.Closes() != 1 {
			t.Errorf("Closes() = %d, want 1", sb.Closes())
		}
	})
}

func TestStopProcessTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := NewSandbox()
		defer sb.Close(context.Background())
		sb.Handler = func(ctx context.Context, sb *Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
			<-ctx.Done()
			time.Sleep(time.Minute)
			return agentbox.Result{}, nil
		}
		p, err := sb.StartProcess(context.Background(), agentbox.Command{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := sb.StopProcess(ctx, p.ID()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("StopProcess of a slow process: %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestPreviewURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		sb := NewSandbox()
		sb.Handler = func(ctx context.Context, sb *Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
			time.Sleep(2 * time.Second)
			sb.Listen(3000, "http://127.0.0.1:3000")
			<-ctx.Done()
			return agentbox.Result{}, nil
		}
		if _, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "serve"}); err != nil {
			t.Fatal(err)
		}
		sb.Listen(8080, "http://127.0.0.1:8080")
		start := time.Now()
		wait, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		url, err := sb.PreviewURL(wait, 3000)
		if url != "http://127.0.0.1:3000" || err != nil || time.Since(start) != 2*time.Second {
			t.Errorf("PreviewURL(3000) = %q, %v after %v, want the URL after 2s", url, err, time.Since(start))
		}

		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = sb.PreviewURL(short, 4000)
		if want := "port 4000 is not listening: context deadline exceeded"; err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("PreviewURL(4000) error %v, want %q", err, want)
		}

		done := make(chan error)
		go func() {
			_, err := sb.PreviewURL(ctx, 5000)
			done <- err
		}()
		synctest.Wait()
		sb.Close(ctx)
		if err := <-done; !errors.Is(err, agentbox.ErrClosed) {
			t.Errorf("PreviewURL while closing: %v, want agentbox.ErrClosed", err)
		}
		if _, err := sb.PreviewURL(ctx, 8080); !errors.Is(err, agentbox.ErrClosed) {
			t.Errorf("PreviewURL after Close: %v, want agentbox.ErrClosed", err)
		}
	})
}

func TestWaitAlreadyDone(t *testing.T) {
	sb := NewSandbox()
	defer sb.Close(t.Context())
	p, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: "echo hi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if res, err := p.Wait(ctx); err != nil || res.ExitCode != 0 {
		t.Errorf("Wait with a done ctx on an ended process = %+v, %v, want its result", res, err)
	}
}

func TestStartProcessOutput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := NewSandbox()
		var buf bytes.Buffer
		if _, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: "echo a; echo b >&2; sleep 60", Stdout: &buf, Stderr: &buf}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		sb.Close(t.Context())
		if buf.String() != "a\nb\n" {
			t.Errorf("output %q, want %q", buf.String(), "a\nb\n")
		}
	})
}
