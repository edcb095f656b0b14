package agentbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// ErrUnknownTool is matched by the error of a call to a tool the agent does
// not have.
var ErrUnknownTool = errors.New("unknown tool")

// runTools runs the calls of one step and returns the tool messages, in call
// order. Consecutive calls of non-exclusive tools run concurrently (up to
// Options.ToolConcurrency); an exclusive tool's call runs alone. A call that
// answers denies is not run.
func (r *run) runTools(ctx context.Context, calls []ToolCall, answers map[string]Approval) []Message {
	msgs := make([]Message, len(calls))
	for start := 0; start < len(calls); {
		end := start + 1
		if !isExclusive(r.tools.byName[calls[start].Name]) {
			for end < len(calls) && !isExclusive(r.tools.byName[calls[end].Name]) {
				end++
			}
		}
		var g errgroup.Group
		g.SetLimit(r.agent.opts.ToolConcurrency)
		for i := start; i < end; i++ {
			g.Go(func() error {
				answer, ok := answers[calls[i].ID]
				msgs[i] = r.callTool(ctx, calls[i], denial(answer, ok))
				return nil
			})
		}
		g.Wait()
		start = end
	}
	return msgs
}

// callTool runs one call, reporting it with ToolStart and ToolResult, and
// returns the tool message for the model. A call denied, with its denial as
// the error, is not run.
func (r *run) callTool(ctx context.Context, call ToolCall, denied error) Message {
	a := r.agent
	started := time.Now()
	args, err := normalizeArgs(call.Arguments)
	ev := ToolStart{Step: r.steps, ID: call.ID, Name: call.Name}
	if err == nil {
		ev.Args = args
	}
	r.send(ctx, ev)

	var (
		out  string
		exit *Exit
	)
	callCtx, endCall := ctx, func(ToolResult) {}
	if obs := a.opts.Observer; obs != nil {
		callCtx, endCall = obs.StartToolCall(ctx, ToolCallStart{Step: r.steps, Call: call})
	}
	tool := r.tools.byName[call.Name]
	switch size, over := r.oversized[call.ID]; {
	case over:
		err = fmt.Errorf("%w: %d bytes, more than the %d allowed; write a large file in parts (write_file, then run_command to join them, e.g. cat a b > c)",
			ErrInvalidArguments, size, a.opts.MaxToolArguments)
	case ctx.Err() != nil:
		err = fmt.Errorf("not run: %w", context.Cause(ctx))
	case denied != nil:
		err = denied
	case tool == nil:
		err = fmt.Errorf("%w %q; the tools are: %s", ErrUnknownTool, call.Name, strings.Join(r.tools.names(), ", "))
	case err == nil:
		out, exit, err = r.invocation(ctx).invoke(callCtx, tool, call, args)
	}
	content := capText(toolContent(out, err), a.opts.MaxToolResult)
	res := ToolResult{Step: r.steps, ID: call.ID, Name: call.Name, Output: content, Err: err, Exit: exit, Duration: time.Since(started)}
	endCall(res)
	r.send(ctx, res)
	attrs := []any{"step", r.steps, "id", call.ID, "tool", call.Name,
		"args_bytes", len(call.Arguments), "output_bytes", len(content),
		"duration", res.Duration, "error", logText(err)}
	if exit != nil {
		attrs = append(attrs, "exit_code", exit.Code)
	}
	a.log.Debug("agentbox tool call", attrs...)
	return Message{Role: RoleTool, ToolCallID: call.ID, Name: call.Name, Content: content}
}

// invocation is how tool calls run: their timeout, the bytes of output a
// tool keeps, their sandbox, and where their events go.
type invocation struct {
	step    int
	timeout time.Duration
	limit   int // Options.MaxToolResult
	sandbox func(context.Context) (Sandbox, error)
	emit    func(Event)
	log     *slog.Logger
}

// invocation returns how the calls of the run's current step run. Their
// output is sent while the run lasts, even after a call's own timeout.
func (r *run) invocation(ctx context.Context) invocation {
	inv := invocation{
		step:    r.steps,
		timeout: r.agent.opts.ToolTimeout,
		limit:   r.agent.opts.MaxToolResult,
		sandbox: r.sandbox.get,
		emit:    func(ev Event) { r.send(ctx, ev) },
		log:     r.agent.log,
	}
	if obs := r.agent.opts.Observer; obs != nil {
		inv.sandbox = func(ctx context.Context) (Sandbox, error) {
			sb, err := r.sandbox.get(ctx)
			if err != nil {
				return nil, err
			}
			return observed(sb, obs), nil
		}
	}
	return inv
}

// invoke calls the tool with its timeout, turning a panic into an error,
// and returns what it returned and how the command it ran ended, if it
// reported that.
func (inv invocation) invoke(ctx context.Context, tool Tool, call ToolCall, args json.RawMessage) (out string, exit *Exit, err error) {
	errTimeout := fmt.Errorf("%s timed out after %s and was stopped", call.Name, inv.timeout)
	ctx, cancel := context.WithTimeoutCause(ctx, inv.timeout, errTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			inv.log.Error("agentbox: tool panicked", "tool", call.Name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			out, exit, err = "", nil, fmt.Errorf("%s failed with an internal error (panic: %v)", call.Name, v)
		}
	}()
	env := &Env{step: inv.step, id: call.ID, limit: inv.limit, sandbox: inv.sandbox, emit: inv.emit}
	defer env.close()
	out, err = tool.Call(ctx, env, args)
	exit = env.result()
	switch {
	case err == nil || context.Cause(ctx) != errTimeout:
	case !errors.Is(err, errTimeout):
		err = fmt.Errorf("%w: %w", errTimeout, err)
	case !errors.Is(err, context.DeadlineExceeded):
		// The tool returned the cause: said once, matching a deadline.
		err = fmt.Errorf("%w: %w", err, context.DeadlineExceeded)
	}
	return out, exit, err
}

// CallOptions configure [CallTool]. The zero value is useful: the limits of
// an Agent's zero Options, and events dropped.
type CallOptions struct {
	// Timeout bounds the call; 0 means 10 minutes.
	Timeout time.Duration
	// MaxResult is how many bytes of the result are kept, as
	// Options.MaxToolResult; 0 means 16 KiB.
	MaxResult int
	// Emit receives the call's [ToolOutput] and [Preview] events, from the
	// goroutine of the call, before CallTool returns; nil drops them.
	Emit func(Event)
	// Logger receives a tool's panic, with its stack; nil discards it.
	Logger *slog.Logger
}

// CallTool runs one call of tool on sb outside a run, as a run runs it:
// its arguments normalised ("" is {}), its timeout applied, a panic turned
// into an error, its result capped, its output sent as events as it
// comes. It returns the call's [ToolResult], of Step 0, whose Output is what
// a model would read. It serves an agent's tools to others, such as the
// clients of an MCP server.
func CallTool(ctx context.Context, tool Tool, sb Sandbox, call ToolCall, opts CallOptions) ToolResult {
	started := time.Now()
	inv := invocation{
		timeout: cmp.Or(opts.Timeout, defaultToolTimeout),
		limit:   cmp.Or(opts.MaxResult, defaultMaxToolResult),
		sandbox: func(context.Context) (Sandbox, error) {
			if sb == nil {
				return nil, ErrNoSandbox
			}
			return sb, nil
		},
		emit: opts.Emit,
		log:  opts.Logger,
	}
	if inv.emit == nil {
		inv.emit = func(Event) {}
	}
	if inv.log == nil {
		inv.log = slog.New(slog.DiscardHandler)
	}
	var (
		out  string
		exit *Exit
	)
	args, err := normalizeArgs(call.Arguments)
	if err == nil {
		out, exit, err = inv.invoke(ctx, tool, call, args)
	}
	return ToolResult{ID: call.ID, Name: call.Name, Output: capText(toolContent(out, err), inv.limit),
		Err: err, Exit: exit, Duration: time.Since(started)}
}

// normalizeArgs turns the model's argument text into a JSON object: empty
// means {} (models send nothing for tools without parameters).
func normalizeArgs(s string) (json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(s)) {
		var v any
		err := json.Unmarshal([]byte(s), &v)
		return nil, fmt.Errorf("%w: not valid JSON (%v): %s", ErrInvalidArguments, err, capText(s, 200))
	}
	if s[0] != '{' {
		return nil, fmt.Errorf("%w: want a JSON object, got %s", ErrInvalidArguments, capText(s, 200))
	}
	return json.RawMessage(s), nil
}

// toolContent is the text the model gets for a call.
func toolContent(out string, err error) string {
	switch {
	case err == nil && out == "":
		return "(no output)"
	case err == nil:
		return out
	case out == "":
		return "Error: " + err.Error()
	case strings.HasSuffix(out, "\n"):
		return out + "\nError: " + err.Error()
	default:
		return out + "\n\nError: " + err.Error()
	}
}

// names returns the names of the tools, sorted.
func (t toolTable) names() []string {
	names := make([]string, 0, len(t.specs))
	for _, s := range t.specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// logText is an error's text, shortened for a log record. Errors about
// invalid arguments quote what the model wrote, which may be file content or
// a secret: only their kind is logged.
func logText(err error) string {
	if errors.Is(err, ErrInvalidArguments) {
		return ErrInvalidArguments.Error()
	}
	return capText(errorText(err), 200)
}
