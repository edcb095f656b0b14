package uistream

import (
	"io"
	"net/http"

	"github.com/agentbox/agentbox"
)

// A Protocol is a stream protocol of the AI SDK's chat clients: the form in
// which a [Handler] sends a run.
type Protocol string

// The protocols a Handler speaks.
const (
	// ProtocolAuto answers each request in the protocol of the client that
	// sent it; see [Handler] for how it tells.
	ProtocolAuto Protocol = ""
	// UIMessageStream is the UI message stream protocol v1 of AI SDK 5 and
	// later (useChat of @ai-sdk/react 2 and later), written by an [Encoder].
	UIMessageStream Protocol = "ui-message-stream"
	// DataStream is the data stream protocol v1 of AI SDK 4 (useChat of
	// @ai-sdk/react 1, as bolt.diy uses it), written by a
	// [DataStreamEncoder].
	DataStream Protocol = "data-stream"
)

// protocol returns the protocol to answer req in: forced, unless it is
// ProtocolAuto (or unknown); else DataStream for a request of an AI SDK 4
// client, one without a "trigger" whose last message has "content", and
// UIMessageStream for any other.
func (req *chatRequest) protocol(forced Protocol) Protocol {
	switch forced {
	case UIMessageStream, DataStream:
		return forced
	}
	if req.Trigger == "" && len(req.Messages) > 0 && req.Messages[len(req.Messages)-1].Content.set {
		return DataStream
	}
	return UIMessageStream
}

// setHeaders sets the response headers of a stream in p.
func (p Protocol) setHeaders(h http.Header) {
	if p == DataStream {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Vercel-Ai-Data-Stream", "v1")
	} else {
		h.Set("Content-Type", "text/event-stream")
		h.Set("X-Vercel-Ai-Ui-Message-Stream", "v1")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

// A streamEncoder writes the events of one run in a protocol: an [Encoder]
// or a [DataStreamEncoder].
type streamEncoder interface {
	// Encode writes ev; it returns the first error writing.
	Encode(ev agentbox.Event) error
	// Fail ends a stream that has no Done to end it.
	Fail(err error) error
}

// newEncoder returns the encoder of p writing to w the stream of the
// assistant message messageID, sending up to maxToolOutput bytes of each
// call's output (0 for the default).
func (p Protocol) newEncoder(w io.Writer, messageID string, maxToolOutput int) streamEncoder {
	if p == DataStream {
		enc := NewDataStreamEncoder(w, messageID)
		enc.MaxToolOutput = maxToolOutput
		return enc
	}
	enc := NewEncoder(w, messageID)
	enc.MaxToolOutput = maxToolOutput
	return enc
}
