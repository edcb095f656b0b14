package agentbox_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// tool runs one built-in tool call on sb and returns its result.
func tool(t *testing.T, sb agentbox.Sandbox, name, args string) agentbox.ToolResult {
	t.Helper()
	all, done := runTools(t, sb, agentbox.Options{}, call("c1", name, args))
	if done.Err != nil {
		t.Fatalf("run: %v", done.Err)
	}
	return result(t, all, "c1")
}

func wantOK(t *testing.T, res agentbox.ToolResult, want string) {
	t.Helper()
	if res.Err != nil || res.Output != want {
		t.Errorf("%s: got %q, %v\nwant %q", res.Name, res.Output, res.Err, want)
	}
}

func wantErr(t *testing.T, res agentbox.ToolResult, want string) {
	t.Helper()
	if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
		t.Errorf("%s: got %q, %v; want an error containing %q", res.Name, res.Output, res.Err, want)
	}
}

func TestWriteFile(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	res := tool(t, sb, "write_file", `{"files":[{"path":"index.html","content":"<h1>hi</h1>"},{"path":"src/app.js","content":"let n = 0\n"}]}`)
	wantOK(t, res, "Wrote 2 files:\nindex.html (11 bytes)\nsrc/app.js (10 bytes)")
	if got, _ := sb.File("src/app.js"); string(got) != "let n = 0\n" {
		t.Errorf("src/app.js = %q", got)
	}
	wantErr(t, tool(t, sb, "write_file", `{"files":[]}`), "invalid arguments")
	wantErr(t, tool(t, sb, "write_file", `{"files":[{"path":" ","content":""}]}`), "file 1 has an empty path")
	wantErr(t, tool(t, sb, "write_file", `{"files":[{"path":"../escape.txt","content":"x"}]}`), "outside")
}

func TestReadFile(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	var lines []string
	for i := 1; i <= 10; i++ {
		lines = append(lines, fmt.Sprint("line ", i))
	}
	sb.SetFile("ten.txt", []byte(strings.Join(lines, "\n")+"\n"))
	sb.SetFile("empty.txt", nil)
	sb.SetFile("bin.dat", []byte{0x89, 'P', 'N', 'G', 0, 0, 1})
	sb.SetFile("long.js", []byte(strings.Repeat("a", 5000)+"\nshort\n"))
	sb.SetFile("nonl.txt", []byte("no newline"))

	wantOK(t, tool(t, sb, "read_file", `{"path":"ten.txt"}`), strings.Join(lines, "\n")+"\n")
	wantOK(t, tool(t, sb, "read_file", `{"path":"ten.txt","offset":3,"limit":2}`), "line 3\nline 4\n[more lines follow: read on with offset 5]\n")
	wantOK(t, tool(t, sb, "read_file", `{"path":"ten.txt","offset":10}`), "line 10\n")
	wantOK(t, tool(t, sb, "read_file", `{"path":"empty.txt"}`), "(the file is empty)")
	wantOK(t, tool(t, sb, "read_file", `{"path":"nonl.txt"}`), "no newline")
	wantOK(t, tool(t, sb, "read_file", `{"path":"long.js"}`), strings.Repeat("a", 2000)+" [line cut]\nshort\n")
	wantErr(t, tool(t, sb, "read_file", `{"path":"ten.txt","offset":11}`), "ten.txt has 10 lines; offset 11 is past its end")
	wantErr(t, tool(t, sb, "read_file", `{"path":"bin.dat"}`), "binary file")
	wantErr(t, tool(t, sb, "read_file", `{"path":"nope.txt"}`), "not exist")
	wantErr(t, tool(t, sb, "read_file", `{"path":"ten.txt","offset":0}`), "invalid arguments")
}

func TestReadFileStopsAtItsByteLimit(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	line := strings.Repeat("x", 1000) + "\n"
	sb.SetFile("big.txt", []byte(strings.Repeat(line, 1000)))
	res := tool(t, sb, "read_file", `{"path":"big.txt"}`)
	// 16 KiB of output, less room for the marker: 16 whole lines.
	if want := strings.Repeat(line, 16) + "[more lines follow: read on with offset 17]\n"; res.Err != nil || res.Output != want {
		t.Fatalf("read of a 1 MB file: %d bytes, %v; want 16 whole lines and the offset to read on", len(res.Output), res.Err)
	}
}

func TestListFiles(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	for _, p := range []string{"README.md", "src/app.js", "src/lib/util.js", "src/lib/deep/x.js", "node_modules/react/index.js"} {
		sb.SetFile(p, []byte("abc"))
	}
	wantOK(t, tool(t, sb, "list_files", `{}`), strings.Join([]string{
		"README.md (3 bytes)",
		"node_modules/ (not listed)",
		"src/",
		"src/app.js (3 bytes)",
		"src/lib/",
		"src/lib/deep/ (deeper levels not listed)",
		"src/lib/util.js (3 bytes)",
		"",
	}, "\n"))
	wantOK(t, tool(t, sb, "list_files", `{"path":"src/lib","depth":1}`), "src/lib/deep/ (deeper levels not listed)\nsrc/lib/util.js (3 bytes)\n")
	wantOK(t, tool(t, sb, "list_files", `{"path":"./src/lib/","depth":2}`), "src/lib/deep/\nsrc/lib/deep/x.js (3 bytes)\nsrc/lib/util.js (3 bytes)\n")
	wantErr(t, tool(t, sb, "list_files", `{"path":"missing"}`), "not exist")
	wantOK(t, tool(t, agentboxtest.NewSandbox(), "list_files", `{}`), ". is empty")
}

func TestListFilesStopsAtItsEntryLimit(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	for i := range 600 {
		sb.SetFile(fmt.Sprintf("f%03d.txt", i), nil)
	}
	res := tool(t, sb, "list_files", `{}`)
	if n := strings.Count(res.Output, "\n"); res.Err != nil || n != 501 || !strings.Contains(res.Output, "[stopped after 500 entries") {
		t.Fatalf("listing of 600 files: %d lines, %v", n, res.Err)
	}
}

func TestEditFile(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	sb.SetFile("app.js", []byte("let count = 0\nlet step = 0\n"))
	wantOK(t, tool(t, sb, "edit_file", `{"path":"app.js","old_string":"count = 0","new_string":"count = 1"}`), "Edited app.js: replaced 1 occurrence.")
	if got, _ := sb.File("app.js"); string(got) != "let count = 1\nlet step = 0\n" {
		t.Errorf("app.js = %q", got)
	}
	wantErr(t, tool(t, sb, "edit_file", `{"path":"app.js","old_string":"let ","new_string":"var "}`), "occurs 2 times in app.js")
	wantOK(t, tool(t, sb, "edit_file", `{"path":"app.js","old_string":"let ","new_string":"var ","replace_all":true}`), "Edited app.js: replaced 2 occurrences.")
	wantErr(t, tool(t, sb, "edit_file", `{"path":"app.js","old_string":"const","new_string":"let"}`), "was not found in app.js")
	wantErr(t, tool(t, sb, "edit_file", `{"path":"app.js","old_string":"","new_string":"x"}`), "use write_file")
	wantErr(t, tool(t, sb, "edit_file", `{"path":"app.js","old_string":"var","new_string":"var"}`), "the same")
	wantErr(t, tool(t, sb, "edit_file", `{"path":"nope.js","old_string":"a","new_string":"b"}`), "not exist")
	if got, _ := sb.File("app.js"); string(got) != "var count = 1\nvar step = 0\n" {
		t.Errorf("app.js = %q after failed edits", got)
	}
}

func TestRunCommand(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	sb.SetFile("sub/data.txt", []byte("payload\n"))
	wantOK(t, tool(t, sb, "run_command", `{"command":"echo out; echo err >&2; exit 3"}`), "out\nerr\n[exit code 3]")
	wantOK(t, tool(t, sb, "run_command", `{"command":"cat data.txt","cwd":"sub"}`), "payload\n[exit code 0]")
	wantOK(t, tool(t, sb, "run_command", `{"command":"true"}`), "[exit code 0]")
	wantErr(t, tool(t, sb, "run_command", `{"command":"  "}`), "command is empty")

	all, _ := runTools(t, sb, agentbox.Options{}, call("c1", "run_command", `{"command":"echo one; echo two >&2"}`))
	var got []string
	for _, o := range of[agentbox.ToolOutput](all) {
		if o.ID != "c1" || o.Step != 1 {
			t.Errorf("ToolOutput for %q step %d", o.ID, o.Step)
		}
		got = append(got, o.Stream+":"+o.Text)
	}
	if strings.Join(got, "|") != "stdout:one\n|stderr:two\n" {
		t.Errorf("streamed output = %q", got)
	}
}

func TestRunCommandTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := agentboxtest.NewSandbox()
		res := tool(t, sb, "run_command", `{"command":"echo starting; sleep 100","timeout_seconds":2}`)
		if !strings.HasPrefix(res.Output, "starting\n\nError: the command was killed after 2s") {
			t.Errorf("output = %q", res.Output)
		}
		wantErr(t, res, "use start_process")
	})
}

func TestRunCommandSandboxGone(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	sb.Handler = func(context.Context, *agentboxtest.Sandbox, agentbox.Command) (agentbox.Result, error) {
		return agentbox.Result{}, fmt.Errorf("envd: %w", agentbox.ErrSandboxGone)
	}
	res := tool(t, sb, "run_command", `{"command":"ls"}`)
	if !errors.Is(res.Err, agentbox.ErrSandboxGone) {
		t.Errorf("error = %v, want ErrSandboxGone", res.Err)
	}
}

// server is a handler for start_process: "serve PORT" listens on PORT until
// stopped; "crash" fails at once; "quiet" runs without a port.
func server(ctx context.Context, sb *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
	switch {
	case strings.HasPrefix(cmd.Cmd, "serve "):
		fmt.Fprintln(cmd.Stdout, "compiling…")
		time.Sleep(200 * time.Millisecond)
		var port int
		fmt.Sscan(strings.TrimPrefix(cmd.Cmd, "serve "), &port)
		// Printed before the port answers: the tool's result, made once it
		// answers, has it for sure.
		fmt.Fprintf(cmd.Stdout, "listening on %d\n", port)
		sb.Listen(port, fmt.Sprintf("http://127.0.0.1:%d", port))
	case cmd.Cmd == "crash":
		fmt.Fprintln(cmd.Stderr, "SyntaxError: unexpected token")
		return agentbox.Result{ExitCode: 1}, nil
	case cmd.Cmd == "build":
		fmt.Fprintln(cmd.Stdout, "built")
		return agentbox.Result{}, nil
	}
	<-ctx.Done()
	return agentbox.Result{ExitCode: -1}, nil
}

func TestStartProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := agentboxtest.NewSandbox()
		sb.Handler = server
		defer sb.Close(context.Background())

		wantOK(t, tool(t, sb, "start_process", `{"command":"serve 5173","port":5173}`),
			"Process p1 is running; port 5173 answers at http://127.0.0.1:5173\nOutput so far:\ncompiling…\nlistening on 5173\n")
		wantOK(t, tool(t, sb, "start_process", `{"command":"quiet"}`), "Process p2 is running.\n")
		wantOK(t, tool(t, sb, "start_process", `{"command":"build"}`), "Process p3 exited with code 0.\nbuilt\n")
		res := tool(t, sb, "start_process", `{"command":"crash","port":3000}`)
		wantErr(t, res, "exited with code 1")
		if !strings.Contains(res.Output, "SyntaxError") {
			t.Errorf("the crash's output is missing: %q", res.Output)
		}
		res = tool(t, sb, "start_process", `{"command":"quiet","port":8080}`)
		wantErr(t, res, "port 8080 did not answer within 1m0s (the process is still running; stop it with stop_process)")
		if sb.Running() != 3 {
			t.Errorf("%d processes running, want 3 (p1, p2, p5)", sb.Running())
		}
		wantOK(t, tool(t, sb, "stop_process", `{"id":"p1"}`), "Stopped process p1.")
		wantErr(t, tool(t, sb, "stop_process", `{"id":"p99"}`), "")
		if res := tool(t, sb, "stop_process", `{"id":"p99"}`); !errors.Is(res.Err, fs.ErrNotExist) {
			t.Errorf("stopping an unknown process: %v, want fs.ErrNotExist", res.Err)
		}
		sb.Close(context.Background())
		if sb.Running() != 0 {
			t.Errorf("%d processes survive Close", sb.Running())
		}
	})
}

// plain hides the optional abilities of a sandbox.
type plain struct{ agentbox.Sandbox }

func TestProcessToolsNotSupported(t *testing.T) {
	sb := plain{agentboxtest.NewSandbox()}
	for _, name := range []string{"start_process", "stop_process"} {
		args := `{"command":"npm run dev"}`
		if name == "stop_process" {
			args = `{"id":"p1"}`
		}
		res := tool(t, sb, name, args)
		if !errors.Is(res.Err, agentbox.ErrNotSupported) || !strings.Contains(res.Output, name+" is not supported by this sandbox") {
			t.Errorf("%s on a plain sandbox: %q, %v", name, res.Output, res.Err)
		}
	}
}

// noPreview is a sandbox with background processes but no preview URLs.
type noPreview struct {
	agentbox.Sandbox
	agentbox.ProcessStarter
}

func TestStartProcessWithoutPreview(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := agentboxtest.NewSandbox()
		inner.Handler = server
		defer inner.Close(context.Background())
		wantOK(t, tool(t, noPreview{inner, inner}, "start_process", `{"command":"serve 3000","port":3000}`),
			"Process p1 is running. This sandbox gives no preview URLs, so port 3000 cannot be opened from outside it.\nOutput so far:\ncompiling…\nlistening on 3000\n")
	})
}

func TestStartProcessThatFailsToStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := agentboxtest.NewSandbox()
		sb.Handler = func(context.Context, *agentboxtest.Sandbox, agentbox.Command) (agentbox.Result, error) {
			return agentbox.Result{ExitCode: -1}, errors.New("exec: npm: not found")
		}
		for _, args := range []string{`{"command":"npm run dev"}`, `{"command":"npm run dev","port":5173}`} {
			start := time.Now()
			res := tool(t, sb, "start_process", args)
			wantErr(t, res, "cannot watch the process: exec: npm: not found")
			if d := time.Since(start); d != 0 {
				t.Errorf("%s: the failure took %s to report, want at once", args, d)
			}
		}
	})
}

func TestStartProcessStoppedWhenTheRunIsCancelled(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	sb.Handler = func(ctx context.Context, _ *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		fmt.Fprintln(cmd.Stdout, "compiling")
		<-ctx.Done()
		return agentbox.Result{ExitCode: -1}, nil
	}
	defer sb.Close(context.Background())
	p := agentboxtest.NewProvider(calls(call("c1", "start_process", `{"command":"npm run dev","port":5173}`)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var all []agentbox.Event
	for ev := range agentbox.New(p, agentbox.Options{Sandbox: sb}).Run(ctx, "hi") {
		all = append(all, ev)
		if _, ok := ev.(agentbox.ToolOutput); ok {
			cancel()
		}
	}
	if done := checkDone(t, all); done.Reason != agentbox.StopCanceled {
		t.Fatalf("Done = %v", done.Reason)
	}
	if n := sb.Running(); n != 0 {
		t.Errorf("%d processes outlive the cancelled run; nobody knows their IDs", n)
	}
}

func TestRunCommandEndsBeforeTheToolTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		all, _ := runTools(t, agentboxtest.NewSandbox(), agentbox.Options{ToolTimeout: 30 * time.Second},
			call("c1", "run_command", `{"command":"sleep 100"}`))
		wantErr(t, result(t, all, "c1"), "the command was killed after 29s; use start_process")
	})
}
