package agentbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// recorder is an Observer that records what it sees as lines, each naming
// its parent: "name < parent".
type recorder struct {
	mu    sync.Mutex
	lines []string
	open  int // started and not yet ended
}

type spanKey struct{}

func (r *recorder) start(ctx context.Context, name string) (context.Context, func(string)) {
	parent, _ := ctx.Value(spanKey{}).(string)
	r.mu.Lock()
	r.open++
	r.lines = append(r.lines, name+" < "+parent)
	r.mu.Unlock()
	return context.WithValue(ctx, spanKey{}, name), func(end string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.open--
		if end != "" {
			r.lines = append(r.lines, "end "+name+": "+end)
		}
	}
}

func (r *recorder) StartRun(ctx context.Context, run agentbox.RunStart) (context.Context, func(agentbox.Done)) {
	ctx, end := r.start(ctx, "run")
	return ctx, func(d agentbox.Done) { end(fmt.Sprintf("%s %d steps, %s", d.Reason, d.Steps, d.Usage)) }
}

func (r *recorder) StartModelCall(ctx context.Context, c agentbox.ModelCallStart) (context.Context, agentbox.ModelCallObserver) {
	name := fmt.Sprintf("chat %d", c.Step)
	ctx, end := r.start(ctx, name)
	return ctx, &modelCall{r: r, name: name, end: end}
}

type modelCall struct {
	r    *recorder
	name string
	end  func(string)
}

func (m *modelCall) FirstChunk() { m.r.note(m.name + " first chunk") }
func (m *modelCall) Warning(err error) {
	m.r.note(m.name + " warning: " + err.Error())
}
func (m *modelCall) End(e agentbox.ModelCallEnd) {
	m.end(fmt.Sprintf("%s by %q, %s, %d calls, err %v", e.FinishReason, e.Model, e.Usage, len(e.Message.ToolCalls), e.Err))
}

func (r *recorder) note(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
}

func (r *recorder) StartToolCall(ctx context.Context, c agentbox.ToolCallStart) (context.Context, func(agentbox.ToolResult)) {
	ctx, end := r.start(ctx, "tool "+c.Call.ID)
	return ctx, func(res agentbox.ToolResult) {
		s := fmt.Sprintf("err %v", res.Err != nil)
		if res.Exit != nil {
			s += fmt.Sprintf(", exit %d", res.Exit.Code)
		}
		end(s)
	}
}

func (r *recorder) StartSandboxOp(ctx context.Context, op agentbox.SandboxOp) (context.Context, func(agentbox.SandboxOpEnd)) {
	desc := op.Name
	switch {
	case op.Command != "":
		desc += " " + op.Command
	case op.Path != "":
		desc += " " + op.Path
	}
	if op.Files > 0 {
		desc += fmt.Sprintf(" (%d files, %d bytes)", op.Files, op.Bytes)
	}
	ctx, end := r.start(ctx, "sandbox "+desc)
	return ctx, func(e agentbox.SandboxOpEnd) {
		s := fmt.Sprintf("err %v", e.Err != nil)
		if e.Result != nil {
			s += fmt.Sprintf(", exit %d", e.Result.ExitCode)
		}
		end(s)
	}
}

func TestTheObserverSeesTheRun(t *testing.T) {
	usage := &agentbox.Usage{PromptTokens: 10, CompletionTokens: 2}
	p := agentboxtest.NewProvider(
		agentboxtest.Step{
			Raw: []agentbox.Chunk{
				{Model: "test/fallback"},
				{Warning: errors.New("retrying after a 429")},
				{Text: "Writing."},
				{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, ID: "w", Name: "write_file", Arguments: `{"files":[{"path":"a.txt","content":"hi"}]}`}}},
				{ToolCalls: []agentbox.ToolCallDelta{{Index: 1, ID: "r", Name: "run_command", Arguments: `{"command":"cat a.txt; exit 3"}`}}},
				{ToolCalls: []agentbox.ToolCallDelta{{Index: 2, ID: "x", Name: "nope", Arguments: `{}`}}},
				{FinishReason: agentbox.FinishToolCalls, Usage: usage},
			},
		},
		agentboxtest.Reply("done"),
	)
	rec := &recorder{}
	a := agentbox.New(p, agentbox.Options{Open: agentboxtest.Opener(agentboxtest.NewSandbox(), 0), Observer: rec, ToolConcurrency: 1})
	collect(t, a.Run(context.Background(), "go"))
	want := []string{
		"run < ",
		"sandbox open < run",
		"chat 1 < run",
		"chat 1 warning: retrying after a 429",
		"chat 1 first chunk",
		"end sandbox open: err false",
		`end chat 1: tool_calls by "test/fallback", 10 in, 2 out tokens, 3 calls, err <nil>`,
		"tool w < run",
		"sandbox write_files a.txt (1 files, 2 bytes) < tool w",
		"end sandbox write_files a.txt (1 files, 2 bytes): err false",
		"end tool w: err false",
		"tool r < run",
		"sandbox run cat a.txt; exit 3 < tool r",
		"end sandbox run cat a.txt; exit 3: err false, exit 3",
		"end tool r: err false, exit 3",
		"tool x < run",
		"end tool x: err true",
		"chat 2 < run",
		"chat 2 first chunk",
		`end chat 2: stop by "", 0 in, 0 out tokens, 0 calls, err <nil>`,
		"sandbox close < run",
		"end sandbox close: err false",
		"end run: completed 2 steps, 10 in, 2 out tokens",
	}
	// The sandbox opens alongside the first model call: its lines may come
	// anywhere before the first tool call.
	got := slices.Clone(rec.lines)
	openLines := []string{"sandbox open < run", "end sandbox open: err false"}
	got = slices.DeleteFunc(got, func(l string) bool { return slices.Contains(openLines, l) })
	want = slices.DeleteFunc(want, func(l string) bool { return slices.Contains(openLines, l) })
	if !slices.Equal(got, want) {
		t.Errorf("the observer saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range openLines {
		if !slices.Contains(rec.lines, l) {
			t.Errorf("no %q", l)
		}
	}
	if rec.open != 0 {
		t.Errorf("%d observations started and never ended", rec.open)
	}
}

func TestTheObserverOfAFailedModelCall(t *testing.T) {
	rec := &recorder{}
	boom := &agentbox.ProviderError{Kind: agentbox.KindNoCredits, Message: "no credits"}
	p := agentboxtest.NewProvider(agentboxtest.Step{Err: boom})
	_, done := collect(t, agentbox.New(p, agentbox.Options{Observer: rec}).Run(context.Background(), "go"))
	if !errors.Is(done.Err, boom) {
		t.Fatalf("Done %v", done.Err)
	}
	if !slices.Contains(rec.lines, `end chat 1:  by "", 0 in, 0 out tokens, 0 calls, err no credits`) || rec.open != 0 {
		t.Errorf("the observer saw:\n%s", strings.Join(rec.lines, "\n"))
	}
}

func TestProcessOutputWithAnObserver(t *testing.T) {
	rec := &recorder{}
	sb := agentboxtest.NewSandbox()
	p := agentboxtest.NewProvider(
		calls(call("s", "start_process", `{"command":"echo started"}`)),
		calls(call("o", "process_output", `{"id":"p1"}`)),
		agentboxtest.Reply("ok"),
	)
	all, _ := collect(t, agentbox.New(p, agentbox.Options{Sandbox: sb, Observer: rec}).Run(context.Background(), "go"))
	if r := result(t, all, "o"); r.Err != nil {
		t.Errorf("process_output of a process started through the observed sandbox: %q", r.Output)
	}
	if !slices.Contains(rec.lines, "sandbox start_process echo started < tool s") {
		t.Errorf("the observer saw:\n%s", strings.Join(rec.lines, "\n"))
	}
}
