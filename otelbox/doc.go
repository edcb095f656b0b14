// Package otelbox traces and measures agentbox runs with OpenTelemetry,
// following the OpenTelemetry semantic conventions for generative AI
// (gen_ai.*, as of semantic conventions v1.41.0).
//
// [New] returns an [agentbox.Observer]; set it as the agent's
// Options.Observer:
//
//	agent := agentbox.New(provider, agentbox.Options{
//		Observer: otelbox.New(otelbox.Options{}),
//	})
//
// # Spans
//
// Each run is one trace subtree:
//
//	invoke_agent agentbox             INTERNAL, the run
//	├── sandbox open                  INTERNAL, when the run opens its sandbox
//	├── chat {model}                  CLIENT, one per model request
//	├── execute_tool {tool}           INTERNAL, one per tool call
//	│   └── sandbox {operation}       INTERNAL, each sandbox operation of the call
//	└── sandbox close                 INTERNAL, when the run closes its sandbox
//
// The run span ("invoke_agent {AgentName}") has gen_ai.operation.name
// "invoke_agent", gen_ai.agent.name, gen_ai.provider.name and, when the agent
// names a model, gen_ai.request.model; when the run ends,
// agentbox.stop_reason, agentbox.steps, gen_ai.usage.input_tokens and
// gen_ai.usage.output_tokens, and agentbox.usage.cost (US dollars, when the
// provider reported a cost). gen_ai.provider.name is Options.ProviderName,
// else the name the provider gives itself ("openrouter" for openrouter's,
// or its Config.Name), else "_OTHER".
//
// A model call's span ("chat {model}", or "chat" for the provider's default
// model) has gen_ai.operation.name "chat", gen_ai.provider.name,
// gen_ai.request.model, gen_ai.request.max_tokens and
// gen_ai.request.temperature when set, and agentbox.step; when it ends,
// gen_ai.response.model (the model that answered, else the one asked for),
// gen_ai.response.finish_reasons, gen_ai.usage.input_tokens,
// gen_ai.usage.output_tokens, gen_ai.usage.cache_read.input_tokens and
// gen_ai.usage.reasoning.output_tokens (when not zero), agentbox.usage.cost,
// and gen_ai.response.time_to_first_chunk (seconds). Its events are
// "agentbox.first_chunk", when the first text, reasoning or tool call
// arrives, and one for each problem the provider recovered from:
// "agentbox.provider.retry" for a retry (a warning matching
// agentbox.ErrRetrying), "agentbox.provider.fallback" for a fallback to
// another model (agentbox.ErrFallingBack), "agentbox.provider.warning" for
// any other, with error.type and agentbox.warning.message, and
// http.response.status_code when the provider gave one.
//
// A tool call's span ("execute_tool {tool}") has gen_ai.operation.name
// "execute_tool", gen_ai.tool.name (the model's name for the tool, or
// "_OTHER" when no tool can have that name; in metrics also when the agent
// has no such tool, so that made-up names do not multiply the series),
// gen_ai.tool.call.id, gen_ai.tool.type
// "function" and agentbox.step; when it ends, agentbox.tool.exit_code (and
// agentbox.tool.killed, agentbox.tool.timed_out when true) for a call that
// ran a command, and agentbox.tool.denied for a call a person denied. A
// command that exits non-zero is no error of the call, as in
// [agentbox.ToolResult]: the span's status stays unset.
//
// A sandbox operation's span ("sandbox {operation}", the operation one of
// the agentbox.Op* names) has agentbox.sandbox.operation, and as the
// operation has them agentbox.sandbox.path, agentbox.sandbox.files,
// agentbox.sandbox.bytes, agentbox.sandbox.port and
// agentbox.sandbox.process_id; when a command ends, agentbox.sandbox.exit_code.
//
// # Errors
//
// A span that ended in an error has the status Error, with the error's text
// as its description, and error.type, a low-cardinality name of what went
// wrong:
//
//   - the [agentbox.ErrorKind] of the error when it has one (see
//     [agentbox.KindOf]): "rate_limited", "timeout", "not_found", …;
//   - "canceled" and "deadline_exceeded" for context.Canceled and
//     context.DeadlineExceeded;
//   - "denied", "unknown_tool", "invalid_arguments", "no_sandbox",
//     "not_supported", "closed", "budget" and "max_steps" for agentbox's
//     errors of those names;
//   - otherwise the Go type of the error, such as "*fs.PathError", or
//     "_OTHER" for the plain errors of packages errors and fmt.
//
// A run's span is an error when the run stopped for any reason but
// "completed" and "approval"; its error.type is then its stop reason
// ("canceled", "budget", "max_steps"), or the error's as above for "error".
// A run cancelled by its caller is thus an error of type "canceled".
//
// # Content
//
// Nothing the model or the user wrote is recorded unless
// Options.CaptureContent is set. With it, the run and chat spans get
// gen_ai.system_instructions and gen_ai.input.messages, chat spans
// gen_ai.output.messages, all as JSON strings in the semantic conventions'
// message schema (role and parts); tool call spans get
// gen_ai.tool.call.arguments and gen_ai.tool.call.result; and the spans of
// commands (run and start_process) get agentbox.sandbox.command.
//
// # Metrics
//
//   - gen_ai.client.token.usage (histogram, {token}): the input and output
//     tokens of each model call that reported them, by gen_ai.token.type;
//   - gen_ai.client.operation.duration (histogram, s): each model call
//     ("chat"), tool call ("execute_tool", with gen_ai.tool.name) and run
//     ("invoke_agent"), with error.type when it failed;
//   - gen_ai.client.operation.time_to_first_chunk (histogram, s): from the
//     start of a model call to its first chunk;
//   - agentbox.sandbox.operation.duration (histogram, s): each sandbox
//     operation, by agentbox.sandbox.operation and error.type;
//   - agentbox.runs (counter, {run}): the runs that ended, by
//     agentbox.stop_reason and gen_ai.agent.name.
//
// The gen_ai metrics have gen_ai.operation.name, gen_ai.provider.name and,
// as known, gen_ai.request.model and gen_ai.response.model. The histograms
// have the bucket boundaries the semantic conventions advise.
//
// # Trace context over HTTP
//
// [Transport] sends the trace context of each request's context with it
// (the W3C traceparent header): set it as the Transport of the HTTP client
// of openrouter.Config or e2b.Config, and the model and sandbox services see
// the spans of the calls that made the requests. [Handler] reads the trace
// context of incoming requests, so that the runs a handler such as a
// uistream.Handler starts are part of the caller's trace.
//
// # Cost when off
//
// With no SDK installed (the global providers are OpenTelemetry's no-op
// ones) an Observer does little more than what the no-op tracer and meter
// do: the attributes recorded when things end, and the content, are only
// made for spans that record and instruments that are enabled.
package otelbox
