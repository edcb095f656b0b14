// Package agentbox runs an LLM coding agent inside a sandbox and streams what
// it does as typed events.
//
// An [Agent] joins a [Provider] (the model: OpenRouter, any OpenAI-compatible
// server, or a scripted fake) to a [Sandbox] (where tools run: an E2B cloud
// sandbox, a local workspace, or an in-memory fake). [Agent.Run] returns a
// channel of [Event] values:
//
//	for ev := range agent.Run(ctx, "Create a counter app") {
//		switch ev := ev.(type) {
//		case agentbox.Token:      // streamed model text
//		case agentbox.ToolInput:  // a tool call's arguments, as the model writes them
//		case agentbox.ApprovalRequest: // a call waits for a person's approval
//		case agentbox.ToolStart:  // a tool call begins, with its complete arguments
//		case agentbox.ToolOutput: // streamed stdout/stderr of a running tool
//		case agentbox.Preview:    // a port of the sandbox answers at a URL
//		case agentbox.ToolResult: // what the tool returned to the model, its error, its duration
//		case agentbox.Error:      // a non-fatal notice (a retry, a fallback) or the fatal error
//		case agentbox.Done:       // always last: stop reason, error, usage, conversation
//		}
//	}
//
// # Rules of a run
//
//   - Exactly one [Done] is sent, always last, and then the channel is closed:
//     on success, on error, at the step limit, over budget and on cancellation.
//     The caller must receive until the channel is closed (or cancel ctx and
//     then receive until it is closed).
//   - When the run opens its sandbox ([Options.Open]), opening starts together
//     with the first model request: tokens never wait for the sandbox, and the
//     first tool call waits only for whatever opening time is left. If opening
//     fails, the run stops at once with that error.
//   - A sandbox the run opened is closed when the run ends, whatever the
//     ending; a sandbox passed in [Options.Sandbox] stays the caller's.
//   - Each step streams one model response; its tool calls run (independent
//     ones concurrently, up to [Options.ToolConcurrency]) and their results go
//     back to the model, in call order, until the model stops, the step limit,
//     a [Budget] or cancellation ends the run.
//   - A bad tool call — unknown tool, invalid JSON, arguments failing the
//     tool's schema, a panic, a timeout — becomes a [ToolResult] with an error
//     whose text is also the tool message the model gets, so it can repair the
//     call. It never ends the run.
//   - Memory is bounded: command output streams out as [ToolOutput] and what is
//     kept for the model is capped to [Options.MaxToolResult] (head and tail,
//     with a marker in between).
//   - Cancelling ctx stops the model stream, kills running commands, closes
//     what the run opened, sends [Done] and leaves no goroutine behind.
//   - A call that needs approval ([Options.NeedsApproval], [RequireApproval])
//     runs only once approved: [Options.Approve] answers while the run
//     waits, or the run stops with [StopApproval] and [Agent.Continue] (or
//     [Session.Continue]) brings the answers later. A denied call never
//     reaches the sandbox; the model reads the denial and its reason.
//   - Earlier turns longer than [Options.HistoryTokens] are shortened before
//     each request, oldest tool output first; the last turn is sent whole.
//
// # Sessions
//
// A [Session] ([Agent.NewSession]) runs turn after turn of one conversation
// in one sandbox, so that what a turn builds is there for the next; it keeps
// a sandbox that expires ([LifetimeSetter]) alive while in use, and its
// [SessionState] resumes it in another process ([Agent.ResumeSession]).
// Package uistream serves sessions to browser chat clients.
//
// # Observing runs
//
// [Options.Observer] sees each run, model call, tool call and sandbox
// operation start and end, with contexts that nest them; package otelbox
// turns that into OpenTelemetry traces and metrics. Without one, nothing is
// recorded and nothing is spent.
//
// # Implementations
//
// Providers and sandboxes live in sub-packages (openrouter, e2b, local) so that
// this package depends only on the standard library, errgroup and a JSON Schema
// library. Package agentboxtest has a scripted [Provider], an in-memory
// [Sandbox], and the conformance suites every implementation passes.
package agentbox
