package otelbox_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// points returns the data points of the metric named name, by their
// attributes' key=value texts joined with spaces.
func points(t *testing.T, rm metricdata.ResourceMetrics, name string) map[string]metricdata.DataPoint[int64] {
	t.Helper()
	out := map[string]metricdata.DataPoint[int64]{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[set(p.Attributes)] = p
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					out[set(p.Attributes)] = metricdata.DataPoint[int64]{Attributes: p.Attributes, Value: p.Sum}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[set(p.Attributes)] = metricdata.DataPoint[int64]{Attributes: p.Attributes, Value: int64(p.Count)}
				}
			default:
				t.Fatalf("%s is a %T", name, m.Data)
			}
		}
	}
	return out
}

func set(s attribute.Set) string {
	var kvs []string
	for _, kv := range s.ToSlice() {
		kvs = append(kvs, string(kv.Key)+"="+kv.Value.Emit())
	}
	return strings.Join(kvs, " ")
}

func TestMetrics(t *testing.T) {
	tel := newTelemetry(t)
	done := run(t.Context(), t, scriptedAgent(tel.observer(false), scripted()...), "Say hello")
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("run stopped: %s %v", done.Reason, done.Err)
	}
	rm := tel.metrics(t)
	const chat = "gen_ai.operation.name=chat gen_ai.provider.name=agentboxtest gen_ai.request.model=test/model gen_ai.response.model=test/model"
	for name, want := range map[string]map[string]int64{
		// Sums of tokens.
		"gen_ai.client.token.usage": {
			chat + " gen_ai.token.type=input":  3900,
			chat + " gen_ai.token.type=output": 70,
		},
		// Counts of operations.
		"gen_ai.client.operation.duration": {
			chat: 3,
			"gen_ai.operation.name=execute_tool gen_ai.provider.name=agentboxtest gen_ai.tool.name=run_command":                               1,
			"gen_ai.operation.name=execute_tool gen_ai.provider.name=agentboxtest gen_ai.tool.name=write_file":                                1,
			"gen_ai.agent.name=agentbox gen_ai.operation.name=invoke_agent gen_ai.provider.name=agentboxtest gen_ai.request.model=test/model": 1,
		},
		"gen_ai.client.operation.time_to_first_chunk": {chat: 3},
		"agentbox.sandbox.operation.duration": {
			"agentbox.sandbox.operation=open":        1,
			"agentbox.sandbox.operation=write_files": 1,
			"agentbox.sandbox.operation=run":         1,
			"agentbox.sandbox.operation=close":       1,
		},
		"agentbox.runs": {"agentbox.stop_reason=completed gen_ai.agent.name=agentbox": 1},
	} {
		got := points(t, rm, name)
		if len(got) != len(want) {
			t.Errorf("%s has %d data points, want %d: %v", name, len(got), len(want), got)
		}
		for attrs, v := range want {
			if p, ok := got[attrs]; !ok || p.Value != v {
				t.Errorf("%s{%s} = %d (recorded: %v), want %d", name, attrs, p.Value, ok, v)
			}
		}
	}
}

func TestMetricsOfFailures(t *testing.T) {
	tel := newTelemetry(t)
	ctx := t.Context()
	run(ctx, t, scriptedAgent(tel.observer(false),
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "call_missing", Name: "read_file", Args: `{"path":"missing.txt"}`}}},
		agentboxtest.Reply("Sorry."),
	), "Read")
	rm := tel.metrics(t)
	got := points(t, rm, "gen_ai.client.operation.duration")
	if _, ok := got["error.type=not_found gen_ai.operation.name=execute_tool gen_ai.provider.name=agentboxtest gen_ai.tool.name=read_file"]; !ok {
		t.Errorf("no duration of the failed read_file call with error.type not_found: %v", got)
	}
	ops := points(t, rm, "agentbox.sandbox.operation.duration")
	if _, ok := ops["agentbox.sandbox.operation=open_file error.type=not_found"]; !ok {
		t.Errorf("no duration of the failed open_file with error.type not_found: %v", ops)
	}
}
