package otelbox_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/otelbox"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// telemetry is an SDK that keeps what it records, for a test.
type telemetry struct {
	tp     *sdktrace.TracerProvider
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

// newTelemetry returns an SDK shut down when t ends.
func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		tel.tp.Shutdown(context.Background())
		tel.mp.Shutdown(context.Background())
	})
	return tel
}

// observer returns an Observer recording to tel.
func (tel *telemetry) observer(content bool) *otelbox.Observer {
	return otelbox.New(otelbox.Options{TracerProvider: tel.tp, MeterProvider: tel.mp, CaptureContent: content})
}

// ended returns the spans that ended, checking that every span started
// ended.
func (tel *telemetry) ended(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	started, ended := tel.spans.Started(), tel.spans.Ended()
	if len(started) != len(ended) {
		var open []string
		for _, s := range started {
			if s.EndTime().IsZero() {
				open = append(open, s.Name())
			}
		}
		t.Errorf("%d spans started, %d ended; open: %v", len(started), len(ended), open)
	}
	return ended
}

// metrics collects the metrics recorded so far.
func (tel *telemetry) metrics(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// run runs agent on prompt in ctx and returns its Done.
func run(ctx context.Context, t *testing.T, agent *agentbox.Agent, prompt string) agentbox.Done {
	t.Helper()
	var done agentbox.Done
	for ev := range agent.Run(ctx, prompt) {
		if d, ok := ev.(agentbox.Done); ok {
			done = d
		}
	}
	return done
}

// timed are the attributes whose values change from run to run.
var timed = map[attribute.Key]bool{"gen_ai.response.time_to_first_chunk": true}

// tree returns spans as an indented tree, each span with its kind, status,
// attributes (key=value, sorted) and events; siblings in the order of
// their step, then by name, then by start.
func tree(spans []sdktrace.ReadOnlySpan) string {
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if p := s.Parent().SpanID(); ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var write func(level int, list []sdktrace.ReadOnlySpan)
	write = func(level int, list []sdktrace.ReadOnlySpan) {
		list = slices.Clone(list)
		slices.SortStableFunc(list, func(a, b sdktrace.ReadOnlySpan) int {
			return cmp.Or(cmp.Compare(stepOf(a), stepOf(b)), cmp.Compare(a.Name(), b.Name()), a.StartTime().Compare(b.StartTime()))
		})
		indent := strings.Repeat("    ", level)
		for _, s := range list {
			fmt.Fprintf(&b, "%s%s [%s]", indent, s.Name(), s.SpanKind())
			if st := s.Status(); st.Code != 0 {
				fmt.Fprintf(&b, " %s: %q", st.Code, st.Description)
			}
			b.WriteByte('\n')
			for _, kv := range keyValues(s.Attributes()) {
				fmt.Fprintf(&b, "%s  %s\n", indent, kv)
			}
			for _, e := range s.Events() {
				fmt.Fprintf(&b, "%s  event %s %v\n", indent, e.Name, keyValues(e.Attributes))
			}
			write(level+1, children[s.SpanContext().SpanID()])
		}
	}
	write(0, roots)
	return b.String()
}

// names returns spans as an indented tree of their names.
func names(spans []sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for line := range strings.Lines(tree(spans)) {
		if t := strings.TrimLeft(line, " "); !strings.HasPrefix(t, "event ") && strings.Contains(t, " [") {
			b.WriteString(line[:strings.Index(line, " [")] + "\n")
		}
	}
	return b.String()
}

// stepOf orders a span among its siblings: the sandbox's opening first,
// its closing last, the others by their step.
func stepOf(s sdktrace.ReadOnlySpan) int {
	switch s.Name() {
	case "sandbox open":
		return -1
	case "sandbox close":
		return 1 << 30
	}
	for _, kv := range s.Attributes() {
		if kv.Key == "agentbox.step" {
			return int(kv.Value.AsInt64())
		}
	}
	return 0
}

// keyValues returns kvs as sorted key=value texts, leaving out the values
// that change from run to run.
func keyValues(kvs []attribute.KeyValue) []string {
	var out []string
	for _, kv := range kvs {
		v := kv.Value.Emit()
		if timed[kv.Key] {
			v = "<time>"
		} else if strings.Contains(v, "\n") {
			v = strconv.Quote(v)
		}
		out = append(out, string(kv.Key)+"="+v)
	}
	slices.Sort(out)
	return out
}

// attr returns the value of span's attribute key, and whether it has it.
func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// find returns the spans named name.
func find(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the one span named name.
func one(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	found := find(spans, name)
	if len(found) != 1 {
		t.Fatalf("%d spans named %q, want 1; the spans:\n%s", len(found), name, names(spans))
	}
	return found[0]
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := gocmp.Diff(string(want), got); diff != "" {
		t.Errorf("spans differ from %s (-want +got):\n%s", path, diff)
	}
}
