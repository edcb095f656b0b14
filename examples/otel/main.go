// Command otel traces an agent's run with OpenTelemetry and prints the
// spans to standard output, as JSON. It needs no account and no network:
// the model is scripted (agentboxtest's Provider), and the sandbox is
// agentboxtest's in-memory one.
//
//	go run ./examples/otel
//
// To send the spans to an OpenTelemetry collector, or to any backend that
// takes OTLP, export them with OTLP over HTTP instead
// (go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp, which
// reads OTEL_EXPORTER_OTLP_ENDPOINT), and send the trace context to the
// model provider too:
//
//	exporter, err := otlptracehttp.New(ctx)
//	if err != nil {
//		return err
//	}
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
//	defer tp.Shutdown(context.Background()) // flushes the spans
//	otel.SetTracerProvider(tp)
//	otel.SetTextMapPropagator(propagation.TraceContext{})
//
//	provider, err := openrouter.New(openrouter.Config{
//		APIKey:     os.Getenv("OPENROUTER_API_KEY"),
//		HTTPClient: &http.Client{Transport: otelbox.Transport(nil)},
//	})
//	if err != nil {
//		return err
//	}
//	agent := agentbox.New(provider, agentbox.Options{Observer: otelbox.New(otelbox.Options{})})
package main

import (
	"context"
	"fmt"
	"io"
	"os"

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

// run runs the scripted agent once, writing its spans to w as they end,
// and then what the run did.
func run(ctx context.Context, w io.Writer) error {
	exporter, err := stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint())
	if err != nil {
		return fmt.Errorf("make the exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
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
