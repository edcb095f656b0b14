package agentbox_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// changingToolset offers, at its nth call, the tools of sets[n] (the last
// set once they run out), with the error of errs[n].
type changingToolset struct {
	mu   sync.Mutex
	n    int
	sets [][]agentbox.Tool
	errs []error
}

func (c *changingToolset) Tools(ctx context.Context) ([]agentbox.Tool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := min(c.n, len(c.sets)-1)
	var err error
	if c.n < len(c.errs) {
		err = c.errs[c.n]
	}
	c.n++
	return c.sets[i], err
}

// says returns a tool that answers with text.
func says(name, text string) agentbox.Tool {
	return agentbox.NewTool(name, "Says "+text+".", func(ctx context.Context, env *agentbox.Env, args struct{}) (string, error) {
		return text, nil
	})
}

func specNames(specs []agentbox.ToolSpec) []string {
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	return names
}

func TestToolsetsChangeBetweenSteps(t *testing.T) {
	set := &changingToolset{sets: [][]agentbox.Tool{
		{says("alpha", "a"), says("bad name!", "x"), says("own", "dup")},
		{says("beta", "b")},
	}, errs: []error{nil, errors.New("the server is slow"), errors.New("the server is slow")}}
	p := agentboxtest.NewProvider(
		calls(call("1", "alpha", "")),
		calls(call("2", "beta", ""), call("3", "alpha", "")),
		agentboxtest.Reply("ok"),
	)
	a := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{says("own", "mine")}, Toolsets: []agentbox.Toolset{set}})
	all, done := collect(t, a.Run(context.Background(), "go"))
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	reqs := p.Requests()
	for i, want := range [][]string{{"own", "alpha"}, {"own", "beta"}, {"own", "beta"}} {
		if got := specNames(reqs[i].Tools); !slices.Equal(got, want) {
			t.Errorf("request %d offered %v, want %v", i+1, got, want)
		}
	}
	if r := result(t, all, "1"); r.Output != "a" {
		t.Errorf("alpha: %q", r.Output)
	}
	if r := result(t, all, "2"); r.Output != "b" {
		t.Errorf("beta: %q", r.Output)
	}
	if r := result(t, all, "3"); !errors.Is(r.Err, agentbox.ErrUnknownTool) || !strings.Contains(r.Output, "the tools are: beta, own") {
		t.Errorf("a tool gone since: %q", r.Output)
	}
	var warnings []string
	for _, e := range of[agentbox.Error](all) {
		warnings = append(warnings, e.Err.Error())
	}
	want := []string{
		`toolset 0: tool name "bad name!": want 1 to 64 letters, digits, '_' or '-'; the tool is left out`,
		`toolset 0: a tool named "own" is there already; this one is left out`,
		"toolset 0: the server is slow",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings:\n%s\nwant, each once:\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestToolsetsOfAContinuedRun(t *testing.T) {
	set := &changingToolset{sets: [][]agentbox.Tool{{agentbox.RequireApproval(says("deploy", "deployed"))}}}
	p := agentboxtest.NewProvider(calls(call("d", "deploy", "")), agentboxtest.Reply("ok"))
	a := agentbox.New(p, agentbox.Options{Toolsets: []agentbox.Toolset{set}})
	_, done := collect(t, a.Run(context.Background(), "go"))
	if done.Reason != agentbox.StopApproval {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	all, done := collect(t, a.Continue(context.Background(), done.Messages, agentbox.Approval{ID: "d", Approved: true}))
	if r := result(t, all, "d"); r.Output != "deployed" || done.Reason != agentbox.StopCompleted {
		t.Errorf("the continued call: %q; Done %s, %v", r.Output, done.Reason, done.Err)
	}
}

func TestCallTool(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	tools := map[string]agentbox.Tool{}
	for _, tool := range agentbox.BuiltinTools() {
		tools[tool.Spec().Name] = tool
	}
	var events []agentbox.Event
	emit := func(ev agentbox.Event) { events = append(events, ev) }
	res := agentbox.CallTool(context.Background(), tools["write_file"], sb,
		agentbox.ToolCall{ID: "w", Name: "write_file", Arguments: `{"files":[{"path":"a.txt","content":"hello\n"}]}`}, agentbox.CallOptions{Emit: emit})
	if res.Err != nil || res.ID != "w" || res.Name != "write_file" || !strings.Contains(res.Output, "a.txt") {
		t.Fatalf("write_file: %+v", res)
	}
	res = agentbox.CallTool(context.Background(), tools["run_command"], sb,
		agentbox.ToolCall{ID: "r", Name: "run_command", Arguments: `{"command":"cat a.txt"}`}, agentbox.CallOptions{Emit: emit})
	if res.Err != nil || res.Exit == nil || res.Exit.Code != 0 || res.Output != "hello\n[exit code 0]" {
		t.Fatalf("run_command: %+v", res)
	}
	if out := of[agentbox.ToolOutput](events); len(out) != 1 || out[0].Text != "hello\n" || out[0].ID != "r" {
		t.Errorf("output events: %+v", out)
	}
	res = agentbox.CallTool(context.Background(), tools["run_command"], sb, agentbox.ToolCall{Name: "run_command", Arguments: `{"command":`}, agentbox.CallOptions{})
	if !errors.Is(res.Err, agentbox.ErrInvalidArguments) {
		t.Errorf("invalid arguments: %+v", res)
	}
	res = agentbox.CallTool(context.Background(), tools["read_file"], nil, agentbox.ToolCall{Name: "read_file", Arguments: `{"path":"a.txt"}`}, agentbox.CallOptions{})
	if !errors.Is(res.Err, agentbox.ErrNoSandbox) {
		t.Errorf("no sandbox: %+v", res)
	}
	slow := agentbox.NewTool("slow", "Waits.", func(ctx context.Context, env *agentbox.Env, args struct{}) (string, error) {
		<-ctx.Done()
		return "", context.Cause(ctx)
	})
	res = agentbox.CallTool(context.Background(), slow, nil, agentbox.ToolCall{Name: "slow"}, agentbox.CallOptions{Timeout: 10 * time.Millisecond})
	if !errors.Is(res.Err, context.DeadlineExceeded) || !strings.Contains(res.Output, "timed out after 10ms") {
		t.Errorf("timeout: %+v", res)
	}
	boom := agentbox.NewTool("boom", "Panics.", func(ctx context.Context, env *agentbox.Env, args struct{}) (string, error) {
		panic("oops")
	})
	res = agentbox.CallTool(context.Background(), boom, nil, agentbox.ToolCall{Name: "boom"}, agentbox.CallOptions{MaxResult: 30})
	if res.Err == nil || !strings.Contains(res.Err.Error(), "panic: oops") || len(res.Output) > 30+64 {
		t.Errorf("panic: %+v", res)
	}
}

type panickingToolset struct{}

func (panickingToolset) Tools(context.Context) ([]agentbox.Tool, error) { panic("lost") }

func TestAPanickingToolsetIsAWarning(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("ok"))
	all, done := collect(t, agentbox.New(p, agentbox.Options{Toolsets: []agentbox.Toolset{panickingToolset{}}}).Run(context.Background(), "go"))
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	if errs := of[agentbox.Error](all); len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "Tools panicked: lost") {
		t.Errorf("errors: %v", errs)
	}
}
