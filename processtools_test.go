package agentbox_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// stagedServer is a handler whose "server" command writes a line, then one
// more each time poke is called, and exits with code 3 after the third.
type stagedServer struct {
	poke    chan struct{}
	written chan struct{}
}

func newStagedServer() *stagedServer {
	return &stagedServer{poke: make(chan struct{}), written: make(chan struct{})}
}

func (s *stagedServer) handle(ctx context.Context, sb *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
	if cmd.Cmd != "server" {
		return agentboxtest.Shell(ctx, sb, cmd)
	}
	fmt.Fprint(cmd.Stdout, "listening on 3000\n")
	for _, line := range []string{"error: boom\n", "bye\n"} {
		select {
		case <-s.poke:
		case <-ctx.Done():
			return agentbox.Result{ExitCode: -1}, nil
		}
		w := cmd.Stdout
		if strings.HasPrefix(line, "error") {
			w = cmd.Stderr
		}
		fmt.Fprint(w, line)
		if line == "bye\n" {
			defer func() { s.written <- struct{}{} }()
			return agentbox.Result{ExitCode: 3}, nil
		}
		s.written <- struct{}{}
	}
	panic("unreachable")
}

// pokeTool makes the staged server write its next line, and waits for it.
func (s *stagedServer) pokeTool() agentbox.Tool {
	return agentbox.NewTool("poke", "Make the server write.", func(ctx context.Context, _ *agentbox.Env, _ struct{}) (string, error) {
		select {
		case s.poke <- struct{}{}:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		select {
		case <-s.written:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return "poked", nil
	})
}

func readOutput(id, process string, wait int) agentboxtest.Call {
	args := fmt.Sprintf(`{"id":%q}`, process)
	if wait > 0 {
		args = fmt.Sprintf(`{"id":%q,"wait_seconds":%d}`, process, wait)
	}
	return call(id, "process_output", args)
}

func TestProcessOutputReadsWhatIsNew(t *testing.T) {
	srv := newStagedServer()
	sb := &agentboxtest.Sandbox{Handler: srv.handle}
	defer sb.Close(context.Background())
	p := agentboxtest.NewProvider(
		calls(call("start", "start_process", `{"command":"server"}`)),
		calls(readOutput("first", "p1", 0)),
		calls(readOutput("nothing", "p1", 0)),
		calls(call("poke1", "poke", `{}`)),
		calls(readOutput("second", "p1", 0)),
		calls(call("poke2", "poke", `{}`)),
		calls(readOutput("exited", "p1", 5)),
		calls(readOutput("after", "p1", 0)),
		calls(readOutput("unknown", "p9", 0)),
		agentboxtest.Step{Text: []string{"done"}},
	)
	tools := append(agentbox.BuiltinTools(), srv.pokeTool())
	all, done := collect(t, agentbox.New(p, agentbox.Options{Sandbox: sb, Tools: tools}).Run(t.Context(), "go"))
	if done.Err != nil {
		t.Fatalf("run: %v", done.Err)
	}
	check := func(id string, want, notWant []string) {
		t.Helper()
		r := result(t, all, id)
		if r.Err != nil {
			t.Errorf("%s: error %v (%q)", id, r.Err, r.Output)
		}
		for _, w := range want {
			if !strings.Contains(r.Output, w) {
				t.Errorf("%s = %q; want it to hold %q", id, r.Output, w)
			}
		}
		for _, w := range notWant {
			if strings.Contains(r.Output, w) {
				t.Errorf("%s = %q; want it without %q", id, r.Output, w)
			}
		}
	}
	check("first", []string{"Process p1 is running.", "since it started", "listening on 3000\n"}, nil)
	check("nothing", []string{"Process p1 is running.", "No new output since the last read."}, []string{"listening"})
	check("second", []string{"Process p1 is running.", "since the last read", "error: boom\n"}, []string{"listening"})
	check("exited", []string{"Process p1 has exited with code 3.", "bye\n"}, []string{"listening", "boom"})
	check("after", []string{"has exited with code 3.", "No new output"}, []string{"bye"})
	r := result(t, all, "unknown")
	if r.Err == nil || !strings.Contains(r.Err.Error(), `"p9"`) || !strings.Contains(r.Err.Error(), "p1") {
		t.Errorf("process_output of an unknown process = %q, %v; want an error naming it and the known p1", r.Output, r.Err)
	}
}

// floodHandler's commands "flood N" write N bytes of "x" in 1 KiB writes,
// then "THE END", then wait to be stopped; "flood N exit" exits then.
func floodHandler(ctx context.Context, sb *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
	var n int
	if _, err := fmt.Sscanf(cmd.Cmd, "flood %d", &n); err != nil {
		return agentboxtest.Shell(ctx, sb, cmd)
	}
	chunk := []byte(strings.Repeat("x", 1024))
	for ; n > 0; n -= len(chunk) {
		if ctx.Err() != nil {
			return agentbox.Result{ExitCode: -1}, nil
		}
		cmd.Stdout.Write(chunk[:min(n, len(chunk))])
	}
	fmt.Fprint(cmd.Stdout, "\nTHE END\n")
	if strings.HasSuffix(cmd.Cmd, " exit") {
		return agentbox.Result{}, nil
	}
	<-ctx.Done()
	return agentbox.Result{ExitCode: -1}, nil
}

func TestProcessOutputHugeOutputBounded(t *testing.T) {
	sb := &agentboxtest.Sandbox{Handler: floodHandler}
	defer sb.Close(context.Background())
	const size = 10 << 20
	p := agentboxtest.NewProvider(
		calls(call("start", "start_process", fmt.Sprintf(`{"command":"flood %d"}`, size))),
		calls(readOutput("read", "p1", 0)),
		calls(call("stop", "stop_process", `{"id":"p1"}`)),
		calls(readOutput("stopped", "p1", 0)),
		agentboxtest.Step{Text: []string{"done"}},
	)
	all, done := collect(t, agentbox.New(p, agentbox.Options{Sandbox: sb}).Run(t.Context(), "go"))
	if done.Err != nil {
		t.Fatalf("run: %v", done.Err)
	}
	r := result(t, all, "read")
	if r.Err != nil || len(r.Output) > 16<<10 || !strings.HasSuffix(r.Output, "\nTHE END\n") {
		t.Errorf("process_output of 10 MiB = %d bytes ending %q, %v; want at most 16 KiB ending with THE END", len(r.Output), r.Output[max(0, len(r.Output)-50):], r.Err)
	}
	dropped := fmt.Sprintf("[... %d earlier bytes were not kept ...]", size+len("\nTHE END\n")-agentbox.ProcessLogBytes)
	if !strings.Contains(r.Output, dropped) {
		t.Errorf("process_output of 10 MiB does not say %q: %q", dropped, r.Output[:min(len(r.Output), 300)])
	}
	if r := result(t, all, "stopped"); !strings.Contains(r.Output, "was stopped or killed (exit code -1)") || !strings.Contains(r.Output, "No new output") {
		t.Errorf("process_output of a stopped process = %q, %v", r.Output, r.Err)
	}
}

// TestProcessOutputMemoryBounded starts 2 × ProcessLogsPerSandbox
// processes that write 256 KiB each: what is kept for process_output stays
// within ProcessLogsPerSandbox × ProcessLogBytes, and the oldest processes'
// output is forgotten.
func TestProcessOutputMemoryBounded(t *testing.T) {
	sb := &agentboxtest.Sandbox{Handler: floodHandler}
	defer sb.Close(context.Background())
	const procs = 2 * agentbox.ProcessLogsPerSandbox
	var starts, reads []agentboxtest.Call
	for i := 1; i <= procs; i++ {
		starts = append(starts, call(fmt.Sprintf("s%d", i), "start_process", fmt.Sprintf(`{"command":"flood %d exit"}`, 256<<10)))
		reads = append(reads, readOutput(fmt.Sprintf("r%d", i), fmt.Sprintf("p%d", i), 0))
	}
	var before, after runtime.MemStats
	measure := agentbox.NewTool("measure", "Measure the heap.", func(context.Context, *agentbox.Env, struct{}) (string, error) {
		runtime.GC()
		runtime.ReadMemStats(&after)
		return "measured", nil
	})
	p := agentboxtest.NewProvider(calls(starts...), calls(call("m", "measure", `{}`)), calls(reads...), agentboxtest.Step{Text: []string{"done"}})
	runtime.GC()
	runtime.ReadMemStats(&before)
	tools := append(agentbox.BuiltinTools(), measure)
	// The output streamed as ToolOutput is not kept: only what
	// process_output keeps counts.
	var all []agentbox.Event
	for ev := range agentbox.New(p, agentbox.Options{Sandbox: sb, Tools: tools, ToolTimeout: time.Minute}).Run(t.Context(), "go") {
		if _, ok := ev.(agentbox.ToolOutput); !ok {
			all = append(all, ev)
		}
	}
	if done := checkDone(t, all); done.Err != nil {
		t.Fatalf("run: %v", done.Err)
	}
	const bound = agentbox.ProcessLogsPerSandbox*agentbox.ProcessLogBytes + 3<<20
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > bound {
		t.Errorf("with %d processes writing 256 KiB each, the heap grew by %d bytes; want at most %d", procs, grown, bound)
	}
	for i := 1; i <= procs; i++ {
		r := result(t, all, fmt.Sprintf("r%d", i))
		kept := i > procs-agentbox.ProcessLogsPerSandbox
		switch {
		case kept && (r.Err != nil || !strings.HasSuffix(r.Output, "THE END\n")):
			t.Errorf("process_output of p%d, among the latest: %q, %v", i, r.Output[:min(300, len(r.Output))], r.Err)
		case !kept && r.Err == nil:
			t.Errorf("process_output of p%d, whose output is no longer kept: %q with no error", i, r.Output[:min(300, len(r.Output))])
		}
	}
}

// A valueSandbox is a sandbox of a non-pointer type, which process_output
// cannot tell apart from others.
type valueSandbox struct{ *agentboxtest.Sandbox }

func TestProcessOutputValueSandbox(t *testing.T) {
	inner := &agentboxtest.Sandbox{Handler: newStagedServer().handle}
	defer inner.Close(context.Background())
	p := agentboxtest.NewProvider(
		calls(call("start", "start_process", `{"command":"server"}`)),
		calls(readOutput("read", "p1", 0)),
		agentboxtest.Step{Text: []string{"done"}},
	)
	all, _ := collect(t, agentbox.New(p, agentbox.Options{Sandbox: valueSandbox{inner}}).Run(t.Context(), "go"))
	if r := result(t, all, "read"); r.Err == nil {
		t.Errorf("process_output on a sandbox of a value type = %q with no error", r.Output)
	}
}
