package agentbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		if !isExclusive(r.agent.tools[calls[start].Name]) {
			for end < len(calls) && !isExclusive(r.agent.tools[calls[end].Name]) {
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
	tool := a.tools[call.Name]
	switch size, over := r.oversized[call.ID]; {
	case over:
		err = fmt.Errorf("%w: %d bytes, more than the %d allowed; write a large file in parts (write_file, then run_command to join them, e.g. cat a b > c)",
			ErrInvalidArguments, size, a.opts.MaxToolArguments)
	case ctx.Err() != nil:
		err = fmt.Errorf("not run: %w", context.Cause(ctx))
	case denied != nil:
		err = denied
	case tool == nil:
		err = fmt.Errorf("%w %q; the tools are: %s", ErrUnknownTool, call.Name, strings.Join(a.toolNames(), ", "))
	case err == nil:
		out, exit, err = r.invoke(ctx, tool, call, args)
	}
	content := capText(toolContent(out, err), a.opts.MaxToolResult)
	res := ToolResult{Step: r.steps, ID: call.ID, Name: call.Name, Output: content, Err: err, Exit: exit, Duration: time.Since(started)}
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

// invoke calls the tool with its timeout, turning a panic into an error,
// and returns what it returned and how the command it ran ended, if it
// reported that.
func (r *run) invoke(ctx context.Context, tool Tool, call ToolCall, args json.RawMessage) (out string, exit *Exit, err error) {
	// The call's output is sent while the run lasts, even after the call's
	// own timeout.
	runCtx := ctx
	emit := func(ev Event) { r.send(runCtx, ev) }
	timeout := r.agent.opts.ToolTimeout
	errTimeout := fmt.Errorf("%s timed out after %s and was stopped", call.Name, timeout)
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			r.agent.log.Error("agentbox: tool panicked", "tool", call.Name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			out, exit, err = "", nil, fmt.Errorf("%s failed with an internal error (panic: %v)", call.Name, v)
		}
	}()
	env := &Env{step: r.steps, id: call.ID, limit: r.agent.opts.MaxToolResult, sandbox: r.sandbox.get, emit: emit}
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

func (a *Agent) toolNames() []string {
	names := make([]string, 0, len(a.specs))
	for _, s := range a.specs {
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
