package agentbox

import (
	"encoding/json"
	"time"
)

// An Event is something that happened during a run: a [Token], [ToolInput],
// [ApprovalRequest], [ToolStart], [ToolOutput], [Preview], [ToolResult],
// [Error] or [Done]. The set is closed: no other package can add to it. Each
// marshals to a JSON object whose "type" field names it ("token",
// "tool_input", "approval_request", "tool_start", "tool_output", "preview",
// "tool_result", "error", "done").
type Event interface {
	isEvent()
}

// Token is a piece of the model's text, streamed as it arrives.
type Token struct {
	Step int    `json:"step"`
	Text string `json:"text"`
	// Reasoning marks a piece of the model's visible reasoning rather than
	// of its answer.
	Reasoning bool `json:"reasoning,omitempty"`
}

// ToolInput is a piece of a tool call's arguments, streamed while the model
// writes them. The first ToolInput of a call comes as soon as its tool's name
// is known, and carries the arguments written so far (often none); the call's
// [ToolStart] follows once the model's response is complete. A response that
// fails midway may leave calls announced by ToolInput that never start.
type ToolInput struct {
	Step  int    `json:"step"`
	ID    string `json:"id"`
	Name  string `json:"name"`
	Delta string `json:"delta"`
}

// ApprovalRequest asks for a person's approval of a tool call before it runs
// (see [Options.NeedsApproval]). It comes after the call's [ToolInput]
// events; the call's [ToolStart] and [ToolResult] follow the answer, in this
// run or, when the run stops with [StopApproval] first, in the run that
// continues it. Answer it with an [Approval] of the same ID.
type ApprovalRequest struct {
	Step int    `json:"step"`
	ID   string `json:"id"`
	Name string `json:"name"`
	// Args is the call's JSON arguments object.
	Args json.RawMessage `json:"args"`
}

// ToolStart announces that a tool call begins.
type ToolStart struct {
	Step int    `json:"step"`
	ID   string `json:"id"`
	Name string `json:"name"`
	// Args is the call's JSON arguments object, or null when the model's
	// arguments were not valid JSON (the [ToolResult] then says why).
	Args json.RawMessage `json:"args"`
}

// ToolOutput is output a running tool streamed, such as a command's stdout.
type ToolOutput struct {
	Step   int    `json:"step"`
	ID     string `json:"id"`
	Stream string `json:"stream"` // "stdout" or "stderr"
	Text   string `json:"text"`
}

// Preview says that a port inside the sandbox answers at URL, such as the dev
// server a start_process call started. ID is the tool call that found it.
type Preview struct {
	Step int    `json:"step"`
	ID   string `json:"id"`
	Port int    `json:"port"`
	URL  string `json:"url"`
}

// ToolResult is the end of a tool call.
type ToolResult struct {
	Step int    `json:"step"`
	ID   string `json:"id"`
	Name string `json:"name"`
	// Output is exactly what the model gets back, capped to
	// Options.MaxToolResult; when Err is set it includes Err's text.
	Output string `json:"output"`
	Err    error  `json:"-"`
	// Exit is how the command the call ran ended, for a call that ran one
	// to its end: run_command's command, a start_process program that
	// exited (or was stopped) while the call watched it, or what a custom
	// tool reported with [Env.SetExit]. It is nil for every other call. A
	// command that exits non-zero is no error of the call: Err is nil, and
	// Exit.Code says it failed (see [ToolResult.Failed]).
	Exit     *Exit         `json:"exit,omitempty"`
	Duration time.Duration `json:"-"`
}

// Failed reports whether the call failed: it returned an error, or the
// command it ran exited non-zero or was killed.
func (r ToolResult) Failed() bool {
	return r.Err != nil || r.Exit != nil && (r.Exit.Code != 0 || r.Exit.Killed)
}

// An Exit is how a command a tool call ran ended. It marshals to JSON as
// {"code":3,"killed":false,"timed_out":false}.
type Exit struct {
	// Code is the command's exit status, as [Result.ExitCode]: 0 for
	// success, -1 when the command was killed.
	Code int `json:"code"`
	// Killed says the command did not end by itself: a signal, its
	// timeout or the end of the run killed it.
	Killed bool `json:"killed"`
	// TimedOut says it was killed because it ran past its timeout.
	TimedOut bool `json:"timed_out"`
}

// Error reports a problem. A non-fatal one (Fatal false) is something the run
// recovered from, such as a provider's retry or model fallback; a fatal one
// is followed by a [Done] carrying the same error.
type Error struct {
	Err   error `json:"-"`
	Fatal bool  `json:"fatal"`
}

// StopReason says why a run ended.
type StopReason string

// The reasons a run ends.
const (
	StopCompleted StopReason = "completed" // the model finished without calling a tool
	StopMaxSteps  StopReason = "max_steps" // Options.MaxSteps model responses were used
	StopBudget    StopReason = "budget"    // Options.Budget was exceeded
	StopCanceled  StopReason = "canceled"  // the caller's ctx was done
	StopApproval  StopReason = "approval"  // tool calls wait for approval: see Agent.Continue
	StopError     StopReason = "error"     // the provider or the sandbox failed
)

// Done is the last event of every run.
type Done struct {
	Reason StopReason `json:"reason"`
	// Err is nil when Reason is StopCompleted, and says what stopped the run
	// otherwise.
	Err   error `json:"-"`
	Usage Usage `json:"usage"`
	// Steps is the number of model responses the run asked for.
	Steps int `json:"steps"`
	// Messages is the conversation: the prompt and every turn after it, with
	// no system prompt. Pass it to a later request to continue.
	Messages []Message `json:"messages"`
	// Pending are the tool calls that wait for approval when Reason is
	// StopApproval: the last message of Messages that made calls made them,
	// and [Agent.Continue] takes the answers.
	Pending []ToolCall `json:"pending,omitempty"`
	// Elapsed is the run's wall time.
	Elapsed time.Duration `json:"-"`
	// SandboxTime is how long the sandbox this run opened was open; zero for
	// a sandbox the caller passed in.
	SandboxTime time.Duration `json:"-"`
}

func (Token) isEvent()           {}
func (ToolInput) isEvent()       {}
func (ApprovalRequest) isEvent() {}
func (ToolStart) isEvent()       {}
func (ToolOutput) isEvent()      {}
func (Preview) isEvent()         {}
func (ToolResult) isEvent()      {}
func (Error) isEvent()           {}
func (Done) isEvent()            {}

// errorText is the JSON form of an optional error.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// MarshalJSON adds "type":"token".
func (e Token) MarshalJSON() ([]byte, error) {
	type plain Token
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
	}{"token", plain(e)})
}

// MarshalJSON adds "type":"tool_input".
func (e ToolInput) MarshalJSON() ([]byte, error) {
	type plain ToolInput
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
	}{"tool_input", plain(e)})
}

// MarshalJSON adds "type":"approval_request".
func (e ApprovalRequest) MarshalJSON() ([]byte, error) {
	type plain ApprovalRequest
	if len(e.Args) == 0 {
		e.Args = json.RawMessage("null")
	}
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
	}{"approval_request", plain(e)})
}

// MarshalJSON adds "type":"preview".
func (e Preview) MarshalJSON() ([]byte, error) {
	type plain Preview
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
	}{"preview", plain(e)})
}

// MarshalJSON adds "type":"tool_start".
func (e ToolStart) MarshalJSON() ([]byte, error) {
	type plain ToolStart
	if len(e.Args) == 0 {
		e.Args = json.RawMessage("null")
	}
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
	}{"tool_start", plain(e)})
}

// MarshalJSON adds "type":"tool_output".
func (e ToolOutput) MarshalJSON() ([]byte, error) {
	type plain ToolOutput
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
	}{"tool_output", plain(e)})
}

// MarshalJSON adds "type":"tool_result", the error's text as "error" and the
// duration in milliseconds as "duration_ms".
func (e ToolResult) MarshalJSON() ([]byte, error) {
	type plain ToolResult
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
		Error      string  `json:"error,omitempty"`
		DurationMS float64 `json:"duration_ms"`
	}{"tool_result", plain(e), errorText(e.Err), milliseconds(e.Duration)})
}

// MarshalJSON adds "type":"error" and the error's text as "error".
func (e Error) MarshalJSON() ([]byte, error) {
	type plain Error
	return json.Marshal(struct {
		Type  string `json:"type"`
		Error string `json:"error"`
		plain
	}{"error", errorText(e.Err), plain(e)})
}

// MarshalJSON adds "type":"done", the error's text as "error" and the
// durations in milliseconds.
func (e Done) MarshalJSON() ([]byte, error) {
	type plain Done
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
		Error         string  `json:"error,omitempty"`
		ElapsedMS     float64 `json:"elapsed_ms"`
		SandboxTimeMS float64 `json:"sandbox_time_ms,omitempty"`
	}{"done", plain(e), errorText(e.Err), milliseconds(e.Elapsed), milliseconds(e.SandboxTime)})
}

func milliseconds(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
