package otelbox_test

import (
	"context"
	"fmt"
	"slices"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/otelbox"
)

// A run traced with a tracer provider of the OpenTelemetry SDK; its spans
// are kept in memory here, where a program would export them.
func ExampleNew() {
	ctx := context.Background()
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "call_1", Name: "write_file",
			Args: `{"files":[{"path":"hello.txt","content":"hello"}]}`}}},
		agentboxtest.Reply("Done."),
	)
	sandbox := agentboxtest.NewSandbox()
	defer sandbox.Close(ctx)

	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(ctx)

	agent := agentbox.New(provider, agentbox.Options{
		Model:    "some/model",
		Sandbox:  sandbox,
		Observer: otelbox.New(otelbox.Options{TracerProvider: tp}),
	})
	for range agent.Run(ctx, "Write hello.txt") {
	}
	printTree(exporter.GetSpans())
	// Output:
	// invoke_agent agentbox
	//     chat some/model
	//     execute_tool write_file
	//         sandbox write_files
	//     chat some/model
}

// printTree prints the names of spans as a tree, each span's children in
// the order they started.
func printTree(spans tracetest.SpanStubs) {
	slices.SortFunc(spans, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	var print func(parent trace.SpanID, indent string)
	print = func(parent trace.SpanID, indent string) {
		for _, s := range spans {
			if s.Parent.SpanID() == parent {
				fmt.Println(indent + s.Name)
				print(s.SpanContext.SpanID(), indent+"    ")
			}
		}
	}
	print(trace.SpanID{}, "")
}
