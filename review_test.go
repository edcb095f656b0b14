package agentbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

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

func TestCutShortResponsesDoNotComplete(t *testing.T) {
	for _, tc := range []struct {
		finish agentbox.FinishReason
		kind   agentbox.ErrorKind
	}{
		{agentbox.FinishLength, agentbox.KindTruncated},
		{agentbox.FinishContentFilter, agentbox.KindModeration},
	} {
		p := agentboxtest.NewProvider(agentboxtest.Step{Text: []string{"The app is almost"}, Finish: tc.finish})
		_, done := collect(t, agentbox.New(p, agentbox.Options{}).Run(context.Background(), "hi"))
		var perr *agentbox.ProviderError
		if done.Reason != agentbox.StopError || !errors.As(done.Err, &perr) || perr.Kind != tc.kind {
			t.Errorf("finish %s: Done = %v, %v; want an error of kind %s", tc.finish, done.Reason, done.Err, tc.kind)
		}
		if len(done.Messages) != 2 || done.Messages[1].Content != "The app is almost" {
			t.Errorf("finish %s: the cut response is not kept: %+v", tc.finish, done.Messages)
		}
	}
}

func TestCallsSharingAnIndexAreSplitByID(t *testing.T) {
	noop := agentbox.NewTool("noop", "Does nothing.", func(context.Context, *agentbox.Env, struct{}) (string, error) { return "ok", nil })
	p := agentboxtest.NewProvider(agentboxtest.Step{Raw: []agentbox.Chunk{
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, ID: "a", Name: "noop", Arguments: "{"}}},
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, Arguments: "}"}}},
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 0, ID: "b", Name: "noop", Arguments: "{}"}}},
		{FinishReason: agentbox.FinishToolCalls},
	}}, agentboxtest.Reply("done"))
	all, done := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{noop}}).Run(context.Background(), "hi"))
	if got := done.Messages[1].ToolCalls; len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || got[0].Arguments != "{}" {
		t.Fatalf("tool calls = %+v; want a and b, each with {}", got)
	}
	for _, id := range []string{"a", "b"} {
		if r := result(t, all, id); r.Err != nil {
			t.Errorf("call %s: %v", id, r.Err)
		}
	}
}

func TestLogLeavesOutArgumentText(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := agentboxtest.NewProvider(
		calls(call("c1", "write_file", `{"files":[{"path":".env","content":"KEY=sk-SECRET`)),
		calls(call("c2", "write_file", `{"files":[{"path":".env","content":"KEY=sk-SECRET","mode":"600"}]}`)),
		agentboxtest.Reply("done"),
	)
	all, _ := collect(t, agentbox.New(p, agentbox.Options{Sandbox: agentboxtest.NewSandbox(), Logger: log}).Run(context.Background(), "hi"))
	if !strings.Contains(result(t, all, "c1").Output, "sk-SECRET") {
		t.Errorf("the model should see what it wrote, to repair it")
	}
	if strings.Contains(buf.String(), "SECRET") || strings.Count(buf.String(), "error=\"invalid arguments\"") != 2 {
		t.Errorf("log:\n%s", buf.String())
	}
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

func TestAgentErr(t *testing.T) {
	if err := agentbox.New(agentboxtest.NewProvider(), agentbox.Options{}).Err(); err != nil {
		t.Errorf("Err() = %v for a valid configuration", err)
	}
	if err := agentbox.New(nil, agentbox.Options{}).Err(); err == nil || !strings.Contains(err.Error(), "no provider") {
		t.Errorf("Err() = %v, want the configuration error", err)
	}
}
