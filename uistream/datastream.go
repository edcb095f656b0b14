package uistream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/agentbox/agentbox"
)

// A DataStreamEncoder writes the events of one run to w in the AI SDK 4
// "data stream" protocol v1, the protocol of useChat in @ai-sdk/react 1 (as
// bolt.diy uses it): one part a line, CODE:JSON. The stream is the steps of
// one assistant message, then, at the [agentbox.Done], its finish. It keeps
// to what the client checks: a tool call's deltas follow its streaming
// start, and its result follows the call.
//
// Events map to parts this way:
//   - [agentbox.Token]: text 0:"…", or reasoning g:"…".
//   - [agentbox.ToolInput]: tool call streaming start b:{toolCallId,
//     toolName}, then tool call deltas c:{toolCallId, argsTextDelta}.
//   - [agentbox.ToolStart]: the tool call 9:{toolCallId, toolName, args}.
//     The client takes only an object as args: arguments that are not a
//     JSON object (the model wrote invalid ones) are sent as {}, and the
//     result says what was wrong with them.
//   - [agentbox.ToolOutput]: data 2:[{type:"tool-output", toolCallId,
//     stream, text}], up to MaxToolOutput bytes a call.
//   - [agentbox.Preview]: a message annotation 8:[{type:"preview",
//     toolCallId, port, url}]: the message keeps it, the latest last.
//   - [agentbox.ToolResult]: the tool result a:{toolCallId, result}, result
//     the text the model got; for a failed call, that text is the error's
//     ("Error: …"), which the page shows as the call's result.
//   - [agentbox.ApprovalRequest]: the tool call 9:{toolCallId, toolName,
//     args}, complete, when the call has not had it, and no result: the
//     client keeps the call in state "call" until the user answers (see
//     below).
//   - a non-fatal [agentbox.Error]: data 2:[{type:"warning", message}].
//   - [agentbox.Done]: finish step e:, then, when the stream has a step, the
//     message annotations 8:[{type:"usage", value:{promptTokens,
//     completionTokens, totalTokens}}, {type:"finish", reason, steps,
//     usage}] (the first as bolt.diy shows token usage, the second as the
//     [Encoder]'s message metadata), then the error 3:"…" when the run
//     failed, and last the finish message d:{finishReason, usage:
//     {promptTokens, completionTokens}}, finishReason "stop", "tool-calls"
//     when the run stopped for approvals ([agentbox.StopApproval]), or
//     "error" after a failure. The client stops at the error and reports
//     it.
//
// What the UI message stream sends as transient data (command output,
// warnings) goes to data 2:, which the client keeps beside the messages
// until the app clears it; what it keeps in the message (the preview, the
// run's metadata) goes to the message's annotations, which it stores with
// the message.
//
// Each new step number opens a step, f:{messageId} (the client takes the
// ID for the message), and closes the one before, e:{finishReason,
// isContinued}, finishReason "tool-calls" after a step with tool calls.
//
// The protocol has no approval parts: a call waiting for approval is a tool
// call without a result. The page answers it as it answers a call of a
// tool of its own, with useChat's addToolResult({toolCallId, result}),
// result {"approved": true} or {"approved": false, "reason": "…"}; useChat
// then sends the conversation again, its last message the assistant's (see
// [Handler]), and reads the answer's stream into that message. The events
// of step 0 are those of the calls such a continued run answers
// ([agentbox.Session.Continue]), which the client has: for them the
// DataStreamEncoder writes no tool call, only the result, a:, which takes
// the place of the answer in the client's message, and their output, before
// any step. A DataStreamEncoder is not safe for concurrent use.
type DataStreamEncoder struct {
	// MaxToolOutput is how many bytes of one tool call's output (its
	// [agentbox.ToolOutput] events) are sent as data; what follows is left out, and a last item says how much. 0 means
	// 1 MiB; set it before the first Encode. The tool's result, which the
	// model got, is sent whole either way.
	MaxToolOutput int

	w         io.Writer
	messageID string
	buf       bytes.Buffer
	enc       *json.Encoder // writes to buf
	ended     bool
	step      int  // the open step, 0 for none
	stepCalls bool // the open step has tool calls
	steps     int  // steps opened
	calls     map[string]*dataCall
	streamed  map[string]*streamed // by call ID
	err       error                // the first write error
}

type dataCall struct {
	name      string
	announced bool // its streaming start (b) was written
	called    bool // its tool call (9) was written
	ended     bool // its result (a) was written
}

// NewDataStreamEncoder returns a DataStreamEncoder writing to w the stream
// of one assistant message with the given ID, which should not be empty:
// the client gives the message that ID.
func NewDataStreamEncoder(w io.Writer, messageID string) *DataStreamEncoder {
	return &DataStreamEncoder{w: w, messageID: messageID, calls: map[string]*dataCall{}, streamed: map[string]*streamed{}}
}

// part values and their fields, as the client reads them.
type (
	dataStartStep struct {
		MessageID string `json:"messageId"`
	}
	dataFinishStep struct {
		FinishReason string `json:"finishReason"`
		IsContinued  bool   `json:"isContinued"`
	}
	dataToolCallStart struct {
		ToolCallID string `json:"toolCallId"`
		ToolName   string `json:"toolName"`
	}
	dataToolCallDelta struct {
		ToolCallID    string `json:"toolCallId"`
		ArgsTextDelta string `json:"argsTextDelta"`
	}
	dataToolCall struct {
		ToolCallID string          `json:"toolCallId"`
		ToolName   string          `json:"toolName"`
		Args       json.RawMessage `json:"args"`
	}
	dataToolResult struct {
		ToolCallID string `json:"toolCallId"`
		Result     string `json:"result"`
	}
	dataFinishMessage struct {
		FinishReason string    `json:"finishReason"`
		Usage        dataUsage `json:"usage"`
	}
	dataUsage struct {
		PromptTokens     int64 `json:"promptTokens"`
		CompletionTokens int64 `json:"completionTokens"`
	}
	// items of data (2) and annotations (8)
	dataToolOutput struct {
		Type       string `json:"type"` // "tool-output"
		ToolCallID string `json:"toolCallId"`
		Stream     string `json:"stream"`
		Text       string `json:"text"`
	}
	dataWarning struct {
		Type    string `json:"type"` // "warning"
		Message string `json:"message"`
	}
	previewAnnotation struct {
		Type       string `json:"type"` // "preview"
		ToolCallID string `json:"toolCallId"`
		Port       int    `json:"port"`
		URL        string `json:"url"`
	}
	usageAnnotation struct {
		Type  string `json:"type"` // "usage"
		Value struct {
			PromptTokens     int64 `json:"promptTokens"`
			CompletionTokens int64 `json:"completionTokens"`
			TotalTokens      int64 `json:"totalTokens"`
		} `json:"value"`
	}
	finishAnnotation struct {
		Type   string              `json:"type"` // "finish"
		Reason agentbox.StopReason `json:"reason"`
		Steps  int                 `json:"steps"`
		Usage  agentbox.Usage      `json:"usage"`
	}
)

// Encode writes the parts of ev. After the Done, it writes nothing more.
// The error is the first error writing to w; once there is one, Encode
// writes nothing.
func (e *DataStreamEncoder) Encode(ev agentbox.Event) error {
	if e.ended || e.err != nil {
		return e.err
	}
	e.buf.Reset()
	switch ev := ev.(type) {
	case agentbox.Token:
		if ev.Text == "" {
			break // nothing to show
		}
		e.enterStep(ev.Step)
		if ev.Reasoning {
			e.put('g', ev.Text)
		} else {
			e.put('0', ev.Text)
		}
	case agentbox.ToolInput:
		e.enterStep(ev.Step)
		c := e.call(ev.Step, ev.ID, ev.Name)
		if c.called {
			break // its input is complete
		}
		if !c.announced {
			c.announced = true
			e.put('b', dataToolCallStart{ev.ID, c.name})
		}
		if ev.Delta != "" {
			e.put('c', dataToolCallDelta{ev.ID, ev.Delta})
		}
	case agentbox.ToolStart:
		e.enterStep(ev.Step)
		e.called(e.call(ev.Step, ev.ID, ev.Name), ev.ID, ev.Args)
	case agentbox.ApprovalRequest:
		e.enterStep(ev.Step)
		e.called(e.call(ev.Step, ev.ID, ev.Name), ev.ID, ev.Args)
	case agentbox.ToolOutput:
		e.enterStep(ev.Step)
		st := e.streamed[ev.ID]
		if st == nil {
			st = &streamed{}
			e.streamed[ev.ID] = st
		}
		if text := st.take(ev.Text, e.MaxToolOutput); text != "" {
			e.put('2', [1]dataToolOutput{{"tool-output", ev.ID, ev.Stream, text}})
		}
	case agentbox.Preview:
		e.enterStep(ev.Step)
		e.put('8', [1]previewAnnotation{{"preview", ev.ID, ev.Port, ev.URL}})
	case agentbox.ToolResult:
		e.enterStep(ev.Step)
		c := e.call(ev.Step, ev.ID, ev.Name)
		e.called(c, ev.ID, nil)
		if note := e.streamed[ev.ID].note(); note != "" {
			e.put('2', [1]dataToolOutput{{"tool-output", ev.ID, "stderr", note}})
		}
		if !c.ended {
			c.ended = true
			e.put('a', dataToolResult{ev.ID, ev.Output})
		}
	case agentbox.Error:
		if !ev.Fatal && ev.Err != nil { // a fatal one comes again with the Done
			e.put('2', [1]dataWarning{{"warning", ev.Err.Error()}})
		}
	case agentbox.Done:
		e.end(ev)
	}
	return e.flush()
}

// Fail ends a stream that has no Done to end it, such as one whose run could
// not start: it writes the error 3: with err's text and the finish message.
func (e *DataStreamEncoder) Fail(err error) error {
	return e.Encode(agentbox.Done{Reason: agentbox.StopError, Err: err})
}

// end closes the open step and writes the last parts.
func (e *DataStreamEncoder) end(done agentbox.Done) {
	reason := "stop"
	switch {
	case done.Err != nil:
		reason = "error"
	case done.Reason == agentbox.StopApproval:
		reason = "tool-calls"
	}
	if e.step != 0 {
		if done.Err != nil {
			e.finishStep("error")
		} else {
			e.finishStep("")
		}
	}
	if e.steps > 0 {
		// Only with a step: annotations alone would make the client show an
		// empty message.
		var usage usageAnnotation
		usage.Type = "usage"
		usage.Value.PromptTokens = done.Usage.PromptTokens
		usage.Value.CompletionTokens = done.Usage.CompletionTokens
		usage.Value.TotalTokens = done.Usage.TotalTokens()
		e.put('8', [2]any{usage, finishAnnotation{"finish", done.Reason, done.Steps, done.Usage}})
	}
	if done.Err != nil {
		e.put('3', done.Err.Error())
	}
	e.put('d', dataFinishMessage{reason, dataUsage{done.Usage.PromptTokens, done.Usage.CompletionTokens}})
	e.ended = true
}

// enterStep opens step n, closing the step before.
func (e *DataStreamEncoder) enterStep(n int) {
	if n == e.step {
		return
	}
	if e.step != 0 {
		e.finishStep("")
	}
	e.put('f', dataStartStep{e.messageID})
	e.step = n
	e.steps++
	e.stepCalls = false
}

// finishStep closes the open step with reason, or, when reason is "", with
// "tool-calls" or "stop" as the step has tool calls or not.
func (e *DataStreamEncoder) finishStep(reason string) {
	if reason == "" {
		reason = "stop"
		if e.stepCalls {
			reason = "tool-calls"
		}
	}
	e.put('e', dataFinishStep{FinishReason: reason})
	e.step = 0
}

// call returns the state of a tool call of the open step. A new call of
// step 0 is one the client has (see [DataStreamEncoder]): its call is not
// written.
func (e *DataStreamEncoder) call(step int, id, name string) *dataCall {
	e.stepCalls = true
	c := e.calls[id]
	if c == nil {
		c = &dataCall{name: name, announced: step == 0, called: step == 0}
		e.calls[id] = c
	}
	return c
}

// called writes the tool call once per call, with args if they are a JSON
// object and {} if not.
func (e *DataStreamEncoder) called(c *dataCall, id string, args json.RawMessage) {
	if c.called {
		return
	}
	c.called = true
	args = jsonArgs(bytes.TrimSpace(args))
	if len(args) == 0 || args[0] != '{' {
		args = json.RawMessage("{}")
	}
	e.put('9', dataToolCall{id, c.name, args})
}

// put adds one part, a line, to the buffer.
func (e *DataStreamEncoder) put(code byte, v any) {
	e.buf.WriteByte(code)
	e.buf.WriteByte(':')
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.buf)
		e.enc.SetEscapeHTML(false)
	}
	if err := e.enc.Encode(v); err != nil { // ends the line
		panic(err) // the part types always marshal
	}
}

// flush writes the buffer to w.
func (e *DataStreamEncoder) flush() error {
	if e.buf.Len() == 0 {
		return nil
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		e.err = fmt.Errorf("uistream: %w", err)
	}
	return e.err
}
