package uistream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/agentbox/agentbox"
)

// An Encoder writes the events of one run to w as a UI message stream: a
// "start" chunk first, then the steps, and, at the [agentbox.Done], "finish"
// and "[DONE]". It keeps to what clients check: every delta and end follows
// its start, and a tool's output follows its input.
//
// Events map to chunks this way:
//   - [agentbox.Token]: text-start, text-delta, text-end (reasoning-* for
//     reasoning), one part per run of consecutive tokens.
//   - [agentbox.ToolInput]: tool-input-start, then tool-input-delta.
//   - [agentbox.ToolStart]: tool-input-available, with the arguments as input.
//   - [agentbox.ToolOutput]: a transient "data-tool-output" part, data
//     {toolCallId, stream, text}, up to MaxToolOutput bytes a call.
//   - [agentbox.Preview]: a "data-preview" part with ID "preview", data
//     {toolCallId, port, url}: the client keeps the latest.
//   - [agentbox.ToolResult]: tool-output-available, output the text the model
//     got; tool-output-error, errorText that text, when the call failed.
//   - a non-fatal [agentbox.Error]: a transient "data-warning" part, data
//     {message}.
//   - [agentbox.Done]: finish-step, then "error" when the run failed, then
//     "finish" (finishReason "stop", or "error" after a failure) with
//     messageMetadata {reason, steps, usage}, then "[DONE]".
//
// Each new step number opens a step (start-step) and closes the one before
// (finish-step). An Encoder is not safe for concurrent use.
type Encoder struct {
	// MaxToolOutput is how many bytes of one tool call's output are sent as
	// data-tool-output parts; what follows is left out, and a last part
	// says how much. 0 means 1 MiB; set it before the first Encode. The
	// tool's result, which the model got, is sent whole either way.
	MaxToolOutput int

	w         io.Writer
	messageID string
	buf       bytes.Buffer
	started   bool
	ended     bool
	step      int    // the open step, 0 for none
	text      string // the ID of the open text part, "" for none
	reasoning string // the ID of the open reasoning part, "" for none
	parts     int    // text and reasoning parts opened
	calls     map[string]*callState
	streamed  map[string]*streamed // by call ID
	err       error                // the first write error
}

type callState struct {
	name      string
	available bool // tool-input-available was written
	ended     bool // its output was written
}

// streamed counts a call's streamed output.
type streamed struct {
	sent, dropped int // bytes sent and left out
}

const defaultMaxToolOutput = 1 << 20

// NewEncoder returns an Encoder writing to w the stream of one assistant
// message with the given ID.
func NewEncoder(w io.Writer, messageID string) *Encoder {
	return &Encoder{w: w, messageID: messageID, calls: map[string]*callState{}, streamed: map[string]*streamed{}}
}

// chunk types and their fields, as clients validate them: no other fields.
type (
	startChunk struct {
		Type      string `json:"type"`
		MessageID string `json:"messageId,omitempty"`
	}
	typeChunk struct {
		Type string `json:"type"`
	}
	partChunk struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	deltaChunk struct {
		Type  string `json:"type"`
		ID    string `json:"id"`
		Delta string `json:"delta"`
	}
	toolInputStart struct {
		Type       string `json:"type"`
		ToolCallID string `json:"toolCallId"`
		ToolName   string `json:"toolName"`
	}
	toolInputDelta struct {
		Type           string `json:"type"`
		ToolCallID     string `json:"toolCallId"`
		InputTextDelta string `json:"inputTextDelta"`
	}
	toolInputAvailable struct {
		Type       string          `json:"type"`
		ToolCallID string          `json:"toolCallId"`
		ToolName   string          `json:"toolName"`
		Input      json.RawMessage `json:"input"`
	}
	toolOutputAvailable struct {
		Type       string `json:"type"`
		ToolCallID string `json:"toolCallId"`
		Output     string `json:"output"`
	}
	toolOutputError struct {
		Type       string `json:"type"`
		ToolCallID string `json:"toolCallId"`
		ErrorText  string `json:"errorText"`
	}
	dataChunk struct {
		Type      string `json:"type"`
		ID        string `json:"id,omitempty"`
		Data      any    `json:"data"`
		Transient bool   `json:"transient,omitempty"`
	}
	errorChunk struct {
		Type      string `json:"type"`
		ErrorText string `json:"errorText"`
	}
	finishChunk struct {
		Type            string          `json:"type"`
		FinishReason    string          `json:"finishReason"`
		MessageMetadata messageMetadata `json:"messageMetadata"`
	}
)

// messageMetadata is what the finish chunk tells about the run.
type messageMetadata struct {
	Reason agentbox.StopReason `json:"reason"`
	Steps  int                 `json:"steps"`
	Usage  agentbox.Usage      `json:"usage"`
}

type toolOutputData struct {
	ToolCallID string `json:"toolCallId"`
	Stream     string `json:"stream"`
	Text       string `json:"text"`
}

type previewData struct {
	ToolCallID string `json:"toolCallId"`
	Port       int    `json:"port"`
	URL        string `json:"url"`
}

type warningData struct {
	Message string `json:"message"`
}

// Encode writes the chunks of ev. After the Done, it writes nothing more.
// The error is the first error writing to w; once there is one, Encode
// writes nothing.
func (e *Encoder) Encode(ev agentbox.Event) error {
	if e.ended || e.err != nil {
		return e.err
	}
	e.buf.Reset()
	if !e.started {
		e.started = true
		e.put(startChunk{Type: "start", MessageID: e.messageID})
	}
	switch ev := ev.(type) {
	case agentbox.Token:
		if ev.Text == "" {
			break // nothing to show
		}
		e.enterStep(ev.Step)
		if ev.Reasoning {
			e.closeText()
			e.reasoning = e.openPart(e.reasoning, "reasoning")
			e.put(deltaChunk{Type: "reasoning-delta", ID: e.reasoning, Delta: ev.Text})
		} else {
			e.closeReasoning()
			e.text = e.openPart(e.text, "text")
			e.put(deltaChunk{Type: "text-delta", ID: e.text, Delta: ev.Text})
		}
	case agentbox.ToolInput:
		e.enterStep(ev.Step)
		e.closeParts()
		c := e.call(ev.ID, ev.Name)
		if ev.Delta != "" && !c.available {
			e.put(toolInputDelta{Type: "tool-input-delta", ToolCallID: ev.ID, InputTextDelta: ev.Delta})
		}
	case agentbox.ToolStart:
		e.enterStep(ev.Step)
		e.closeParts()
		e.available(e.call(ev.ID, ev.Name), ev.ID, ev.Args)
	case agentbox.ToolOutput:
		e.enterStep(ev.Step)
		e.closeParts()
		e.output(ev)
	case agentbox.Preview:
		e.enterStep(ev.Step)
		e.closeParts()
		e.put(dataChunk{Type: "data-preview", ID: "preview", Data: previewData{ev.ID, ev.Port, ev.URL}})
	case agentbox.ToolResult:
		e.enterStep(ev.Step)
		e.closeParts()
		c := e.call(ev.ID, ev.Name)
		e.available(c, ev.ID, nil)
		if st := e.streamed[ev.ID]; st != nil && st.dropped > 0 {
			note := fmt.Sprintf("\n[%d bytes of output not shown]\n", st.dropped)
			e.put(dataChunk{Type: "data-tool-output", Data: toolOutputData{ev.ID, "stderr", note}, Transient: true})
			st.dropped = 0
		}
		if !c.ended {
			c.ended = true
			if ev.Err != nil {
				e.put(toolOutputError{Type: "tool-output-error", ToolCallID: ev.ID, ErrorText: ev.Output})
			} else {
				e.put(toolOutputAvailable{Type: "tool-output-available", ToolCallID: ev.ID, Output: ev.Output})
			}
		}
	case agentbox.Error:
		if !ev.Fatal && ev.Err != nil { // a fatal one comes again with the Done
			e.put(dataChunk{Type: "data-warning", Data: warningData{ev.Err.Error()}, Transient: true})
		}
	case agentbox.Done:
		e.end(ev.Err, messageMetadata{Reason: ev.Reason, Steps: ev.Steps, Usage: ev.Usage})
	}
	return e.flush()
}

// Fail ends a stream that has no Done to end it, such as one whose run could
// not start: it writes "error" with err's text, "finish" and "[DONE]".
func (e *Encoder) Fail(err error) error {
	return e.Encode(agentbox.Done{Reason: agentbox.StopError, Err: err})
}

// end closes what is open and writes the last chunks.
func (e *Encoder) end(err error, meta messageMetadata) {
	e.closeParts()
	if e.step != 0 {
		e.put(typeChunk{Type: "finish-step"})
		e.step = 0
	}
	reason := "stop"
	if err != nil {
		reason = "error"
		e.put(errorChunk{Type: "error", ErrorText: err.Error()})
	}
	e.put(finishChunk{Type: "finish", FinishReason: reason, MessageMetadata: meta})
	e.buf.WriteString("data: [DONE]\n\n")
	e.ended = true
}

// enterStep opens step n, closing the step before.
func (e *Encoder) enterStep(n int) {
	if n == e.step {
		return
	}
	e.closeParts()
	if e.step != 0 {
		e.put(typeChunk{Type: "finish-step"})
	}
	e.put(typeChunk{Type: "start-step"})
	e.step = n
}

// output writes a piece of a call's streamed output, as much of it as
// MaxToolOutput leaves room for.
func (e *Encoder) output(ev agentbox.ToolOutput) {
	c := e.streamed[ev.ID]
	if c == nil {
		c = &streamed{}
		e.streamed[ev.ID] = c
	}
	limit := e.MaxToolOutput
	if limit <= 0 {
		limit = defaultMaxToolOutput
	}
	text := ev.Text
	if room := limit - c.sent; len(text) > room {
		room = max(room, 0)
		for room > 0 && room < len(text) && !utf8.RuneStart(text[room]) {
			room-- // do not cut a character
		}
		c.dropped += len(text) - room
		text = text[:room]
	}
	if text != "" {
		c.sent += len(text)
		e.put(dataChunk{Type: "data-tool-output", Data: toolOutputData{ev.ID, ev.Stream, text}, Transient: true})
	}
}

// call returns the state of a tool call, writing tool-input-start for a new
// one.
func (e *Encoder) call(id, name string) *callState {
	c := e.calls[id]
	if c == nil {
		c = &callState{name: name}
		e.calls[id] = c
		e.put(toolInputStart{Type: "tool-input-start", ToolCallID: id, ToolName: name})
	}
	return c
}

// available writes tool-input-available once per call; args that are not
// JSON (the model wrote invalid arguments) are sent as null.
func (e *Encoder) available(c *callState, id string, args json.RawMessage) {
	if c.available {
		return
	}
	c.available = true
	switch {
	case len(args) == 0 || !json.Valid(args):
		args = json.RawMessage("null")
	case !utf8.Valid(args):
		var v any
		json.Unmarshal(args, &v)
		args, _ = json.Marshal(v) // invalid bytes become U+FFFD
	}
	e.put(toolInputAvailable{Type: "tool-input-available", ToolCallID: id, ToolName: c.name, Input: args})
}

// openPart returns the ID of the open part of kind, opening one if id is "".
func (e *Encoder) openPart(id, kind string) string {
	if id != "" {
		return id
	}
	e.parts++
	id = fmt.Sprintf("%s-%d", kind, e.parts)
	e.put(partChunk{Type: kind + "-start", ID: id})
	return id
}

func (e *Encoder) closeText() {
	if e.text != "" {
		e.put(partChunk{Type: "text-end", ID: e.text})
		e.text = ""
	}
}

func (e *Encoder) closeReasoning() {
	if e.reasoning != "" {
		e.put(partChunk{Type: "reasoning-end", ID: e.reasoning})
		e.reasoning = ""
	}
}

func (e *Encoder) closeParts() {
	e.closeReasoning()
	e.closeText()
}

// put adds one chunk, as an SSE event, to the buffer.
func (e *Encoder) put(chunk any) {
	e.buf.WriteString("data: ")
	enc := json.NewEncoder(&e.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(chunk); err != nil {
		panic(err) // the chunk types always marshal
	}
	e.buf.WriteString("\n") // Encode ended the line; an empty one ends the event
}

// flush writes the buffer to w.
func (e *Encoder) flush() error {
	if e.buf.Len() == 0 {
		return nil
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		e.err = fmt.Errorf("uistream: %w", err)
	}
	return e.err
}
