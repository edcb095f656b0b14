package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPrintsTheSpans(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, name := range []string{
		"invoke_agent example",
		"chat scripted/model",
		"execute_tool write_file",
		"execute_tool run_command",
		"sandbox open",
		"sandbox write_files",
		"sandbox run",
		"sandbox close",
	} {
		if !strings.Contains(out.String(), `"Name": "`+name+`"`) {
			t.Errorf("the output has no span %q", name)
		}
	}
	if !strings.Contains(out.String(), "run: completed after 3 steps") {
		t.Errorf("the output does not say the run completed:\n%s", out.String())
	}
}

// TestExportsWithOTLP runs the example against a collector on loopback,
// which decodes the OTLP/HTTP requests it gets.
func TestExportsWithOTLP(t *testing.T) {
	var (
		mu    sync.Mutex
		names []string
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			t.Errorf("the collector got %s %s, %d bytes that are no OTLP trace request", r.Method, r.URL.Path, len(body))
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	var out strings.Builder
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"invoke_agent example", "chat scripted/model", "execute_tool run_command", "sandbox run"} {
		if !slices.Contains(names, want) {
			t.Errorf("the collector got no span %q; it got %v", want, names)
		}
	}
}
