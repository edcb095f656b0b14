package otelbox_test

import (
	"context"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"github.com/agentbox/agentbox/otelbox"
)

// scripted is a run that writes a script, runs a command, and answers.
func scripted() []agentboxtest.Step {
	return []agentboxtest.Step{
		{
			Text:  []string{"Writing it."},
			Calls: []agentboxtest.Call{{ID: "call_1", Name: "write_file", Args: `{"files":[{"path":"hello.txt","content":"hello\n"}]}`}},
			Usage: &agentbox.Usage{PromptTokens: 1200, CompletionTokens: 40, CachedTokens: 1000},
		},
		{
			Calls: []agentboxtest.Call{{ID: "call_2", Name: "run_command", Args: `{"command":"cat hello.txt"}`}},
			Usage: &agentbox.Usage{PromptTokens: 1300, CompletionTokens: 20, ReasoningTokens: 5},
		},
		{
			Text:  []string{"Done: ", "it says hello."},
			Usage: &agentbox.Usage{PromptTokens: 1400, CompletionTokens: 10, Cost: 0.0125},
		},
	}
}

// scriptedAgent returns an agent playing steps, with a sandbox opened for
// each run, observed by obs.
func scriptedAgent(obs agentbox.Observer, steps ...agentboxtest.Step) *agentbox.Agent {
	temp := 0.25
	return agentbox.New(agentboxtest.NewProvider(steps...), agentbox.Options{
		Model:       "test/model",
		System:      "You are a test.",
		MaxTokens:   1000,
		Temperature: &temp,
		Open:        agentboxtest.Opener(agentboxtest.NewSandbox(), 0),
		Observer:    obs,
	})
}

func TestSpanTree(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content bool
	}{{"run.golden", false}, {"run_content.golden", true}} {
		t.Run(tc.name, func(t *testing.T) {
			tel := newTelemetry(t)
			done := run(t.Context(), t, scriptedAgent(tel.observer(tc.content), scripted()...), "Say hello")
			if done.Reason != agentbox.StopCompleted {
				t.Fatalf("run stopped: %s %v", done.Reason, done.Err)
			}
			spans := tel.ended(t)
			checkParents(t, spans)
			golden(t, tc.name, tree(spans))
			t.Logf("span tree:\n%s", names(spans))
		})
	}
}

// checkParents checks the parent of each span by its ID: the run span is
// the root, chat, tool call and sandbox open/close spans its children, and
// the other sandbox spans children of a tool call span; all in one trace.
func checkParents(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	root := one(t, spans, "invoke_agent agentbox")
	if root.Parent().IsValid() {
		t.Errorf("the run span has a parent: %v", root.Parent())
	}
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("%s is in another trace", s.Name())
		}
	}
	var tools, ops int
	for _, s := range spans {
		if s == root {
			continue
		}
		parent, ok := byID[s.Parent().SpanID()]
		if !ok {
			t.Errorf("%s has no parent among the spans", s.Name())
			continue
		}
		switch name := s.Name(); {
		case strings.HasPrefix(name, "chat"), strings.HasPrefix(name, "execute_tool"), name == "sandbox open", name == "sandbox close":
			if parent != root {
				t.Errorf("%s is a child of %s, want the run span", name, parent.Name())
			}
			if strings.HasPrefix(name, "execute_tool") {
				tools++
			}
		case strings.HasPrefix(name, "sandbox "):
			ops++
			if !strings.HasPrefix(parent.Name(), "execute_tool") {
				t.Errorf("%s is a child of %s, want a tool call span", name, parent.Name())
			}
		default:
			t.Errorf("unexpected span %s", name)
		}
	}
	if tools == 0 || ops == 0 {
		t.Errorf("%d tool call spans, %d sandbox operation spans under them; want some of each", tools, ops)
	}
}

func TestRetriedModelCall(t *testing.T) {
	srv := openroutertest.NewServer(t,
		openroutertest.Status(429, `{"error":{"code":429,"message":"Rate limit exceeded"}}`),
		openroutertest.FromStep(agentboxtest.Reply("Hello.")),
	)
	p, err := openrouter.New(openrouter.Config{APIKey: "sk-or-test", BaseURL: srv.URL, Models: []string{"some/model"}, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tel := newTelemetry(t)
	agent := agentbox.New(p, agentbox.Options{Model: "some/model", Tools: []agentbox.Tool{}, Observer: tel.observer(false)})
	if done := run(t.Context(), t, agent, "Hi"); done.Reason != agentbox.StopCompleted {
		t.Fatalf("run stopped: %s %v", done.Reason, done.Err)
	}
	spans := tel.ended(t)
	chat := one(t, spans, "chat some/model")
	if v, _ := attr(chat, "gen_ai.response.model"); v.AsString() != "openroutertest/model" {
		t.Errorf("gen_ai.response.model = %q, want the model of the chunks, openroutertest/model", v.Emit())
	}
	if v, _ := attr(chat, "gen_ai.provider.name"); v.AsString() != "openrouter" {
		t.Errorf("gen_ai.provider.name = %q, want the provider's own name, openrouter", v.Emit())
	}
	if v, _ := attr(chat, "gen_ai.request.model"); v.AsString() != "some/model" {
		t.Errorf("gen_ai.request.model = %q, want some/model", v.Emit())
	}
	var warnings []string
	for _, e := range chat.Events() {
		if e.Name == "agentbox.provider.retry" {
			warnings = append(warnings, strings.Join(keyValues(e.Attributes), " "))
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "error.type=rate_limited") || !strings.Contains(warnings[0], "http.response.status_code=429") {
		t.Errorf("retry events %q, want one of a 429, rate_limited", warnings)
	}
	if chat.Status().Code != codes.Unset {
		t.Errorf("the retried call's status is %v, want unset", chat.Status())
	}
}

func TestFailures(t *testing.T) {
	tel := newTelemetry(t)
	done := run(t.Context(), t, scriptedAgent(tel.observer(false),
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "call_exit", Name: "run_command", Args: `{"command":"exit 3"}`}}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "call_missing", Name: "read_file", Args: `{"path":"missing.txt"}`}}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "call_unknown", Name: "no_such_tool", Args: `{}`}}},
		agentboxtest.Reply("Sorry."),
	), "Fail")
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("run stopped: %s %v", done.Reason, done.Err)
	}
	spans := tel.ended(t)

	exit := one(t, spans, "execute_tool run_command")
	if v, _ := attr(exit, "agentbox.tool.exit_code"); v.AsInt64() != 3 || v.Type() != attribute.INT64 {
		t.Errorf("agentbox.tool.exit_code = %s, want 3", v.Emit())
	}
	if exit.Status().Code != codes.Unset {
		t.Errorf("a command exiting 3 made the call's status %v, want unset", exit.Status())
	}
	sbRun := one(t, spans, "sandbox run")
	if sbRun.Parent().SpanID() != exit.SpanContext().SpanID() {
		t.Errorf("sandbox run is not a child of the run_command call")
	}
	if v, _ := attr(sbRun, "agentbox.sandbox.exit_code"); v.AsInt64() != 3 || v.Type() != attribute.INT64 {
		t.Errorf("agentbox.sandbox.exit_code = %s, want 3", v.Emit())
	}

	read := one(t, spans, "execute_tool read_file")
	if v, _ := attr(read, "error.type"); v.AsString() != "not_found" {
		t.Errorf("read_file of a missing file: error.type = %q, want not_found", v.Emit())
	}
	if read.Status().Code != codes.Error || read.Status().Description == "" {
		t.Errorf("read_file of a missing file: status %v, want an error with its text", read.Status())
	}
	open := one(t, spans, "sandbox open_file")
	if v, _ := attr(open, "error.type"); v.AsString() != "not_found" || open.Status().Code != codes.Error {
		t.Errorf("sandbox open_file of a missing file: error.type %q, status %v; want not_found, an error", v.Emit(), open.Status())
	}

	unknown := one(t, spans, "execute_tool no_such_tool")
	if v, _ := attr(unknown, "error.type"); v.AsString() != "unknown_tool" || unknown.Status().Code != codes.Error {
		t.Errorf("a call of an unknown tool: error.type %q, status %v; want unknown_tool, an error", v.Emit(), unknown.Status())
	}
}

func TestDeniedCall(t *testing.T) {
	tel := newTelemetry(t)
	agent := agentbox.New(agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "call_rm", Name: "run_command", Args: `{"command":"rm -rf /"}`}}},
		agentboxtest.Reply("Fine."),
	), agentbox.Options{
		Sandbox:       agentboxtest.NewSandbox(),
		NeedsApproval: func(agentbox.ToolCall) bool { return true },
		Approve:       agentboxtest.NewApprover(agentbox.Approval{ID: "call_rm", Reason: "no"}).Approve,
		Observer:      tel.observer(false),
	})
	if done := run(t.Context(), t, agent, "Clean up"); done.Reason != agentbox.StopCompleted {
		t.Fatalf("run stopped: %s %v", done.Reason, done.Err)
	}
	spans := tel.ended(t)
	call := one(t, spans, "execute_tool run_command")
	if v, _ := attr(call, "agentbox.tool.denied"); !v.AsBool() {
		t.Errorf("agentbox.tool.denied is not set on a denied call")
	}
	if v, _ := attr(call, "error.type"); v.AsString() != "denied" {
		t.Errorf("error.type = %q, want denied", v.Emit())
	}
	if len(find(spans, "sandbox run")) != 0 {
		t.Errorf("a denied call ran a command")
	}
}

func TestCanceledRun(t *testing.T) {
	tel := newTelemetry(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	agent := scriptedAgent(tel.observer(false),
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "call_1", Name: "write_file", Args: `{"files":[{"path":"a.txt","content":"a"}]}`}}},
		agentboxtest.Step{Text: []string{"Thinking"}, Hang: true, FailAfter: 1},
	)
	var done agentbox.Done
	for ev := range agent.Run(ctx, "Hang") {
		switch ev := ev.(type) {
		case agentbox.Token:
			if ev.Step == 2 {
				cancel()
			}
		case agentbox.Done:
			done = ev
		}
	}
	if done.Reason != agentbox.StopCanceled {
		t.Fatalf("run stopped: %s %v, want canceled", done.Reason, done.Err)
	}
	spans := tel.ended(t)
	runSpan := one(t, spans, "invoke_agent agentbox")
	if v, _ := attr(runSpan, "agentbox.stop_reason"); v.AsString() != "canceled" {
		t.Errorf("agentbox.stop_reason = %q, want canceled", v.Emit())
	}
	if v, _ := attr(runSpan, "error.type"); v.AsString() != "canceled" || runSpan.Status().Code != codes.Error {
		t.Errorf("the cancelled run: error.type %q, status %v; want canceled, an error", v.Emit(), runSpan.Status())
	}
	chats := find(spans, "chat test/model")
	if len(chats) != 2 {
		t.Fatalf("%d chat spans, want 2", len(chats))
	}
	for _, c := range chats {
		if v, _ := attr(c, "agentbox.step"); v.AsInt64() == 2 {
			if e, _ := attr(c, "error.type"); e.AsString() != "canceled" || c.Status().Code != codes.Error {
				t.Errorf("the cancelled model call: error.type %q, status %v; want canceled, an error", e.Emit(), c.Status())
			}
		}
	}
	one(t, spans, "sandbox close")
}

// forbidden are the attributes that hold content.
var forbidden = []attribute.Key{
	"gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages",
	"gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "agentbox.sandbox.command",
}

func TestContent(t *testing.T) {
	for _, content := range []bool{false, true} {
		tel := newTelemetry(t)
		done := run(t.Context(), t, scriptedAgent(tel.observer(content), scripted()...), "Say hello")
		if done.Reason != agentbox.StopCompleted {
			t.Fatalf("run stopped: %s %v", done.Reason, done.Err)
		}
		found := map[attribute.Key]bool{}
		all := tree(tel.ended(t))
		for _, s := range tel.ended(t) {
			for _, kv := range s.Attributes() {
				found[kv.Key] = true
			}
		}
		for _, k := range forbidden {
			if found[k] != content {
				t.Errorf("CaptureContent %v: %s recorded: %v", content, k, found[k])
			}
		}
		for _, text := range []string{"Say hello", "cat hello.txt", "it says hello", "You are a test."} {
			if strings.Contains(all, text) != content {
				t.Errorf("CaptureContent %v: %q in the spans: %v", content, text, !content)
			}
		}
	}
}

func TestZeroOptions(t *testing.T) {
	// With the global no-op providers, a run goes as without an Observer.
	done := run(t.Context(), t, scriptedAgent(otelbox.New(otelbox.Options{CaptureContent: true}), scripted()...), "Say hello")
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("run stopped: %s %v", done.Reason, done.Err)
	}
}

func TestMadeUpToolNames(t *testing.T) {
	huge := strings.Repeat("x", 100_000)
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{
			{ID: "a", Name: huge, Args: `{}`},
			{ID: "b", Name: "made_up", Args: `{}`},
		}},
		agentboxtest.Reply("ok"),
	)
	tel := newTelemetry(t)
	agent := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{}, Observer: tel.observer(false)})
	run(t.Context(), t, agent, "go")
	spans := tel.ended(t)
	one(t, spans, "execute_tool _OTHER")
	one(t, spans, "execute_tool made_up")
	for _, s := range spans {
		if len(s.Name()) > 200 {
			t.Errorf("a span named with %d bytes", len(s.Name()))
		}
	}
	rm := tel.metrics(t)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
				for _, dp := range h.DataPoints {
					if v, ok := dp.Attributes.Value("gen_ai.tool.name"); ok && v.AsString() != "_OTHER" {
						t.Errorf("%s has a series for the made-up tool %q", m.Name, v.AsString())
					}
				}
			}
		}
	}
}
