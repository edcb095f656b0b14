package agentbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

func TestBadToolCallsGoBackToTheModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		panicky := agentbox.NewTool("panicky", "Panics.", func(context.Context, *agentbox.Env, struct{}) (string, error) {
			panic("index out of range")
		})
		slow := agentbox.NewTool("slow", "Never finishes on its own.", func(ctx context.Context, _ *agentbox.Env, _ struct{}) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		})
		tools := append(agentbox.BuiltinTools(), panicky, slow)
		p := agentboxtest.NewProvider(
			calls(
				call("json", "write_file", `{"files": [{"path": "a.txt", "content": "x"`),
				call("schema", "read_file", `{"path": 3}`),
				call("missing", "write_file", `{"files": [{"content": "x"}]}`),
				call("extra", "read_file", `{"path": "a.txt", "mode": "fast"}`),
				call("array", "read_file", `["a.txt"]`),
				call("unknown", "deploy_to_prod", `{}`),
				call("panic", "panicky", ``),
				call("timeout", "slow", `{}`),
			),
			agentboxtest.Reply("I will fix my calls."),
		)
		sb := agentboxtest.NewSandbox()
		all, done := collect(t, agentbox.New(p, agentbox.Options{Tools: tools, Sandbox: sb, ToolTimeout: 30 * time.Second}).Run(context.Background(), "hi"))
		if done.Reason != agentbox.StopCompleted {
			t.Fatalf("Done = %v, %v; the run must go on after bad calls", done.Reason, done.Err)
		}
		for id, want := range map[string]struct {
			is   error
			text string
		}{
			"json":    {agentbox.ErrInvalidArguments, "not valid JSON"},
			"schema":  {agentbox.ErrInvalidArguments, "path"},
			"missing": {agentbox.ErrInvalidArguments, "path"},
			"extra":   {agentbox.ErrInvalidArguments, "mode"},
			"array":   {agentbox.ErrInvalidArguments, "want a JSON object"},
			"unknown": {agentbox.ErrUnknownTool, `"deploy_to_prod"; the tools are: edit_file, list_files, panicky`},
			"panic":   {nil, "panicky failed with an internal error (panic: index out of range)"},
			"timeout": {context.DeadlineExceeded, "slow timed out after 30s"},
		} {
			res := result(t, all, id)
			if res.Err == nil || (want.is != nil && !errors.Is(res.Err, want.is)) || !strings.Contains(res.Err.Error(), want.text) {
				t.Errorf("%s: ToolResult.Err = %v; want %v containing %q", id, res.Err, want.is, want.text)
			}
			if res.Output != "Error: "+res.Err.Error() {
				t.Errorf("%s: ToolResult.Output = %q, want the error's text", id, res.Output)
			}
		}
		if len(sb.Files()) != 0 {
			t.Errorf("bad calls wrote files: %v", sb.Files())
		}
		// The next request carries the same texts as tool messages, in call order.
		req := p.Requests()[1]
		var ids []string
		for _, m := range req.Messages {
			if m.Role != agentbox.RoleTool {
				continue
			}
			ids = append(ids, m.ToolCallID)
			if res := result(t, all, m.ToolCallID); m.Content != res.Output {
				t.Errorf("tool message for %s = %q, want %q", m.ToolCallID, m.Content, res.Output)
			}
		}
		if got := strings.Join(ids, ","); got != "json,schema,missing,extra,array,unknown,panic,timeout" {
			t.Errorf("tool messages in order %s", got)
		}
		// ToolStart carries valid JSON or null.
		for _, s := range of[agentbox.ToolStart](all) {
			if s.ID == "json" && s.Args != nil {
				t.Errorf("ToolStart.Args for malformed JSON = %s, want nil", s.Args)
			}
			if s.ID == "panic" && string(s.Args) != "{}" {
				t.Errorf("ToolStart.Args for empty arguments = %s, want {}", s.Args)
			}
		}
	})
}

// sleeper is a tool that sleeps and tracks how many of its calls overlap.
type sleeper struct {
	mu       sync.Mutex
	running  int
	peak     int
	finished []string
}

func (s *sleeper) tool(name string) agentbox.Tool {
	type args struct {
		Ms int `json:"ms"`
	}
	return agentbox.NewTool(name, "Sleeps.", func(ctx context.Context, env *agentbox.Env, in args) (string, error) {
		s.mu.Lock()
		s.running++
		s.peak = max(s.peak, s.running)
		s.mu.Unlock()
		time.Sleep(time.Duration(in.Ms) * time.Millisecond)
		s.mu.Lock()
		s.running--
		s.finished = append(s.finished, env.CallID())
		s.mu.Unlock()
		return fmt.Sprintf("slept %dms", in.Ms), nil
	})
}

func TestToolCallsRunConcurrentlyUnderALimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s sleeper
		var c []agentboxtest.Call
		for i := range 6 {
			// Later calls are shorter, so they finish first.
			c = append(c, call(fmt.Sprint("c", i), "sleep", fmt.Sprintf(`{"ms": %d}`, 600-100*i)))
		}
		p := agentboxtest.NewProvider(calls(c...), agentboxtest.Reply("done"))
		start := time.Now()
		var toolsDone time.Duration
		a := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{s.tool("sleep")}, ToolConcurrency: 3})
		var all []agentbox.Event
		for ev := range a.Run(context.Background(), "hi") {
			if _, ok := ev.(agentbox.ToolResult); ok {
				toolsDone = time.Since(start)
			}
			all = append(all, ev)
		}
		checkDone(t, all)
		if s.peak != 3 {
			t.Errorf("at most %d calls ran at once, want 3", s.peak)
		}
		// 3 slots: c0 600 | c1 500 | c2 400 → c3 (300) starts at 400, c4 (200) at 500, c5 (100) at 600.
		if want := 700 * time.Millisecond; toolsDone != want {
			t.Errorf("tool calls took %s, want %s", toolsDone, want)
		}
		if strings.Join(s.finished, ",") == "c0,c1,c2,c3,c4,c5" {
			t.Errorf("calls finished in call order; the test needs them to finish out of order")
		}
		var ids []string
		for _, m := range p.Requests()[1].Messages {
			if m.Role == agentbox.RoleTool {
				ids = append(ids, m.ToolCallID)
			}
		}
		if got := strings.Join(ids, ","); got != "c0,c1,c2,c3,c4,c5" {
			t.Errorf("results went back in order %s, want call order", got)
		}
	})
}

func TestExclusiveToolsRunAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s sleeper
		var order []string
		var mu sync.Mutex
		writer := agentbox.Exclusive(agentbox.NewTool("write", "Writes.", func(ctx context.Context, env *agentbox.Env, in struct{}) (string, error) {
			s.mu.Lock()
			alone := s.running == 0
			s.mu.Unlock()
			mu.Lock()
			order = append(order, fmt.Sprintf("write alone=%v", alone))
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			return "written", nil
		}))
		p := agentboxtest.NewProvider(calls(
			call("r1", "read", `{"ms": 100}`),
			call("r2", "read", `{"ms": 100}`),
			call("w", "write", `{}`),
			call("r3", "read", `{"ms": 100}`),
			call("r4", "read", `{"ms": 100}`),
		), agentboxtest.Reply("done"))
		start := time.Now()
		_, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{s.tool("read"), writer}}).Run(context.Background(), "hi"))
		if done.Err != nil {
			t.Fatal(done.Err)
		}
		if len(order) != 1 || order[0] != "write alone=true" {
			t.Errorf("exclusive call: %v", order)
		}
		if s.peak != 2 {
			t.Errorf("peak concurrency %d, want 2 (r1+r2, then r3+r4)", s.peak)
		}
		if got := strings.Join(s.finished, ","); got != "r1,r2,r3,r4" && got != "r2,r1,r3,r4" && got != "r1,r2,r4,r3" && got != "r2,r1,r4,r3" {
			t.Errorf("reads finished in order %s: reads after the write ran before it", got)
		}
		if d := time.Since(start); d != 250*time.Millisecond {
			t.Errorf("run took %s, want 250ms (100 + 50 + 100)", d)
		}
	})
}

func TestHugeOutputIsCappedAndMemoryBounded(t *testing.T) {
	const total = 100 << 20
	const chunk = 64 << 10
	var peak uint64
	sb := agentboxtest.NewSandbox()
	sb.Handler = func(ctx context.Context, _ *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		line := bytes.Repeat([]byte("0123456789abcdef"), chunk/16)
		var ms runtime.MemStats
		for i := 0; i < total/chunk; i++ {
			label := fmt.Sprintf("[chunk %06d]", i)
			copy(line, label)
			copy(line[len(line)-len(label):], label)
			if _, err := cmd.Stdout.Write(line); err != nil {
				return agentbox.Result{}, err
			}
			if i%64 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		return agentbox.Result{ExitCode: 0}, nil
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	p := agentboxtest.NewProvider(calls(call("c1", "run_command", `{"command":"cat /dev/urandom | base64"}`)), agentboxtest.Reply("done"))
	a := agentbox.New(p, agentbox.Options{Sandbox: sb})
	var streamed int
	var res agentbox.ToolResult
	for ev := range a.Run(context.Background(), "hi") {
		switch ev := ev.(type) {
		case agentbox.ToolOutput:
			streamed += len(ev.Text)
		case agentbox.ToolResult:
			res = ev
		}
	}
	if streamed != total {
		t.Errorf("streamed %d bytes of output, want %d", streamed, total)
	}
	if res.Err != nil || len(res.Output) > 16<<10+100 {
		t.Fatalf("result: %d bytes, err %v; want at most 16 KiB and a marker", len(res.Output), res.Err)
	}
	if !strings.HasPrefix(res.Output, "[chunk 000000]") || !strings.Contains(res.Output, "bytes omitted") ||
		!strings.HasSuffix(res.Output, "[exit code 0]") || !strings.Contains(res.Output, "[chunk 001599]") {
		t.Errorf("result lacks the head, the marker, the tail or the exit code:\n%.200s\n…\n%s", res.Output, res.Output[len(res.Output)-200:])
	}
	var omitted int
	if i := strings.Index(res.Output, "[... "); i < 0 {
		t.Fatal("no marker")
	} else {
		fmt.Sscanf(res.Output[i:], "[... %d bytes omitted ...]", &omitted)
	}
	if kept := len(res.Output) - len("[... 104841216 bytes omitted ...]\n\n\n\n[exit code 0]\n"); omitted+kept != total {
		t.Errorf("the marker says %d bytes were left out and %d were kept, of %d", omitted, kept, total)
	}
	if grown := int64(peak) - int64(before.HeapAlloc); grown > 48<<20 {
		t.Errorf("heap grew by %d MB while 100 MB of output streamed; want it bounded (< 48 MB)", grown>>20)
	}
	if sent := p.Requests()[1].Messages[2].Content; sent != res.Output {
		t.Errorf("the model got %d bytes, the ToolResult says %d", len(sent), len(res.Output))
	}
}

func TestCustomToolOutputIsCapped(t *testing.T) {
	big := agentbox.NewTool("big", "Returns a lot.", func(context.Context, *agentbox.Env, struct{}) (string, error) {
		return "HEAD" + strings.Repeat("é", 5000) + "TAIL", nil
	})
	all, _ := runTools(t, nil, agentbox.Options{Tools: []agentbox.Tool{big}, MaxToolResult: 1000}, call("c1", "big", ""))
	out := result(t, all, "c1").Output
	if !strings.HasPrefix(out, "HEAD") || !strings.HasSuffix(out, "TAIL") || !strings.Contains(out, "bytes omitted") || len(out) > 1100 {
		t.Fatalf("capped output (%d bytes) = %.80q…%q", len(out), out, out[len(out)-40:])
	}
	if !utf8Valid(out) {
		t.Errorf("capping split a rune")
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestOutputAfterTheCallReturnedIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leaky := agentbox.NewTool("leaky", "Leaves a writer behind.", func(ctx context.Context, env *agentbox.Env, _ struct{}) (string, error) {
			w := env.Stdout()
			fmt.Fprintln(w, "before return")
			go func() {
				for i := range 5 {
					time.Sleep(10 * time.Millisecond)
					fmt.Fprintln(w, "late", i)
				}
			}()
			return "returned", nil
		})
		p := agentboxtest.NewProvider(calls(call("c1", "leaky", "")), agentboxtest.Reply("done"))
		all, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{leaky}}).Run(context.Background(), "hi"))
		time.Sleep(time.Second) // the late writes happen after the channel closed
		if done.Err != nil {
			t.Fatal(done.Err)
		}
		outs := of[agentbox.ToolOutput](all)
		if len(outs) != 1 || outs[0].Text != "before return\n" {
			t.Errorf("ToolOutput events = %+v; want only the output written before the call returned", outs)
		}
	})
}

func TestNoToolCallStartsAfterCancellation(t *testing.T) {
	var runs atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deploy := agentbox.Exclusive(agentbox.NewTool("deploy", "Deploys, ignoring ctx.", func(context.Context, *agentbox.Env, struct{}) (string, error) {
		runs.Add(1)
		cancel()
		return "deployed", nil
	}))
	p := agentboxtest.NewProvider(calls(call("a", "deploy", ""), call("b", "deploy", ""), call("c", "deploy", "")))
	_, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{deploy}}).Run(ctx, "hi"))
	if runs.Load() != 1 || done.Reason != agentbox.StopCanceled {
		t.Fatalf("%d calls ran, Done = %v; want 1 and canceled", runs.Load(), done.Reason)
	}
	last := done.Messages[len(done.Messages)-1]
	if last.ToolCallID != "c" || !strings.Contains(last.Content, "not run: context canceled") {
		t.Errorf("last tool message = %+v; want call c reported as not run", last)
	}
}

// TestATimeoutIsSaidOnce runs a tool that returns its context's cause when
// its time runs out: the model reads that it timed out once, not twice.
func TestATimeoutIsSaidOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := agentbox.NewTool("slow", "Never finishes on its own.", func(ctx context.Context, _ *agentbox.Env, _ struct{}) (string, error) {
			<-ctx.Done()
			return "", context.Cause(ctx)
		})
		p := agentboxtest.NewProvider(calls(call("c1", "slow", `{}`)), agentboxtest.Reply("ok"))
		all, _ := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{slow}, ToolTimeout: time.Second}).Run(context.Background(), "hi"))
		res := result(t, all, "c1")
		if res.Err == nil || strings.Count(res.Err.Error(), "timed out") != 1 || !errors.Is(res.Err, context.DeadlineExceeded) {
			t.Errorf("ToolResult.Err = %v; want one mention of the timeout, matching context.DeadlineExceeded", res.Err)
		}
	})
}
