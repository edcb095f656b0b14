package agentbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// run is one Run: it owns the event channel, the conversation, and the
// sandbox it opens.
type run struct {
	agent     *Agent
	out       chan Event
	messages  []Message
	ids       callIDs        // tool call IDs used in the conversation
	oversized map[string]int // calls whose arguments were too large, by ID: their size
	usage     Usage
	steps     int
	start     time.Time
	source    sandboxSource
	sandbox   sandboxSlot
	closeErr  error       // from closing the sandbox, reported by end
	resume    *resumeStep // for a run that continues a conversation waiting for answers
	pending   []ToolCall  // the calls left waiting for an answer
	tools     toolTable   // the tools of the step: the agent's and its toolsets'
	warned    map[string]bool
}

// A sandboxSource is where a run's sandbox comes from: the caller's sandbox,
// used as it is and never closed, or one that open opens for the run (when
// given is nil) and release takes back when the run ends. A zero source
// gives no sandbox.
type sandboxSource struct {
	given Sandbox
	// open opens the run's sandbox, reporting what it recovered from with
	// warn.
	open func(ctx context.Context, warn func(error)) (Sandbox, error)
	// release ends the run's use of the sandbox open returned; nil means
	// closing it.
	release func(ctx context.Context, sb Sandbox) error
}

// sandboxSlot hands the sandbox to tool calls once it is ready.
type sandboxSlot struct {
	ready    chan struct{} // closed once sb and err are set
	sb       Sandbox
	err      error
	openedAt time.Time
}

func (s *sandboxSlot) set(sb Sandbox, err error) {
	s.sb, s.err, s.openedAt = sb, err, time.Now()
	close(s.ready)
}

func (s *sandboxSlot) get(ctx context.Context) (Sandbox, error) {
	select {
	case <-s.ready:
		return s.sb, s.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

var errDurationBudget = fmt.Errorf("%w: the run's duration limit passed", ErrBudget)

// execute runs the conversation to its end and returns its Done, which end
// sends. The sandbox is released before execute returns: whoever waits for
// the run (a session's Close) need not wait for the consumer.
func (r *run) execute(parent context.Context) (done Done) {
	if obs := r.agent.opts.Observer; obs != nil {
		var end func(Done)
		run := RunStart{Provider: providerName(r.agent.provider), Model: r.agent.opts.Model, System: r.agent.opts.System, Messages: r.messages}
		parent, end = obs.StartRun(parent, run)
		defer func() { end(done) }()
	}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	if d := r.agent.opts.Budget.Duration; d > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, d, errDurationBudget)
		defer stop()
	}
	stopOpening := r.openSandbox(ctx, cancel)

	reason, err := StopError, r.agent.err
	if err == nil {
		reason, err = r.loop(ctx)
	}
	if reason != StopCompleted && ctx.Err() != nil {
		reason, err = stopCause(parent, ctx, err)
	}

	stopOpening()
	sandboxTime := r.releaseSandbox(parent)
	done = Done{
		Reason:      reason,
		Err:         err,
		Usage:       r.usage,
		Steps:       r.steps,
		Messages:    r.messages,
		Elapsed:     time.Since(r.start),
		SandboxTime: sandboxTime,
	}
	if reason == StopApproval {
		done.Pending = r.pending
	}
	return done
}

// openSandbox fills the run's sandbox slot: at once with the caller's
// sandbox or the agent's configuration error, else from the source, in the
// background, cancelling the run when it fails. The returned func stops the
// opening and waits for it to end.
func (r *run) openSandbox(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	r.sandbox.ready = make(chan struct{})
	switch {
	case r.agent.err != nil:
		r.sandbox.set(nil, r.agent.err)
	case r.source.given != nil:
		r.sandbox.set(r.source.given, nil)
	case r.source.open != nil:
		openCtx, stopOpen := context.WithCancel(ctx)
		var opening sync.WaitGroup
		opening.Go(func() {
			openCtx, end := startOp(openCtx, r.agent.opts.Observer, SandboxOp{Name: OpOpen})
			sb, err := r.source.open(openCtx, func(err error) { r.send(ctx, Error{Err: err}) })
			if err == nil && sb == nil {
				err = errors.New("the opener returned no sandbox")
			}
			end(SandboxOpEnd{Err: err})
			if err != nil && openCtx.Err() == nil {
				err = fmt.Errorf("open sandbox: %w", err)
				cancel(err) // no run can go on without its sandbox
			}
			r.sandbox.set(sb, err)
		})
		return func() { stopOpen(); opening.Wait() }
	default:
		r.sandbox.set(nil, ErrNoSandbox)
	}
	return func() {}
}

// releaseSandbox gives the sandbox the run opened back to its source, and
// returns how long the run had it. A failure to close it is reported by end.
func (r *run) releaseSandbox(parent context.Context) time.Duration {
	sb := r.sandbox.sb
	if r.source.open == nil || sb == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), closeTimeout)
	defer cancel()
	release := r.source.release
	if release == nil {
		release = func(ctx context.Context, sb Sandbox) error { return sb.Close(ctx) }
	}
	ctx, end := startOp(ctx, r.agent.opts.Observer, SandboxOp{Name: OpClose})
	err := release(ctx, sb)
	end(SandboxOpEnd{Err: err})
	if err != nil {
		r.agent.log.Warn("agentbox: closing the sandbox failed", "error", err)
		r.closeErr = err
	}
	return time.Since(r.sandbox.openedAt)
}

// end sends the run's last events, Done last, and closes the channel. They
// are never dropped: the consumer receives until the channel closes.
func (r *run) end(done Done) {
	r.agent.log.Debug("agentbox run done", "reason", done.Reason, "steps", done.Steps,
		"prompt_tokens", done.Usage.PromptTokens, "completion_tokens", done.Usage.CompletionTokens,
		"cost", done.Usage.Cost, "elapsed", done.Elapsed, "error", errorText(done.Err))
	if r.closeErr != nil {
		r.out <- Error{Err: fmt.Errorf("close sandbox: %w", r.closeErr)}
	}
	if done.Err != nil && done.Reason == StopError {
		r.out <- Error{Err: done.Err, Fatal: true}
	}
	r.out <- done
	close(r.out)
}

// stopCause explains why ctx ended the run: the caller's cancellation, the
// duration budget, or a failure that cancelled the run (the sandbox did not
// open).
func stopCause(parent, ctx context.Context, err error) (StopReason, error) {
	if perr := parent.Err(); perr != nil {
		return StopCanceled, context.Cause(parent)
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, ErrBudget) {
		return StopBudget, cause
	}
	if cause != nil {
		return StopError, cause
	}
	return StopError, err
}

// send delivers ev unless ctx, the run's, is done, in which case it is
// dropped: a cancelled run's consumer waits only for Done.
func (r *run) send(ctx context.Context, ev Event) {
	select {
	case r.out <- ev:
	case <-ctx.Done():
	}
}

// loop asks the model and runs its tool calls until the run ends.
func (r *run) loop(ctx context.Context) (StopReason, error) {
	opts := &r.agent.opts
	if r.resume != nil {
		r.refreshTools(ctx)
		if r.continueStep(ctx) {
			return StopApproval, nil
		}
		if err := ctx.Err(); err != nil {
			return StopCanceled, err
		}
	}
	for {
		r.steps++
		r.refreshTools(ctx)
		st, err := r.stream(ctx)
		if err != nil {
			return StopError, err
		}
		r.usage.Add(st.usage)
		r.messages = append(r.messages, st.message)
		if st.stop != nil {
			return StopError, st.stop
		}
		if len(st.message.ToolCalls) == 0 {
			return StopCompleted, nil
		}
		msgs, waiting := r.runCalls(ctx, st.message.ToolCalls, map[string]Approval{})
		r.messages = append(r.messages, msgs...)
		if err := ctx.Err(); err != nil {
			return StopCanceled, err
		}
		if r.pending = waiting; len(waiting) > 0 {
			return StopApproval, nil
		}
		if b := opts.Budget; b.Tokens > 0 && r.usage.TotalTokens() > b.Tokens {
			return StopBudget, fmt.Errorf("%w: %d tokens used, the limit is %d", ErrBudget, r.usage.TotalTokens(), b.Tokens)
		}
		if b := opts.Budget; b.Cost > 0 && r.usage.Cost > b.Cost {
			return StopBudget, fmt.Errorf("%w: $%.4f spent, the limit is $%.4f", ErrBudget, r.usage.Cost, b.Cost)
		}
		if r.steps >= opts.MaxSteps {
			return StopMaxSteps, fmt.Errorf("%w: %d model responses", ErrMaxSteps, r.steps)
		}
	}
}

// stepResult is one model response, accumulated.
type stepResult struct {
	message Message
	usage   Usage
	stop    error // why the response, though kept, ends the run
}

// stream asks the model for one response, streaming its text as Tokens,
// and reports the call to the agent's Observer.
func (r *run) stream(ctx context.Context) (stepResult, error) {
	obs := r.agent.opts.Observer
	if obs == nil {
		st, _, err := r.streamResponse(ctx, ctx, nil)
		return st, err
	}
	req := r.request()
	callCtx, call := obs.StartModelCall(ctx, ModelCallStart{Step: r.steps, Request: req})
	st, resp, err := r.streamResponse(ctx, callCtx, call)
	end := ModelCallEnd{Message: st.message, Usage: st.usage, Err: err}
	if resp != nil {
		end.FinishReason, end.Model, end.Usage = resp.finish, resp.answeredBy, resp.usage
	}
	call.End(end)
	return st, err
}

// streamResponse streams one response, asked in callCtx; events are sent in
// ctx, the run's. call, when not nil, hears of the first chunk and the
// warnings.
func (r *run) streamResponse(ctx, callCtx context.Context, call ModelCallObserver) (stepResult, *response, error) {
	a := r.agent
	resp := &response{
		step:     r.steps,
		model:    a.opts.Model,
		maxArgs:  a.opts.MaxToolArguments,
		ids:      r.ids,
		emit:     func(ev Event) { r.send(ctx, ev) },
		oversize: r.oversized,
		observer: call,
	}
	for chunk, err := range a.provider.Stream(callCtx, r.request()) {
		if err != nil {
			return stepResult{}, resp, err
		}
		if err := resp.add(chunk); err != nil {
			return stepResult{}, resp, err
		}
	}
	if err := ctx.Err(); err != nil {
		return stepResult{}, resp, err
	}
	st, err := resp.result()
	if err != nil {
		return stepResult{}, resp, err
	}
	a.log.Debug("agentbox step", "step", r.steps, "finish", resp.finish, "text_bytes", resp.text.Len(),
		"tool_calls", len(st.message.ToolCalls), "prompt_tokens", st.usage.PromptTokens,
		"completion_tokens", st.usage.CompletionTokens)
	return st, resp, nil
}

// request is the request for the next response: the conversation so far,
// shortened to Options.HistoryTokens.
func (r *run) request() *Request {
	a := r.agent
	if budget := a.opts.HistoryTokens; budget > 0 {
		if n := elideHistory(r.messages, budget); n > 0 {
			a.log.Debug("agentbox history shortened", "step", r.steps, "elided", n, "estimated_tokens", estimateTokens(r.messages))
		}
	}
	return &Request{
		Model:       a.opts.Model,
		System:      a.opts.System,
		Messages:    r.messages,
		Tools:       r.tools.specs,
		MaxTokens:   a.opts.MaxTokens,
		Temperature: a.opts.Temperature,
	}
}

// response accumulates the chunks of one model response, emitting its text
// as Tokens and its tool calls' arguments as ToolInputs as they come.
type response struct {
	step     int
	model    string
	maxArgs  int     // of a call's arguments, the most bytes kept
	ids      callIDs // of the conversation: the calls' IDs are added
	emit     func(Event)
	oversize map[string]int    // calls whose arguments passed maxArgs are added, with their size
	observer ModelCallObserver // told of the first chunk and the warnings; nil for none

	answeredBy string // the model that answers, when the provider says
	started    bool   // the first text, reasoning or tool call came

	text, reasoning strings.Builder
	details         json.RawMessage
	calls           []*pendingCall
	usage           Usage
	finish          FinishReason
}

// pendingCall accumulates the deltas of one tool call.
type pendingCall struct {
	index     int
	id        string // as the provider sent it
	callID    string // as the conversation has it: unique
	name      string
	args      strings.Builder
	dropped   int  // bytes of arguments past the limit, not kept
	announced bool // by a ToolInput
}

// add adds chunk to the response. The error, when the text grows too long,
// ends the run.
func (p *response) add(chunk Chunk) error {
	if chunk.Warning != nil {
		p.emit(Error{Err: chunk.Warning})
		if p.observer != nil {
			p.observer.Warning(chunk.Warning)
		}
	}
	if chunk.Model != "" {
		p.answeredBy = chunk.Model
	}
	if !p.started && (chunk.Text != "" || chunk.Reasoning != "" || len(chunk.ToolCalls) > 0) {
		p.started = true
		if p.observer != nil {
			p.observer.FirstChunk()
		}
	}
	if p.text.Len()+len(chunk.Text) > maxResponseText || p.reasoning.Len()+len(chunk.Reasoning) > maxResponseText {
		return &ProviderError{Kind: KindTruncated, Model: p.model,
			Message: fmt.Sprintf("the model response's text was longer than %d MiB", maxResponseText>>20),
			Hint:    "nothing of this response was used; set Options.MaxTokens"}
	}
	if chunk.Reasoning != "" {
		p.reasoning.WriteString(chunk.Reasoning)
		p.emit(Token{Step: p.step, Text: chunk.Reasoning, Reasoning: true})
	}
	if chunk.Text != "" {
		p.text.WriteString(chunk.Text)
		p.emit(Token{Step: p.step, Text: chunk.Text})
	}
	if chunk.ReasoningDetails != nil {
		p.details = chunk.ReasoningDetails
	}
	for _, d := range chunk.ToolCalls {
		p.addCall(d)
	}
	if chunk.Usage != nil {
		p.usage = *chunk.Usage
	}
	if chunk.FinishReason != "" {
		p.finish = chunk.FinishReason
	}
	return nil
}

// addCall adds the tool call delta d, announcing its call with a ToolInput
// once it has a name, and its arguments as they come.
func (p *response) addCall(d ToolCallDelta) {
	var c *pendingCall
	p.calls, c = addDelta(p.calls, d, p.maxArgs)
	if c.callID == "" {
		c.callID = p.ids.unique(c.id, p.step, len(p.calls)-1)
	}
	switch {
	case !c.announced && c.name != "":
		c.announced = true
		p.emit(ToolInput{Step: p.step, ID: c.callID, Name: c.name, Delta: c.args.String()})
	case c.announced && d.Arguments != "" && c.dropped == 0:
		p.emit(ToolInput{Step: p.step, ID: c.callID, Name: c.name, Delta: d.Arguments})
	}
}

// result is the response once its stream has ended. The error, when the
// response did not finish well, ends the run with nothing of it kept.
func (p *response) result() (stepResult, error) {
	stop, err := p.finishError()
	if err != nil {
		return stepResult{}, err
	}
	msg := Message{Role: RoleAssistant, Content: p.text.String(), Reasoning: p.reasoning.String()}
	slices.SortStableFunc(p.calls, func(x, y *pendingCall) int { return x.index - y.index })
	for _, c := range p.calls {
		call := ToolCall{ID: c.callID, Name: c.name, Arguments: c.args.String()}
		if c.dropped > 0 {
			size := c.args.Len() + c.dropped
			// Arguments stay a JSON object: providers check them.
			call.Arguments = fmt.Sprintf(`{"refused":%q}`, fmt.Sprintf("%d bytes of arguments", size))
			p.oversize[c.callID] = size
		}
		msg.ToolCalls = append(msg.ToolCalls, call)
	}
	if len(msg.ToolCalls) > 0 {
		msg.ReasoningDetails = p.details
	}
	return stepResult{message: msg, usage: p.usage, stop: stop}, nil
}

// finishError judges the response by its finish reason: err when it must
// be dropped, stop when it is kept but ends the run (a response cut short
// without tool calls).
func (p *response) finishError() (stop, err error) {
	switch p.finish {
	case "":
		return nil, &ProviderError{Kind: KindTruncated, Model: p.model,
			Message: "model response ended before it finished",
			Hint:    "the stream stopped without a finish reason; nothing of this response was used"}
	case FinishError:
		return nil, &ProviderError{Kind: KindMidStream, Model: p.model,
			Message: "the model response ended with an error"}
	}
	switch {
	case len(p.calls) > 0:
	case p.finish == FinishLength:
		return &ProviderError{Kind: KindTruncated, Model: p.model,
			Message: "the model response reached its token limit", Hint: "raise Options.MaxTokens, or ask for less at once"}, nil
	case p.finish == FinishContentFilter:
		return &ProviderError{Kind: KindModeration, Model: p.model,
			Message: "the model response was stopped by a content filter"}, nil
	}
	return nil, nil
}

// addDelta adds d to its call, new or pending, and returns that call. Of a
// call's arguments, it keeps at most limit bytes.
func addDelta(calls []*pendingCall, d ToolCallDelta, limit int) ([]*pendingCall, *pendingCall) {
	var c *pendingCall
	for _, p := range calls {
		if p.index == d.Index {
			c = p // the latest call at this index
		}
	}
	if c == nil || (d.ID != "" && c.id != "" && d.ID != c.id) {
		// Some providers send every call at index 0, each with its own ID.
		c = &pendingCall{index: d.Index}
		calls = append(calls, c)
	}
	if c.id == "" {
		c.id = d.ID
	}
	if c.name == "" {
		c.name = d.Name
	}
	if c.dropped > 0 || c.args.Len()+len(d.Arguments) > limit {
		c.dropped += len(d.Arguments)
	} else {
		c.args.WriteString(d.Arguments)
	}
	return calls, c
}

// callIDs are the tool call IDs used in a conversation.
type callIDs map[string]bool

// unique returns id, or a new ID when id is empty or already used in the
// conversation (providers repeat IDs across steps, and some send none), and
// records it as used. step and i, the call's index in its step, make the new
// ID.
func (ids callIDs) unique(id string, step, i int) string {
	if id == "" || ids[id] {
		for n := 0; ; n++ {
			id = fmt.Sprintf("call_%d_%d", step, i)
			if n > 0 {
				id = fmt.Sprintf("call_%d_%d_%d", step, i, n)
			}
			if !ids[id] {
				break
			}
		}
	}
	ids[id] = true
	return id
}

// providerName is the name p gives itself, or "".
func providerName(p Provider) string {
	if n, ok := p.(interface{ Name() string }); ok {
		return n.Name()
	}
	return ""
}
