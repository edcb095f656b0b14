package agentbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Options configure an [Agent]. The zero value is useful: the built-in tools,
// the default system prompt, 25 steps, 4 concurrent tool calls, a 10-minute
// tool timeout and 16 KiB of tool output per call.
type Options struct {
	// Model is passed to the provider; empty means the provider's default.
	Model string
	// System is the system prompt; empty means [DefaultSystemPrompt].
	System string
	// Tools are the tools the model may call. Nil means [BuiltinTools]; an
	// empty, non-nil slice means none.
	Tools []Tool

	// Toolsets are groups of tools that may change between model requests,
	// such as an MCP server's (see [Toolset]); their tools are offered
	// with Tools.
	Toolsets []Toolset

	// Sandbox is an open sandbox the runs use and never close.
	Sandbox Sandbox
	// Open opens a sandbox for each run, starting together with the first
	// model request; the run closes it when it ends. Set Sandbox or Open,
	// not both. With neither, tools that need a sandbox report
	// [ErrNoSandbox] to the model.
	Open Opener

	// MaxSteps is the most model responses one run asks for; 0 means 25.
	MaxSteps int
	// Budget stops a run that uses too much.
	Budget Budget
	// ToolConcurrency is the most tool calls of one step that run at once;
	// 0 means 4.
	ToolConcurrency int
	// ToolTimeout bounds one tool call; 0 means 10 minutes.
	ToolTimeout time.Duration
	// MaxToolResult is how many bytes of one tool result the model gets
	// (a [ToolResult]'s Output; [ToolOutput] events are not capped); longer
	// results keep their head and tail, with a marker of about 40 bytes
	// between them saying how much was left out. 0 means 16 KiB.
	MaxToolResult int
	// MaxToolArguments is the largest arguments of one tool call, in bytes;
	// the rest of a call's arguments past it is not kept, and the call is
	// refused with an error matching [ErrInvalidArguments] that tells the
	// model to write in parts. 0 means 4 MiB.
	MaxToolArguments int

	// HistoryTokens bounds the earlier turns of the conversation sent to
	// the model, in tokens estimated at 4 bytes each. Before each request, a
	// conversation over it is shortened, oldest first: tool outputs, then
	// tool call arguments, then the text of earlier turns are replaced by
	// notes saying how much was left out — in the messages that [Done]
	// returns too. The last turn (from the last user message on) is always
	// sent whole, so the steps of one run are never shortened. 0 means
	// 100,000; a negative value, no limit.
	HistoryTokens int

	// NeedsApproval, when set, says which tool calls need a person's
	// approval before they run, such as commands outside an allow-list;
	// calls of tools wrapped by [RequireApproval] need it too. For each
	// such call, in call order, the run sends an [ApprovalRequest] and
	// waits for the answer from Approve; without Approve, or when no answer
	// comes, the calls that can run do, and the run stops with
	// [StopApproval] until [Agent.Continue] or [Session.Continue] brings
	// the answers. A denied call is not run: the model gets the denial, and
	// its reason, as the call's result (an error matching [ErrDenied]).
	// Calls that cannot run (an unknown tool, arguments that are not a JSON
	// object) fail without asking. The policy reads what the model wrote:
	// when it panics, the call needs approval.
	NeedsApproval func(ToolCall) bool
	// Approve answers an approval request while the run waits, for programs
	// that can ask at once (a terminal prompt, a chat message). ctx is done
	// when the run is cancelled, its Budget.Duration passes, or
	// ApprovalTimeout does. Its error (or panic), reported as a non-fatal
	// [Error], leaves the call and those after it waiting, as does the
	// timeout.
	Approve func(ctx context.Context, req ApprovalRequest) (Approval, error)
	// ApprovalTimeout bounds how long a step waits for Approve's answers,
	// in all; the calls not answered by then wait as if there were no
	// Approve. 0 means no limit but the run's.
	ApprovalTimeout time.Duration

	// MaxTokens caps each model response; 0 leaves it to the provider.
	MaxTokens int
	// Temperature, when non-nil, sets the sampling temperature.
	Temperature *float64

	// Observer, when set, watches every run: its model calls, tool calls
	// and sandbox operations (see [Observer]; package otelbox traces and
	// measures them with OpenTelemetry).
	Observer Observer

	// Logger receives one debug record per step and per tool call, and one
	// at the end of a run; a tool's panic (with its stack) is logged as an
	// error and a failure to close the sandbox as a warning. Records carry
	// names, sizes, durations and error texts, never arguments or file
	// contents. Nil discards them.
	Logger *slog.Logger
}

// Budget limits a run. A zero field means no limit. Limits are checked after
// each step, once its tool calls have run, except Duration, which stops the
// run at once.
type Budget struct {
	// Tokens limits prompt plus completion tokens over all steps.
	Tokens int64
	// Cost limits the cost in US dollars over all steps.
	Cost float64
	// Duration limits the run's wall time.
	Duration time.Duration
}

// Errors that end runs; [Done].Err matches them.
var (
	// ErrMaxSteps: the run used Options.MaxSteps model responses.
	ErrMaxSteps = errors.New("step limit reached")
	// ErrBudget: the run used more than Options.Budget allows.
	ErrBudget = errors.New("budget exceeded")
)

const (
	defaultMaxSteps        = 25
	defaultToolConcurrency = 4
	defaultToolTimeout     = 10 * time.Minute
	defaultMaxToolResult   = 16 << 10
	defaultMaxToolArgs     = 4 << 20
	maxResponseText        = 16 << 20 // of a response's text, and of its reasoning
	defaultHistoryTokens   = 100_000
	closeTimeout           = 30 * time.Second
	eventBuffer            = 32
)

// An Agent runs a model in a loop with tools. It is safe for concurrent use:
// each Run is independent.
type Agent struct {
	provider Provider
	opts     Options
	tools    map[string]Tool
	specs    []ToolSpec
	log      *slog.Logger
	err      error // a configuration error every run reports
}

var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// New returns an agent that asks p and runs tools as opts say. A
// configuration mistake (a nil provider, two tools of one name, both
// Sandbox and Open set) is reported by every run as its [Done] error.
func New(p Provider, opts Options) *Agent {
	a := &Agent{provider: p, opts: opts, tools: map[string]Tool{}, log: opts.Logger}
	if a.opts.System == "" {
		a.opts.System = DefaultSystemPrompt
	}
	if a.opts.Tools == nil {
		a.opts.Tools = BuiltinTools()
	}
	if a.opts.MaxSteps <= 0 {
		a.opts.MaxSteps = defaultMaxSteps
	}
	if a.opts.ToolConcurrency <= 0 {
		a.opts.ToolConcurrency = defaultToolConcurrency
	}
	if a.opts.ToolTimeout <= 0 {
		a.opts.ToolTimeout = defaultToolTimeout
	}
	if a.opts.MaxToolResult <= 0 {
		a.opts.MaxToolResult = defaultMaxToolResult
	}
	if a.opts.MaxToolArguments <= 0 {
		a.opts.MaxToolArguments = defaultMaxToolArgs
	}
	if a.opts.HistoryTokens == 0 {
		a.opts.HistoryTokens = defaultHistoryTokens
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if p == nil {
		errs = append(errs, errors.New("no provider"))
	}
	if opts.Sandbox != nil && opts.Open != nil {
		errs = append(errs, errors.New("both Options.Sandbox and Options.Open are set"))
	}
	for _, t := range a.opts.Tools {
		spec := t.Spec()
		switch {
		case !toolNameRE.MatchString(spec.Name):
			errs = append(errs, fmt.Errorf("tool name %q: want 1 to 64 letters, digits, '_' or '-'", spec.Name))
		case a.tools[spec.Name] != nil:
			errs = append(errs, fmt.Errorf("two tools are named %q", spec.Name))
		default:
			a.tools[spec.Name] = t
			a.specs = append(a.specs, spec)
		}
	}
	if err := errors.Join(errs...); err != nil {
		a.err = fmt.Errorf("agentbox: invalid configuration: %w", err)
	}
	return a
}

// Err reports the agent's configuration error, if any: the error every run
// would end with.
func (a *Agent) Err() error { return a.err }

// Run asks the model to carry out prompt and returns the run's events. The
// last event is always a [Done]; the channel is closed after it. The caller
// must receive until the channel is closed; to stop early, cancel ctx and go
// on receiving.
func (a *Agent) Run(ctx context.Context, prompt string) <-chan Event {
	return a.RunMessages(ctx, []Message{{Role: RoleUser, Content: prompt}})
}

// RunMessages is like Run for a conversation: messages are the turns so far
// (the Messages of an earlier [Done], say, with a new user turn appended).
// The slice is not modified. Tool calls that waited for approval when the
// user turn was appended (see [StopApproval]) are not run: the model reads
// that the user wrote instead of answering.
func (a *Agent) RunMessages(ctx context.Context, messages []Message) <-chan Event {
	r := a.newRun(messages)
	a.startRun(ctx, r)
	return r.out
}

// startRun starts r with the agent's sandbox, or one it opens for r.
func (a *Agent) startRun(ctx context.Context, r *run) {
	r.source.given = a.opts.Sandbox
	if open := a.opts.Open; open != nil {
		r.source.open = func(ctx context.Context, _ func(error)) (Sandbox, error) { return open(ctx) }
	}
	go func() { r.end(r.execute(ctx)) }()
}

// newRun prepares a run of the conversation in messages.
func (a *Agent) newRun(messages []Message) *run {
	r := &run{
		agent:     a,
		out:       make(chan Event, eventBuffer),
		messages:  closeWaitingBeforeUser(messages),
		ids:       callIDs{},
		oversized: map[string]int{},
		tools:     toolTable{byName: a.tools, specs: a.specs},
		start:     time.Now(),
	}
	for _, m := range messages {
		for _, c := range m.ToolCalls {
			r.ids[c.ID] = true
		}
	}
	return r
}
