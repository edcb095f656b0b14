package agentbox

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
)

// ErrDenied is matched by the error of a tool call that was not approved
// (see [Options.NeedsApproval]); the model reads it, with the reason given.
var ErrDenied = errors.New("the user denied this call")

// An Approval answers an [ApprovalRequest]: the call may run, or it may not
// and the model is told why.
type Approval struct {
	// ID is the tool call's ID, as the ApprovalRequest has it. In what
	// Options.Approve returns it may be left empty.
	ID string `json:"id"`
	// Approved lets the call run.
	Approved bool `json:"approved"`
	// Reason, for a denial, is said to the model with it: the call's
	// result is "Error: the user denied this call: " and the reason.
	Reason string `json:"reason,omitempty"`
}

// RequireApproval returns t with every call of it needing approval before it
// runs, as [Options.NeedsApproval] would say.
func RequireApproval(t Tool) Tool { return approvalRequired{t} }

type approvalRequired struct{ Tool }

func (approvalRequired) requiresApproval() bool { return true }

// Exclusive keeps a wrapped tool exclusive.
func (t approvalRequired) Exclusive() bool { return isExclusive(t.Tool) }

func (t exclusive) requiresApproval() bool { return requiresApproval(t.Tool) }

func requiresApproval(t Tool) bool {
	x, ok := t.(interface{ requiresApproval() bool })
	return ok && x.requiresApproval()
}

// needsApproval reports whether call needs an answer before it runs: its
// tool requires one, or the agent's policy does. A call that cannot run (an
// unknown tool, arguments that are not a JSON object or too large) fails
// without asking.
func (r *run) needsApproval(call ToolCall) bool {
	a := r.agent
	tool := r.tools.byName[call.Name]
	if tool == nil || r.oversized[call.ID] > 0 {
		return false
	}
	if _, err := normalizeArgs(call.Arguments); err != nil {
		return false
	}
	return requiresApproval(tool) || a.opts.NeedsApproval != nil && r.policy(call)
}

// policy asks Options.NeedsApproval about call. The policy reads what the
// model wrote: when it panics, the call needs approval, and the panic is
// logged.
func (r *run) policy(call ToolCall) (needs bool) {
	defer func() {
		if v := recover(); v != nil {
			r.agent.log.Error("agentbox: Options.NeedsApproval panicked; the call needs approval", "tool", call.Name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			needs = true
		}
	}()
	return r.agent.opts.NeedsApproval(call)
}

// approveSafely asks approve about req, turning a panic into an error.
func approveSafely(ctx context.Context, approve func(context.Context, ApprovalRequest) (Approval, error), req ApprovalRequest) (a Approval, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("Options.Approve panicked: %v", v)
		}
	}()
	return approve(ctx, req)
}

// runCalls runs the tool calls of one response and returns their tool
// messages, in call order, and the calls left waiting for an answer. First
// it asks, in call order, for the approvals the calls need and answers does
// not hold; then every call that can run does: those that need no approval,
// the approved ones, and the denied ones, whose result says so. With calls
// left waiting the run stops, so that the caller can answer them
// ([Agent.Continue]).
func (r *run) runCalls(ctx context.Context, calls []ToolCall, answers map[string]Approval) ([]Message, []ToolCall) {
	needs := make([]bool, len(calls)) // the policy is asked once a call
	for i, c := range calls {
		needs[i] = r.needsApproval(c)
	}
	r.ask(ctx, calls, needs, answers)
	var ready, waiting []ToolCall
	for i, c := range calls {
		if _, answered := answers[c.ID]; answered || ctx.Err() != nil || !needs[i] {
			ready = append(ready, c)
		} else {
			waiting = append(waiting, c)
		}
	}
	return r.runTools(ctx, ready, answers), waiting
}

// ask sends an ApprovalRequest for each call that needs an answer (by
// needs, in the order of calls) and has none in answers, in call order, and
// with Options.Approve adds the answers it gets to answers, waiting for each
// up to Options.ApprovalTimeout in all. A call it gets no answer for (there
// is no Approve, the time passed, or Approve failed) stays without one.
func (r *run) ask(ctx context.Context, calls []ToolCall, needs []bool, answers map[string]Approval) {
	a := r.agent
	approve := a.opts.Approve
	askCtx := ctx
	if d := a.opts.ApprovalTimeout; d > 0 && approve != nil {
		var cancel context.CancelFunc
		askCtx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	for i, c := range calls {
		if _, answered := answers[c.ID]; answered || !needs[i] {
			continue
		}
		req := ApprovalRequest{Step: r.steps, ID: c.ID, Name: c.Name}
		req.Args, _ = normalizeArgs(c.Arguments)
		r.send(ctx, req)
		if approve == nil || askCtx.Err() != nil {
			continue
		}
		answer, err := approveSafely(askCtx, approve, req)
		switch {
		case ctx.Err() != nil:
			return // the run ends: its calls are not run
		case askCtx.Err() != nil:
			a.log.Debug("agentbox approval timed out", "step", r.steps, "id", c.ID, "tool", c.Name)
		case err != nil:
			r.send(ctx, Error{Err: fmt.Errorf("asking to approve %s call %s: %w", c.Name, c.ID, err)})
			approve = nil // the rest wait for Continue
		default:
			answer.ID = c.ID
			answers[c.ID] = answer
			a.log.Debug("agentbox approval", "step", r.steps, "id", c.ID, "tool", c.Name, "approved", answer.Approved)
		}
	}
}

// denial is the error of a call answer denies, or nil.
func denial(answer Approval, ok bool) error {
	switch {
	case !ok || answer.Approved:
		return nil
	case strings.TrimSpace(answer.Reason) == "":
		return ErrDenied
	}
	return fmt.Errorf("%w: %s", ErrDenied, capText(answer.Reason, maxReasonBytes))
}

// maxReasonBytes bounds the reason of a denial the model reads.
const maxReasonBytes = 4 << 10

// waitingCalls returns the index of the last assistant message of msgs, if
// only tool messages follow it, and its calls without a tool message: the
// calls that wait for an answer.
func waitingCalls(msgs []Message) (int, []ToolCall) {
	i := len(msgs) - 1
	for i >= 0 && msgs[i].Role == RoleTool {
		i--
	}
	if i < 0 || msgs[i].Role != RoleAssistant {
		return -1, nil
	}
	var waiting []ToolCall
	for _, c := range msgs[i].ToolCalls {
		if !slices.ContainsFunc(msgs[i+1:], func(m Message) bool { return m.ToolCallID == c.ID }) {
			waiting = append(waiting, c)
		}
	}
	return i, waiting
}

// inCallOrder sorts the tool messages that follow the assistant message at
// msgs[i] in the order of its calls.
func inCallOrder(msgs []Message, i int) {
	order := func(m Message) int {
		return slices.IndexFunc(msgs[i].ToolCalls, func(c ToolCall) bool { return c.ID == m.ToolCallID })
	}
	slices.SortStableFunc(msgs[i+1:], func(x, y Message) int { return order(x) - order(y) })
}

// checkAnswers returns the answers by call ID, or an error when one answers
// no call that waits or two answer the same call.
func checkAnswers(waiting []ToolCall, answers []Approval) (map[string]Approval, error) {
	byID := make(map[string]Approval, len(answers))
	var errs []error
	for _, ans := range answers {
		switch {
		case !slices.ContainsFunc(waiting, func(c ToolCall) bool { return c.ID == ans.ID }):
			errs = append(errs, fmt.Errorf("no call %q waits for an answer", capText(ans.ID, 100)))
		case byID[ans.ID] != (Approval{}):
			errs = append(errs, fmt.Errorf("call %q is answered twice", ans.ID))
		default:
			byID[ans.ID] = ans
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("agentbox: the answers do not fit the conversation: %w", errors.Join(errs...))
	}
	return byID, nil
}

// prepareContinue readies r to continue a conversation that waits for
// answers, with answers.
func (r *run) prepareContinue(answers []Approval) error {
	_, waiting := waitingCalls(r.messages)
	if len(waiting) == 0 {
		return errors.New("agentbox: no tool call of the conversation waits for an answer")
	}
	byID, err := checkAnswers(waiting, answers)
	if err != nil {
		return err
	}
	r.resume = &resumeStep{calls: waiting, answers: byID}
	return nil
}

// resumeStep is the step a continued run finishes first: the calls that
// waited and their answers.
type resumeStep struct {
	calls   []ToolCall
	answers map[string]Approval
}

// Continue runs on a conversation that stopped with [StopApproval] — the
// messages of its [Done] — with answers to the calls it waits for (Done's
// Pending). The approved calls run and the denied ones get their denial as
// their result; a waiting call without an answer is asked for again, as
// when the model made it. Their tool messages are added after the others of
// their step, all in call order, and the run goes on as a run does. The
// events of these calls have Step 0. An answer to a call that does not wait
// ends the run at once with an error, the messages as they were. The slice
// is not modified.
func (a *Agent) Continue(ctx context.Context, messages []Message, answers ...Approval) <-chan Event {
	r := a.newRun(messages)
	if err := r.prepareContinue(answers); err != nil {
		return failed(err, messages)
	}
	a.startRun(ctx, r)
	return r.out
}

// continueStep runs the calls that waited for answers, and says whether the
// run must stop because some still wait.
func (r *run) continueStep(ctx context.Context) bool {
	msgs, waiting := r.runCalls(ctx, r.resume.calls, r.resume.answers)
	r.messages = append(r.messages, msgs...)
	i, _ := waitingCalls(r.messages)
	inCallOrder(r.messages, i)
	r.pending = waiting
	return len(waiting) > 0
}

// failed returns the events of a run that could not start: its Done, with
// err and the messages as they were.
func failed(err error, messages []Message) <-chan Event {
	out := make(chan Event, 1)
	out <- Done{Reason: StopError, Err: err, Messages: slices.Clone(messages)}
	close(out)
	return out
}

// closeWaitingBeforeUser returns a copy of msgs in which the calls that
// waited for an answer when the last message, the user's, was written have
// a tool message saying they were not run: the user went on without
// answering.
func closeWaitingBeforeUser(msgs []Message) []Message {
	n := len(msgs)
	if n == 0 || msgs[n-1].Role != RoleUser {
		return slices.Clone(msgs)
	}
	i, waiting := waitingCalls(msgs[:n-1])
	out := slices.Clone(msgs[:n-1])
	for _, c := range waiting {
		out = append(out, Message{Role: RoleTool, ToolCallID: c.ID, Name: c.Name,
			Content: "Error: not run: the user wrote a new message instead of approving it"})
	}
	if len(waiting) > 0 {
		inCallOrder(out, i)
	}
	return append(out, msgs[n-1])
}
