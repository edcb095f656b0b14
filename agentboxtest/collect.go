package agentboxtest

import (
	"encoding/json"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/agentbox/agentbox"
)

// A Response is a streamed model response put back together by [Collect].
type Response struct {
	// Chunks are the chunks received, in order.
	Chunks []agentbox.Chunk
	// Text and Reasoning are the pieces of text and reasoning, joined.
	Text, Reasoning string
	// ReasoningDetails is the last one received.
	ReasoningDetails json.RawMessage
	// Calls are the tool calls, ordered by index: deltas of the same index
	// are joined, their Arguments concatenated; a non-empty ID or Name sets
	// the call's.
	Calls []agentbox.ToolCall
	// Usage is the last usage received, nil when there was none.
	Usage *agentbox.Usage
	// Finish is the last finish reason received.
	Finish agentbox.FinishReason
	// Warnings are the warnings received, in order.
	Warnings []error
}

// Collect consumes seq and puts the response together. It stops at the first
// error, which it returns with what came before it.
func Collect(seq iter.Seq2[agentbox.Chunk, error]) (Response, error) {
	var (
		r            Response
		text, reason strings.Builder
		calls        = map[int]*agentbox.ToolCall{}
		err          error
	)
	for c, e := range seq {
		if e != nil {
			err = e
			break
		}
		r.Chunks = append(r.Chunks, c)
		text.WriteString(c.Text)
		reason.WriteString(c.Reasoning)
		if c.ReasoningDetails != nil {
			r.ReasoningDetails = c.ReasoningDetails
		}
		for _, d := range c.ToolCalls {
			call := calls[d.Index]
			if call == nil {
				call = new(agentbox.ToolCall)
				calls[d.Index] = call
			}
			if d.ID != "" {
				call.ID = d.ID
			}
			if d.Name != "" {
				call.Name = d.Name
			}
			call.Arguments += d.Arguments
		}
		if c.Usage != nil {
			r.Usage = c.Usage
		}
		if c.FinishReason != "" {
			r.Finish = c.FinishReason
		}
		if c.Warning != nil {
			r.Warnings = append(r.Warnings, c.Warning)
		}
	}
	r.Text, r.Reasoning = text.String(), reason.String()
	for _, i := range slices.Sorted(maps.Keys(calls)) {
		r.Calls = append(r.Calls, *calls[i])
	}
	return r, err
}
