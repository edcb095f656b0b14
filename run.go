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
	ctx       context.Context // the run's context; emits give up when it is done
	messages  []Message
	ids       map[string]bool // tool call IDs used in the conversation
	oversized map[string]int  // calls whose arguments were too large, by ID: their size
	usage     Usage
	steps     int
	start     time.Time
	sandbox   sandboxSlot

	given    Sandbox       // the caller's sandbox: used, never closed
	open     sandboxOpener // opens the run's sandbox, closed when the run ends…
	keep     func(Sandbox) // …unless keep takes it
	lifetime time.Duration // when positive, a LifetimeSetter sandbox is kept alive this long past each refresh
	finish   func(*Done)   // sees the Done before it is sent
}

// A sandboxOpener opens a run's sandbox, reporting what it recovered from
// with warn.
type sandboxOpener func(ctx context.Context, warn func(error)) (Sandbox, error)

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

// execute runs the conversation to its end, sends Done and closes the
// channel.
func (r *run) execute(parent context.Context) {
	defer close(r.out)
	a := r.agent
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	if d := a.opts.Budget.Duration; d > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, d, errDurationBudget)
		defer stop()
	}
	r.ctx = ctx

	var opening sync.WaitGroup
	stopOpening := func() {}
	r.sandbox.ready = make(chan struct{})
	switch {
	case a.err != nil:
		r.sandbox.set(nil, a.err)
	case r.given != nil:
		r.sandbox.set(r.given, nil)
	case r.open != nil:
		openCtx, stop := context.WithCancel(ctx)
		stopOpening = stop
		opening.Go(func() {
			sb, err := r.open(openCtx, func(err error) { r.send(Error{Err: err}) })
			if err == nil && sb == nil {
				err = errors.New("the opener returned no sandbox")
			}
			if err != nil && openCtx.Err() == nil {
				err = fmt.Errorf("open sandbox: %w", err)
				cancel(err) // no run can go on without its sandbox
			}
			r.sandbox.set(sb, err)
		})
	default:
		r.sandbox.set(nil, ErrNoSandbox)
	}
	var keeping sync.WaitGroup
	stopKeeping := make(chan struct{})
	if r.lifetime > 0 {
		keeping.Go(func() { r.keepAlive(ctx, stopKeeping) })
	}

	reason, err := StopError, a.err
	if err == nil {
		reason, err = r.loop(ctx)
	}
	if reason != StopCompleted && ctx.Err() != nil {
		reason, err = r.stopCause(parent, ctx, err)
	}

	stopOpening()
	opening.Wait()
	close(stopKeeping)
	keeping.Wait()
	var sandboxTime time.Duration
	var closeErr error
	if r.open != nil && r.sandbox.sb != nil {
		if r.keep != nil {
			r.keep(r.sandbox.sb)
		} else {
			closeCtx, cancelClose := context.WithTimeout(context.WithoutCancel(parent), closeTimeout)
			if closeErr = r.sandbox.sb.Close(closeCtx); closeErr != nil {
				a.log.Warn("agentbox: closing the sandbox failed", "error", closeErr)
			}
			cancelClose()
		}
		sandboxTime = time.Since(r.sandbox.openedAt)
	}

	done := Done{
		Reason:      reason,
		Err:         err,
		Usage:       r.usage,
		Steps:       r.steps,
		Messages:    r.messages,
		Elapsed:     time.Since(r.start),
		SandboxTime: sandboxTime,
	}
	// The run is over before its last events are sent: whoever waits for it
	// (a session's Close) need not wait for the consumer.
	if r.finish != nil {
		r.finish(&done)
	}
	a.log.Debug("agentbox run done", "reason", reason, "steps", r.steps,
		"prompt_tokens", r.usage.PromptTokens, "completion_tokens", r.usage.CompletionTokens,
		"cost", r.usage.Cost, "elapsed", done.Elapsed, "error", errorText(err))
	// The last events are never dropped: the consumer receives until the
	// channel closes.
	if closeErr != nil {
		r.out <- Error{Err: fmt.Errorf("close sandbox: %w", closeErr)}
	}
	if err != nil && reason == StopError {
		r.out <- Error{Err: err, Fatal: true}
	}
	r.out <- done
}

// stopCause explains why ctx ended the run: the caller's cancellation, the
// duration budget, or a failure that cancelled the run (the sandbox did not
// open).
func (r *run) stopCause(parent, ctx context.Context, err error) (StopReason, error) {
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

// keepAlive refreshes the lifetime of a LifetimeSetter sandbox every half
// lifetime until stop is closed, and once more then: the sandbox outlives the
// run by a whole lifetime.
func (r *run) keepAlive(ctx context.Context, stop <-chan struct{}) {
	select {
	case <-r.sandbox.ready:
	case <-stop:
		return
	}
	ls, ok := r.sandbox.sb.(LifetimeSetter)
	if r.sandbox.err != nil || !ok {
		return
	}
	tick := time.NewTicker(max(r.lifetime/2, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := ls.SetLifetime(ctx, r.lifetime); err != nil && ctx.Err() == nil {
				r.send(Error{Err: fmt.Errorf("keep the sandbox alive: %w", err)})
			}
		case <-stop:
			lifeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
			defer cancel()
			if err := ls.SetLifetime(lifeCtx, r.lifetime); err != nil {
				r.agent.log.Warn("agentbox: keeping the sandbox alive failed", "error", err)
			}
			return
		}
	}
}

// send delivers ev unless the run is done, in which case it is dropped: a
// cancelled run's consumer waits only for Done.
func (r *run) send(ev Event) {
	select {
	case r.out <- ev:
	case <-r.ctx.Done():
	}
}

// loop asks the model and runs its tool calls until the run ends.
func (r *run) loop(ctx context.Context) (StopReason, error) {
	opts := &r.agent.opts
	for {
		r.steps++
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
		r.messages = append(r.messages, r.runTools(ctx, st.message.ToolCalls)...)
		if err := ctx.Err(); err != nil {
			return StopCanceled, err
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

// stream asks the model for one response, streaming its text as Tokens.
func (r *run) stream(ctx context.Context) (stepResult, error) {
	a := r.agent
	if budget := a.opts.HistoryTokens; budget > 0 {
		if n := elideHistory(r.messages, budget); n > 0 {
			a.log.Debug("agentbox history shortened", "step", r.steps, "elided", n, "estimated_tokens", estimateTokens(r.messages))
		}
	}
	req := &Request{
		Model:       a.opts.Model,
		System:      a.opts.System,
		Messages:    r.messages,
		Tools:       a.specs,
		MaxTokens:   a.opts.MaxTokens,
		Temperature: a.opts.Temperature,
	}
	var (
		text, reasoning strings.Builder
		details         json.RawMessage
		calls           []*pendingCall
		usage           Usage
		finish          FinishReason
	)
	for chunk, err := range a.provider.Stream(ctx, req) {
		if err != nil {
			return stepResult{}, err
		}
		if chunk.Warning != nil {
			r.send(Error{Err: chunk.Warning})
		}
		if text.Len()+len(chunk.Text) > maxResponseText || reasoning.Len()+len(chunk.Reasoning) > maxResponseText {
			return stepResult{}, &ProviderError{Kind: KindTruncated, Model: a.opts.Model, Err: ErrTruncated,
				Message: fmt.Sprintf("the model response's text was longer than %d MiB", maxResponseText>>20),
				Hint:    "nothing of this response was used; set Options.MaxTokens"}
		}
		if chunk.Reasoning != "" {
			reasoning.WriteString(chunk.Reasoning)
			r.send(Token{Step: r.steps, Text: chunk.Reasoning, Reasoning: true})
		}
		if chunk.Text != "" {
			text.WriteString(chunk.Text)
			r.send(Token{Step: r.steps, Text: chunk.Text})
		}
		if chunk.ReasoningDetails != nil {
			details = chunk.ReasoningDetails
		}
		for _, d := range chunk.ToolCalls {
			var c *pendingCall
			calls, c = addDelta(calls, d, a.opts.MaxToolArguments)
			if c.callID == "" {
				c.callID = r.uniqueID(c.id, len(calls)-1)
			}
			switch {
			case !c.announced && c.name != "":
				c.announced = true
				r.send(ToolInput{Step: r.steps, ID: c.callID, Name: c.name, Delta: c.args.String()})
			case c.announced && d.Arguments != "" && c.dropped == 0:
				r.send(ToolInput{Step: r.steps, ID: c.callID, Name: c.name, Delta: d.Arguments})
			}
		}
		if chunk.Usage != nil {
			usage = *chunk.Usage
		}
		if chunk.FinishReason != "" {
			finish = chunk.FinishReason
		}
	}
	if err := ctx.Err(); err != nil {
		return stepResult{}, err
	}
	switch finish {
	case "":
		return stepResult{}, &ProviderError{Kind: KindTruncated, Model: a.opts.Model, Err: ErrTruncated,
			Hint: "the stream stopped without a finish reason; nothing of this response was used"}
	case FinishError:
		return stepResult{}, &ProviderError{Kind: KindMidStream, Model: a.opts.Model,
			Message: "the model response ended with an error"}
	}
	// A response cut short without tool calls is kept in the conversation,
	// but the run did not complete.
	var stop error
	switch {
	case len(calls) > 0:
	case finish == FinishLength:
		stop = &ProviderError{Kind: KindTruncated, Model: a.opts.Model, Err: ErrTruncated,
			Message: "the model response reached its token limit", Hint: "raise Options.MaxTokens, or ask for less at once"}
	case finish == FinishContentFilter:
		stop = &ProviderError{Kind: KindModeration, Model: a.opts.Model,
			Message: "the model response was stopped by a content filter"}
	}
	msg := Message{Role: RoleAssistant, Content: text.String(), Reasoning: reasoning.String()}
	slices.SortStableFunc(calls, func(x, y *pendingCall) int { return x.index - y.index })
	for _, c := range calls {
		call := ToolCall{ID: c.callID, Name: c.name, Arguments: c.args.String()}
		if c.dropped > 0 {
			size := c.args.Len() + c.dropped
			// Arguments stay a JSON object: providers check them.
			call.Arguments = fmt.Sprintf(`{"refused":%q}`, fmt.Sprintf("%d bytes of arguments", size))
			r.oversized[c.callID] = size
		}
		msg.ToolCalls = append(msg.ToolCalls, call)
	}
	if len(msg.ToolCalls) > 0 {
		msg.ReasoningDetails = details
	}
	a.log.Debug("agentbox step", "step", r.steps, "finish", finish, "text_bytes", text.Len(),
		"tool_calls", len(msg.ToolCalls), "prompt_tokens", usage.PromptTokens,
		"completion_tokens", usage.CompletionTokens)
	return stepResult{message: msg, usage: usage, stop: stop}, nil
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

// uniqueID returns id, or a new ID when id is empty or already used in the
// conversation: providers repeat IDs across steps, and some send none.
func (r *run) uniqueID(id string, i int) string {
	if id == "" || r.ids[id] {
		for n := 0; ; n++ {
			id = fmt.Sprintf("call_%d_%d", r.steps, i)
			if n > 0 {
				id = fmt.Sprintf("call_%d_%d_%d", r.steps, i, n)
			}
			if !r.ids[id] {
				break
			}
		}
	}
	r.ids[id] = true
	return id
}
