package uistream

import (
	"bytes"
	"encoding/json"
	"errors"
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
//     Arguments that are not JSON wait for the call's result (see below).
//   - [agentbox.ToolOutput]: a transient "data-tool-output" part, data
//     {toolCallId, stream, text}, up to MaxToolOutput bytes a call.
//   - [agentbox.Preview]: a "data-preview" part with ID "preview", data
//     {toolCallId, port, url}: the client keeps the latest.
//   - [agentbox.ToolResult]: tool-output-available, output the text the model
//     got; tool-output-error, errorText that text, when the call failed.
//     An invalid call, whose error matches [agentbox.ErrInvalidArguments] or
//     [agentbox.ErrUnknownTool], gets tool-input-error instead, as the AI
//     SDK's own server sends for such calls: {toolCallId, toolName, input,
//     errorText}. Its input is the arguments, or, when they were not JSON,
//     the text the model wrote as a JSON string (never null); that text is
//     also the input of tool-input-available for a call whose arguments
//     never came as JSON. A call found invalid only once it ran (a tool
//     name unknown, arguments against the schema) has had its
//     tool-input-available already; the tool-input-error that follows
//     takes its place, as clients do.
//     A denied call, whose error matches [agentbox.ErrDenied], gets
//     tool-output-denied {toolCallId}: the client shows it denied.
//   - [agentbox.ApprovalRequest]: tool-input-available with the call's
//     arguments, when the call has not had it (its ToolStart comes only
//     once it is approved), then tool-approval-request {approvalId,
//     toolCallId}, approvalId the call's ID: the client's part waits for
//     the user's answer (state "approval-requested"), which it sends back
//     with the approval's ID, so that any process can tell the call.
//   - a non-fatal [agentbox.Error]: a transient "data-warning" part, data
//     {message}.
//   - [agentbox.Done]: finish-step, then "error" when the run failed, then
//     "finish" (finishReason "stop"; "tool-calls" when the run stopped for
//     approvals, [agentbox.StopApproval]; "error" after a failure) with
//     messageMetadata {reason, steps, usage}, then "[DONE]".
//
// Each new step number opens a step (start-step) and closes the one before
// (finish-step).
//
// Events of step 0 are those of the calls a continued run answers
// ([agentbox.Session.Continue]): calls of the assistant message the stream
// continues, which the client already has. For them the Encoder writes no
// tool-input-start or tool-input-available, only what comes of them
// (tool-output-available, tool-output-denied, …, or tool-approval-request
// for a call asked again), outside any step, as the AI SDK's own server
// does; the stream's messageId should then be that message's ID. An Encoder
// is not safe for concurrent use.
type Encoder struct {
	// MaxToolOutput is how many bytes of one tool call's output (its
	// [agentbox.ToolOutput] events) are sent as data-tool-output parts; what follows is left out, and a last part
	// says how much. 0 means 1 MiB; set it before the first Encode. The
	// tool's result, which the model got, is sent whole either way.
	MaxToolOutput int

	w         io.Writer
	messageID string
	buf       bytes.Buffer
	enc       *json.Encoder // writes to buf
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
	inputDone bool            // its ToolStart or ToolResult came: no more input deltas
	raw       []byte          // the input deltas written, until its input is known
	input     json.RawMessage // the JSON arguments of its ToolStart, nil if none or not JSON
	available bool            // tool-input-available was written
	ended     bool            // its output (or tool-input-error) was written
}

// inputValue is the input to send of a call: its JSON arguments, else the
// text of its input deltas as a JSON string.
func (c *callState) inputValue() json.RawMessage {
	if c.input != nil {
		return c.input
	}
	raw, _ := json.Marshal(string(c.raw)) // invalid bytes become U+FFFD
	return raw
}

// jsonArgs returns a ToolStart's arguments as JSON in valid UTF-8, or nil
// when they are not JSON.
func jsonArgs(args json.RawMessage) json.RawMessage {
	switch {
	case len(args) == 0 || !json.Valid(args):
		return nil
	case !utf8.Valid(args):
		var v any
		json.Unmarshal(args, &v)
		args, _ = json.Marshal(v) // invalid bytes become U+FFFD
	}
	return args
}

// inputError reports whether a call's error says that the call itself was
// invalid: arguments that are not JSON or not what the tool takes, or a
// tool the agent does not have.
func inputError(err error) bool {
	return errors.Is(err, agentbox.ErrInvalidArguments) || errors.Is(err, agentbox.ErrUnknownTool)
}

// streamed counts a call's streamed output.
type streamed struct {
	sent, dropped int // bytes sent and left out
}

// take returns what of text, the next piece of a call's output, is sent
// when at most limit bytes of it are (0 for the default), counting what is
// left out. It does not cut a character.
func (st *streamed) take(text string, limit int) string {
	if limit <= 0 {
		limit = defaultMaxToolOutput
	}
	if room := limit - st.sent; len(text) > room {
		room = max(room, 0)
		for room > 0 && room < len(text) && !utf8.RuneStart(text[room]) {
			room-- // do not cut a character
		}
		st.dropped += len(text) - room
		text = text[:room]
	}
	st.sent += len(text)
	return text
}

// note returns, once, the note saying how much output was left out, or ""
// when nothing was.
func (st *streamed) note() string {
	if st == nil || st.dropped == 0 {
		return ""
	}
	n := st.dropped
	st.dropped = 0
	return fmt.Sprintf("\n[%d bytes of output not shown]\n", n)
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
	toolOutputDenied struct {
		Type       string `json:"type"`
		ToolCallID string `json:"toolCallId"`
	}
	toolApprovalRequest struct {
		Type       string `json:"type"`
		ApprovalID string `json:"approvalId"`
		ToolCallID string `json:"toolCallId"`
	}
	toolInputError struct {
		Type       string          `json:"type"`
		ToolCallID string          `json:"toolCallId"`
		ToolName   string          `json:"toolName"`
		Input      json.RawMessage `json:"input"`
		ErrorText  string          `json:"errorText"`
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
		c := e.call(ev.Step, ev.ID, ev.Name)
		if ev.Delta != "" && !c.inputDone {
			c.raw = append(c.raw, ev.Delta...)
			e.put(toolInputDelta{Type: "tool-input-delta", ToolCallID: ev.ID, InputTextDelta: ev.Delta})
		}
	case agentbox.ToolStart:
		e.enterStep(ev.Step)
		e.closeParts()
		c := e.call(ev.Step, ev.ID, ev.Name)
		if e.inputArgs(c, ev.Args) {
			e.available(c, ev.ID)
		} // else the result says the arguments are invalid: see ToolResult
	case agentbox.ApprovalRequest:
		e.enterStep(ev.Step)
		e.closeParts()
		c := e.call(ev.Step, ev.ID, ev.Name)
		if c.ended {
			break
		}
		e.inputArgs(c, ev.Args)
		e.available(c, ev.ID)
		e.put(toolApprovalRequest{Type: "tool-approval-request", ApprovalID: ev.ID, ToolCallID: ev.ID})
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
		c := e.call(ev.Step, ev.ID, ev.Name)
		c.inputDone = true
		if note := e.streamed[ev.ID].note(); note != "" {
			e.put(dataChunk{Type: "data-tool-output", Data: toolOutputData{ev.ID, "stderr", note}, Transient: true})
		}
		if c.ended {
			break
		}
		c.ended = true
		switch {
		case ev.Err != nil && inputError(ev.Err):
			c.available = true
			e.put(toolInputError{Type: "tool-input-error", ToolCallID: ev.ID, ToolName: c.name, Input: c.inputValue(), ErrorText: ev.Output})
		case errors.Is(ev.Err, agentbox.ErrDenied):
			e.available(c, ev.ID)
			e.put(toolOutputDenied{Type: "tool-output-denied", ToolCallID: ev.ID})
		case ev.Err != nil:
			e.available(c, ev.ID)
			e.put(toolOutputError{Type: "tool-output-error", ToolCallID: ev.ID, ErrorText: ev.Output})
		default:
			e.available(c, ev.ID)
			e.put(toolOutputAvailable{Type: "tool-output-available", ToolCallID: ev.ID, Output: ev.Output})
		}
		c.raw, c.input = nil, nil
	case agentbox.Error:
		if !ev.Fatal && ev.Err != nil { // a fatal one comes again with the Done
			e.put(dataChunk{Type: "data-warning", Data: warningData{ev.Err.Error()}, Transient: true})
		}
	case agentbox.Done:
		e.end(ev.Err, ev.Reason == agentbox.StopApproval, messageMetadata{Reason: ev.Reason, Steps: ev.Steps, Usage: ev.Usage})
	}
	return e.flush()
}

// inputArgs takes args, a ToolStart's or an ApprovalRequest's arguments, as
// the input of c unless its input is complete already, and reports whether
// c has JSON arguments as its input.
func (e *Encoder) inputArgs(c *callState, args json.RawMessage) bool {
	if c.inputDone {
		return c.input != nil
	}
	c.inputDone = true
	if c.input = jsonArgs(args); c.input != nil {
		c.raw = nil
	}
	return c.input != nil
}

// Fail ends a stream that has no Done to end it, such as one whose run could
// not start: it writes "error" with err's text, "finish" and "[DONE]".
func (e *Encoder) Fail(err error) error {
	return e.Encode(agentbox.Done{Reason: agentbox.StopError, Err: err})
}

// end closes what is open and writes the last chunks; waiting says the run
// stopped for approvals.
func (e *Encoder) end(err error, waiting bool, meta messageMetadata) {
	e.closeParts()
	if e.step != 0 {
		e.put(typeChunk{Type: "finish-step"})
		e.step = 0
	}
	reason := "stop"
	switch {
	case err != nil:
		reason = "error"
		e.put(errorChunk{Type: "error", ErrorText: err.Error()})
	case waiting:
		reason = "tool-calls"
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
	st := e.streamed[ev.ID]
	if st == nil {
		st = &streamed{}
		e.streamed[ev.ID] = st
	}
	if text := st.take(ev.Text, e.MaxToolOutput); text != "" {
		e.put(dataChunk{Type: "data-tool-output", Data: toolOutputData{ev.ID, ev.Stream, text}, Transient: true})
	}
}

// call returns the state of a tool call, writing tool-input-start for a new
// one. A new call of step 0 is one the client has (see [Encoder]): nothing
// of its input is written.
func (e *Encoder) call(step int, id, name string) *callState {
	c := e.calls[id]
	switch {
	case c != nil:
	case step == 0:
		c = &callState{name: name, inputDone: true, available: true}
		e.calls[id] = c
	default:
		c = &callState{name: name}
		e.calls[id] = c
		e.put(toolInputStart{Type: "tool-input-start", ToolCallID: id, ToolName: name})
	}
	return c
}

// available writes tool-input-available once per call, with the call's
// input (see callState.inputValue).
func (e *Encoder) available(c *callState, id string) {
	if c.available {
		return
	}
	c.available = true
	e.put(toolInputAvailable{Type: "tool-input-available", ToolCallID: id, ToolName: c.name, Input: c.inputValue()})
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
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.buf)
		e.enc.SetEscapeHTML(false)
	}
	if err := e.enc.Encode(chunk); err != nil {
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
