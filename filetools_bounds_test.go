package agentbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// TestEditFileResultIsBounded edits a 10 MB file of "a", replacing every "a"
// with 1,000 bytes: a result of 10 GB. The edit is refused before it is made,
// the file is kept as it was, and the tool allocates less than 100 MB.
func TestEditFileResultIsBounded(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	big := strings.Repeat("a", 10_000_000)
	sb.SetFile("big.txt", []byte(big))
	args := `{"path":"big.txt","old_string":"a","new_string":"` + strings.Repeat("b", 1000) + `","replace_all":true}`
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := tool(t, sb, "edit_file", args)
	runtime.ReadMemStats(&after)
	wantErr(t, res, "more than 10 MB")
	if got, _ := sb.File("big.txt"); string(got) != big {
		t.Errorf("big.txt changed by a refused edit: %d bytes", len(got))
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 100<<20 {
		t.Errorf("the refused edit allocated %d MB", n>>20)
	}
	// An edit that grows the file up to the limit is made.
	sb.SetFile("small.txt", []byte(strings.Repeat("a", 1000)))
	wantOK(t, tool(t, sb, "edit_file", `{"path":"small.txt","old_string":"a","new_string":"`+strings.Repeat("b", 100)+`","replace_all":true}`),
		"Edited small.txt: replaced 1000 occurrences.")
}

// endless is a sandbox whose files never end: Open gives readers of made-up
// contents that go on forever.
type endless struct {
	*agentboxtest.Sandbox
	files map[string]func() io.Reader
}

func (e endless) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	if f, ok := e.files[path]; ok {
		return io.NopCloser(f()), nil
	}
	return e.Sandbox.Open(ctx, path)
}

// repeat reads b over and over, pausing before each read.
type repeat struct {
	b     []byte
	i     int
	pause time.Duration
}

func (r *repeat) Read(p []byte) (int, error) {
	time.Sleep(r.pause)
	if len(r.b) < 4096 {
		r.b = bytes.Repeat(r.b, 4096/len(r.b)+1)[:4096/len(r.b)*len(r.b)]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.i:])
		n += c
		r.i = (r.i + c) % len(r.b)
	}
	return n, nil
}

// TestReadFileStopsInsideAHugeFile reads files that never end. Each read
// ends, with an error that says why, well within 10 s: a hole after the
// text (a sparse file) is binary; a line with no end stops at the scan
// limit; a file too slow to reach either stops at the tool's timeout.
func TestReadFileStopsInsideAHugeFile(t *testing.T) {
	text := strings.Repeat("some text\n", 800) // 8,000 bytes
	sb := endless{agentboxtest.NewSandbox(), map[string]func() io.Reader{
		"sparse.txt": func() io.Reader {
			return io.MultiReader(strings.NewReader(text), &repeat{b: []byte{0}})
		},
		"oneline.txt": func() io.Reader { return &repeat{b: []byte("a")} },
		"lines.txt":   func() io.Reader { return &repeat{b: []byte(strings.Repeat("x", 99) + "\n")} },
		"slow.txt":    func() io.Reader { return &repeat{b: []byte("x"), pause: time.Millisecond} },
	}}
	for _, tt := range []struct{ path, args, want string }{
		{"sparse.txt", `{"path":"sparse.txt"}`, "binary file"},
		{"oneline.txt", `{"path":"oneline.txt"}`, "stopped reading oneline.txt after 64 MB, at line 1"},
		{"lines.txt", `{"path":"lines.txt","offset":100000000}`, "stopped reading lines.txt after 64 MB, at line 671089"},
		{"slow.txt", `{"path":"slow.txt"}`, "deadline exceeded"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			start := time.Now()
			all, done := runTools(t, sb, agentbox.Options{ToolTimeout: time.Second}, call("c1", "read_file", tt.args))
			if done.Err != nil {
				t.Fatalf("run: %v", done.Err)
			}
			wantErr(t, result(t, all, "c1"), tt.want)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("read took %v", d)
			}
		})
	}
}

// TestHugeToolArgumentsAreRefused streams a write_file call of 50 MB of
// arguments, in 1 MB deltas: the call is refused, as too large, without
// the arguments being kept (the run allocates less than 200 MB, four times
// the arguments) or decoded, and nothing is written. A call within the
// limit runs.
func TestHugeToolArgumentsAreRefused(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	content := strings.Repeat("x", 50<<20)
	huge := call("huge", "write_file", `{"files":[{"path":"huge.txt","content":"`+content+`"}]}`)
	huge.Split = 50
	content = ""
	// The scripted model's chunks are made before the run, so that what the
	// run allocates is the agent's alone.
	step := calls(huge, call("small", "write_file", `{"files":[{"path":"small.txt","content":"ok"}]}`))
	p := agentboxtest.NewProvider(agentboxtest.Step{Raw: step.Chunks()}, agentboxtest.Reply("done"))
	huge, step = agentboxtest.Call{}, agentboxtest.Step{}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	all, done := collect(t, agentbox.New(p, agentbox.Options{Sandbox: sb, MaxToolArguments: 8 << 20}).Run(context.Background(), "go"))
	runtime.ReadMemStats(&after)
	if done.Err != nil {
		t.Fatalf("run: %v", done.Err)
	}
	res := result(t, all, "huge")
	if !errors.Is(res.Err, agentbox.ErrInvalidArguments) || !strings.Contains(res.Err.Error(), "more than the 8388608 allowed") {
		t.Errorf("write_file of 50 MB: %v; want it refused as too large", res.Err)
	}
	if _, ok := sb.File("huge.txt"); ok {
		t.Error("huge.txt was written")
	}
	wantOK(t, result(t, all, "small"), "Wrote 1 file:\nsmall.txt (2 bytes)")
	if n := after.TotalAlloc - before.TotalAlloc; n > 200<<20 {
		t.Errorf("the run allocated %d MB", n>>20)
	}
	for _, ev := range of[agentbox.ToolInput](all) {
		if len(ev.Delta) > 8<<20 {
			t.Errorf("a ToolInput of %d bytes", len(ev.Delta))
		}
	}
}

// TestPathsWithNULAreRefused gives every file tool, and the commands' cwd,
// a path with a NUL byte: each is refused as invalid, whatever the sandbox.
func TestPathsWithNULAreRefused(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	sb.SetFile("a.txt", []byte("x"))
	for name, args := range map[string]string{
		"write_file":    `{"files":[{"path":"a\u0000.txt","content":"x"}]}`,
		"read_file":     `{"path":"a.txt\u0000"}`,
		"edit_file":     `{"path":"a.txt\u0000","old_string":"x","new_string":"y"}`,
		"list_files":    `{"path":"d\u0000"}`,
		"run_command":   `{"command":"pwd","cwd":"d\u0000"}`,
		"start_process": `{"command":"pwd","cwd":"d\u0000"}`,
	} {
		res := tool(t, sb, name, args)
		if !errors.Is(res.Err, fs.ErrInvalid) || !strings.Contains(res.Err.Error(), "NUL byte") {
			t.Errorf("%s: %q, %v; want a NUL byte refused", name, res.Output, res.Err)
		}
	}
}

// TestHugeResponseTextEndsTheStep streams 17 MiB of text in 1 MiB chunks,
// past the 16 MiB a response's text may have: the tokens before the limit
// stream, then the run ends with a truncation error.
func TestHugeResponseTextEndsTheStep(t *testing.T) {
	chunk := strings.Repeat("t", 1<<20)
	var text []string
	for range 17 {
		text = append(text, chunk)
	}
	p := agentboxtest.NewProvider(agentboxtest.Step{Raw: agentboxtest.Step{Text: text}.Chunks()})
	var tokens int
	var done agentbox.Done
	for ev := range agentbox.New(p, agentbox.Options{}).Run(context.Background(), "go") {
		switch ev := ev.(type) {
		case agentbox.Token:
			tokens += len(ev.Text)
		case agentbox.Done:
			done = ev
		}
	}
	var pe *agentbox.ProviderError
	if !errors.As(done.Err, &pe) || pe.Kind != agentbox.KindTruncated || !strings.Contains(pe.Error(), "longer than 16 MiB") {
		t.Fatalf("Done = %s, %v; want a truncation for text longer than 16 MiB", done.Reason, done.Err)
	}
	if tokens != 16<<20 {
		t.Errorf("%d bytes of tokens streamed, want the 16 MiB before the limit", tokens)
	}
}
