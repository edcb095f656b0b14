// Command otel traces an agent's run with OpenTelemetry and prints the
// spans to standard output, as JSON. It needs no account and no network:
// the model is scripted (agentboxtest's Provider), and the sandbox is
// agentboxtest's in-memory one.
//
//	go run ./examples/otel
//
// With OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// set, it sends the spans with OTLP over HTTP to that collector or backend
// (Jaeger, Tempo, Honeycomb, Grafana), as any program would:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run ./examples/otel
//
// A program with a live model sends the trace context with its requests
// too: set otelbox.Transport in openrouter.Config.HTTPClient (and
// e2b.Config.HTTPClient), and otel.SetTextMapPropagator.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/otelbox"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "otel:", err)
		os.Exit(1)
	}
}

// script is the scripted model's part: write a file, run a command, answer.
func script() []agentboxtest.Step {
	return []agentboxtest.Step{
		{
			Text:  []string{"I'll write the greeting."},
			Calls: []agentboxtest.Call{{ID: "call_1", Name: "write_file", Args: `{"files":[{"path":"hello.txt","content":"hello, world\n"}]}`}},
			Usage: &agentbox.Usage{PromptTokens: 1200, CompletionTokens: 40},
		},
		{
			Calls: []agentboxtest.Call{{ID: "call_2", Name: "run_command", Args: `{"command":"cat hello.txt"}`}},
			Usage: &agentbox.Usage{PromptTokens: 1300, CompletionTokens: 20},
		},
		{
			Text:  []string{"hello.txt says hello, world."},
			Usage: &agentbox.Usage{PromptTokens: 1400, CompletionTokens: 10, Cost: 0.0021},
		},
	}
}

// run runs the scripted agent once, exporting its spans (see exporter),
// and writes what the run did to w.
func run(ctx context.Context, w io.Writer) error {
	exporter, err := newExporter(ctx, w)
	if err != nil {
		return fmt.Errorf("make the exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
	defer tp.Shutdown(context.Background())

	agent := agentbox.New(agentboxtest.NewProvider(script()...), agentbox.Options{
		Model:    "scripted/model",
		Open:     agentboxtest.Opener(agentboxtest.NewSandbox(), 0),
		Observer: otelbox.New(otelbox.Options{TracerProvider: tp, AgentName: "example", ProviderName: "agentboxtest"}),
	})
	var done agentbox.Done
	for ev := range agent.Run(ctx, "Write a greeting to hello.txt and show it") {
		if d, ok := ev.(agentbox.Done); ok {
			done = d
		}
	}
	if err := tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush the spans: %w", err)
	}
	fmt.Fprintf(w, "run: %s after %d steps, %s\n", done.Reason, done.Steps, done.Usage)
	if done.Err != nil {
		return fmt.Errorf("the run failed: %w", done.Err)
	}
	return nil
}

// newExporter returns an OTLP/HTTP exporter when the environment names an
// endpoint (the exporter reads OTEL_EXPORTER_OTLP_* itself), and one that
// writes the spans to w as JSON otherwise.
func newExporter(ctx context.Context, w io.Writer) (sdktrace.SpanExporter, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		fmt.Fprintln(w, "exporting the spans with OTLP over HTTP")
		return otlptracehttp.New(ctx)
	}
	return stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint())
}
