package agentboxtest

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/agentbox/agentbox"
)

// A Provider is an [agentbox.Provider] that plays a script: each call of
// Stream plays the next [Step]. It records every request it gets. It is safe
// for concurrent use.
type Provider struct {
	mu       sync.Mutex
	steps    []Step
	next     int
	requests []agentbox.Request
}

// NewProvider returns a Provider whose script is steps.
func NewProvider(steps ...Step) *Provider {
	return &Provider{steps: slices.Clone(steps)}
}

// Stream returns a sequence that plays the next step of the script. The step
// is taken, and req recorded, when the sequence is first iterated, not when
// Stream is called. When the script has no step left, the sequence yields one
// error, "agentboxtest: the script has no step N (it has M)".
func (p *Provider) Stream(ctx context.Context, req *agentbox.Request) iter.Seq2[agentbox.Chunk, error] {
	return func(yield func(agentbox.Chunk, error) bool) {
		step, err := p.take(req)
		if err != nil {
			yield(agentbox.Chunk{}, err)
			return
		}
		step.play(ctx, yield)
	}
}

// take records req and returns the next step of the script.
func (p *Provider) take(req *agentbox.Request) (Step, error) {
	var r agentbox.Request
	if req != nil {
		r = copyRequest(*req)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, r)
	n := p.next
	p.next++
	if n >= len(p.steps) {
		return Step{}, fmt.Errorf("agentboxtest: the script has no step %d (it has %d)", n+1, len(p.steps))
	}
	return p.steps[n], nil
}

// Name is "agentboxtest", the provider's name.
func (p *Provider) Name() string { return "agentboxtest" }

// Requests returns copies of the requests Stream got, in order.
func (p *Provider) Requests() []agentbox.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	reqs := make([]agentbox.Request, len(p.requests))
	for i, r := range p.requests {
		reqs[i] = copyRequest(r)
	}
	return reqs
}

// copyRequest returns a copy of r that shares no memory with it.
func copyRequest(r agentbox.Request) agentbox.Request {
	r.Messages = slices.Clone(r.Messages)
	for i, m := range r.Messages {
		r.Messages[i].ToolCalls = slices.Clone(m.ToolCalls)
		r.Messages[i].ReasoningDetails = bytes.Clone(m.ReasoningDetails)
	}
	r.Tools = slices.Clone(r.Tools)
	for i, t := range r.Tools {
		r.Tools[i].Parameters = bytes.Clone(t.Parameters)
	}
	if r.Temperature != nil {
		t := *r.Temperature
		r.Temperature = &t
	}
	return r
}

// A Step is one scripted model response.
//
// Unless Raw is set, the chunks of a step come in this order: one per
// warning, one per reasoning piece, one per text piece, the deltas of the
// tool calls (all of call 0's, then call 1's, ...), a chunk with the finish
// reason, and a chunk with the usage when Usage is set.
type Step struct {
	// Delay is the wait before the first chunk (or before Err or Hang when
	// they come first), the model's latency.
	Delay time.Duration
	// ChunkDelay is the wait between chunks.
	ChunkDelay time.Duration
	// Reasoning holds pieces of visible reasoning, one chunk each.
	Reasoning []string
	// Text holds pieces of the answer, one chunk each.
	Text []string
	// Calls are the tool calls of the response.
	Calls []Call
	// Usage, when non-nil, is yielded in the last chunk, after the finish
	// reason, as OpenRouter does.
	Usage *agentbox.Usage
	// Finish is the finish reason. Empty means agentbox.FinishToolCalls when
	// there are Calls, and agentbox.FinishStop otherwise.
	Finish agentbox.FinishReason
	// Warnings are yielded first, one chunk each, as Chunk.Warning.
	Warnings []error
	// Raw, when non-nil, holds the chunks to yield as they are, in place of
	// those made from the fields above (Warnings included).
	Raw []agentbox.Chunk
	// Err, when non-nil, is yielded after FailAfter chunks, and ends the
	// response.
	Err error
	// Hang makes the response block after FailAfter chunks until ctx is
	// done, and then yield ctx.Err(). It takes precedence over Err.
	Hang bool
	// FailAfter is the number of chunks yielded before Err or Hang; if it is
	// at least the number of chunks, all of them are.
	FailAfter int
}

// Reply returns a step that answers with the given pieces of text.
func Reply(text ...string) Step { return Step{Text: text} }

// A Call is a scripted tool call.
type Call struct {
	// ID and Name identify the call and the tool called.
	ID, Name string
	// Args is the JSON text of the arguments.
	Args string
	// Split is the size in bytes of the pieces Args is streamed in, extended
	// to the end of a UTF-8 sequence when it would cut one; 0 sends all of
	// Args in the first delta.
	Split int
}

// Chunks returns the chunks the step yields when it neither fails nor hangs:
// Raw, or those made from the other fields. Fake servers replay them in
// their wire format.
func (s Step) Chunks() []agentbox.Chunk {
	if s.Raw != nil {
		return slices.Clone(s.Raw)
	}
	var chunks []agentbox.Chunk
	for _, w := range s.Warnings {
		chunks = append(chunks, agentbox.Chunk{Warning: w})
	}
	for _, r := range s.Reasoning {
		chunks = append(chunks, agentbox.Chunk{Reasoning: r})
	}
	for _, t := range s.Text {
		chunks = append(chunks, agentbox.Chunk{Text: t})
	}
	for i, c := range s.Calls {
		for _, d := range c.deltas(i) {
			chunks = append(chunks, agentbox.Chunk{ToolCalls: []agentbox.ToolCallDelta{d}})
		}
	}
	finish := s.Finish
	if finish == "" {
		finish = agentbox.FinishStop
		if len(s.Calls) > 0 {
			finish = agentbox.FinishToolCalls
		}
	}
	chunks = append(chunks, agentbox.Chunk{FinishReason: finish})
	if s.Usage != nil {
		u := *s.Usage
		chunks = append(chunks, agentbox.Chunk{Usage: &u})
	}
	return chunks
}

// deltas splits c, the call with the given index, into deltas: the first has
// the ID, the Name and the first piece of the arguments; the others only the
// index and the next piece.
func (c Call) deltas(index int) []agentbox.ToolCallDelta {
	first, rest := c.Args, ""
	if c.Split > 0 {
		first, rest = cut(c.Args, c.Split)
	}
	ds := []agentbox.ToolCallDelta{{Index: index, ID: c.ID, Name: c.Name, Arguments: first}}
	for rest != "" {
		var piece string
		piece, rest = cut(rest, c.Split)
		ds = append(ds, agentbox.ToolCallDelta{Index: index, Arguments: piece})
	}
	return ds
}

// cut splits s after n bytes, or after the UTF-8 sequence that byte n is in.
func cut(s string, n int) (string, string) {
	if n >= len(s) {
		return s, ""
	}
	for n < len(s) && !utf8.RuneStart(s[n]) {
		n++
	}
	return s[:n], s[n:]
}

// play yields the chunks of s, honouring its delays, its failure and ctx.
func (s Step) play(ctx context.Context, yield func(agentbox.Chunk, error) bool) {
	chunks := s.Raw // played as they are, never changed: no copy
	if chunks == nil {
		chunks = s.Chunks()
	}
	n := len(chunks)
	if s.Err != nil || s.Hang {
		n = min(max(s.FailAfter, 0), n)
	}
	if err := sleep(ctx, s.Delay); err != nil {
		yield(agentbox.Chunk{}, err)
		return
	}
	for i, c := range chunks[:n] {
		if i > 0 {
			if err := sleep(ctx, s.ChunkDelay); err != nil {
				yield(agentbox.Chunk{}, err)
				return
			}
		}
		if !yield(c, nil) {
			return
		}
	}
	switch {
	case s.Hang:
		<-ctx.Done()
		yield(agentbox.Chunk{}, ctx.Err())
	case s.Err != nil:
		yield(agentbox.Chunk{}, s.Err)
	}
}

// sleep waits for d, or until ctx is done. It returns ctx.Err() when ctx is
// done, even if d has passed.
func sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return ctx.Err()
}
