package otelbox

import (
	"cmp"
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentbox/agentbox"
)

// Options configure an [Observer]. The zero value is useful: the global
// tracer and meter providers, the provider name "openrouter", the agent
// name "agentbox", and no content recorded.
type Options struct {
	// TracerProvider makes the tracer of the spans; nil means
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter of the metrics; nil means
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// ProviderName is gen_ai.provider.name, the model provider as the
	// semantic conventions name it ("openai", "anthropic", …); empty means
	// the name the provider gives itself (agentbox.RunStart.Provider:
	// "openrouter" for openrouter's), or "_OTHER" when it gives none.
	ProviderName string
	// AgentName is gen_ai.agent.name, and names the run spans
	// ("invoke_agent {AgentName}"); empty means "agentbox".
	AgentName string
	// CaptureContent records what the model and the user wrote: the
	// messages, the system prompt, the tool calls' arguments and results,
	// and the command lines run in the sandbox. They may hold secrets and
	// personal data: leave it off unless the traces are kept as safely.
	CaptureContent bool
}

// An Observer records the runs of an agent as OpenTelemetry spans and
// metrics (see the package documentation for which). It is an
// [agentbox.Observer], safe for concurrent use; one Observer serves any
// number of agents and runs.
type Observer struct {
	tracer   trace.Tracer
	ins      instruments
	provider string
	agent    string
	content  bool
}

var _ agentbox.Observer = (*Observer)(nil)

// New returns an Observer configured by opts. An instrument the meter
// provider refuses to make is reported to otel.Handle and not recorded.
func New(opts Options) *Observer {
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	ins, err := newInstruments(mp.Meter(instrumentationName, metric.WithSchemaURL(semanticConventionsURL)))
	if err != nil {
		otel.Handle(err)
	}
	return &Observer{
		tracer:   tp.Tracer(instrumentationName, trace.WithSchemaURL(semanticConventionsURL)),
		ins:      ins,
		provider: opts.ProviderName,
		agent:    cmp.Or(opts.AgentName, defaultAgentName),
		content:  opts.CaptureContent,
	}
}

// StartRun starts the span of a run, "invoke_agent {AgentName}", and
// returns its context and what ends it.
func (o *Observer) StartRun(ctx context.Context, run agentbox.RunStart) (context.Context, func(agentbox.Done)) {
	return o.startRun(ctx, run)
}

// StartModelCall starts the span of a model call, "chat {model}", and
// returns its context and what follows the call.
func (o *Observer) StartModelCall(ctx context.Context, call agentbox.ModelCallStart) (context.Context, agentbox.ModelCallObserver) {
	return o.startModelCall(ctx, call)
}

// StartToolCall starts the span of a tool call, "execute_tool {tool}", and
// returns its context, which the call's sandbox operations get, and what
// ends it.
func (o *Observer) StartToolCall(ctx context.Context, call agentbox.ToolCallStart) (context.Context, func(agentbox.ToolResult)) {
	return o.startToolCall(ctx, call)
}

// StartSandboxOp starts the span of a sandbox operation, "sandbox {op}",
// and returns its context and what ends it.
func (o *Observer) StartSandboxOp(ctx context.Context, op agentbox.SandboxOp) (context.Context, func(agentbox.SandboxOpEnd)) {
	return o.startSandboxOp(ctx, op)
}
