package uistream_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/uistream"
)

// requiredFields are the fields each chunk type must have, besides "type".
var requiredFields = map[string][]string{
	"text-start":            {"id"},
	"text-delta":            {"id", "delta"},
	"text-end":              {"id"},
	"reasoning-start":       {"id"},
	"reasoning-delta":       {"id", "delta"},
	"reasoning-end":         {"id"},
	"tool-input-start":      {"toolCallId", "toolName"},
	"tool-input-delta":      {"toolCallId", "inputTextDelta"},
	"tool-input-available":  {"toolCallId", "toolName", "input"},
	"tool-output-available": {"toolCallId", "output"},
	"tool-output-error":     {"toolCallId", "errorText"},
	"error":                 {"errorText"},
	"data-*":                {"data"},
}

// stringFields are the fields that must be strings wherever they are.
var stringFields = []string{"type", "id", "delta", "messageId", "toolCallId", "toolName", "inputTextDelta", "errorText", "finishReason"}

// parseStream parses a UI message stream and checks it as a client does:
// every event one data line of a JSON object in valid UTF-8, with only the
// fields its type allows, and those it needs, of the right kinds; start
// first; every delta and end after its start; tool inputs before their
// availability and outputs after it; steps balanced; and, when complete, a
// finish after which only [DONE] comes, with finishReason "error" after an
// error. An incomplete stream is one still going: it has neither finish nor
// [DONE].
func parseStream(body string, complete bool) ([]map[string]any, error) {
	if body == "" {
		if complete {
			return nil, errors.New("the stream is empty")
		}
		return nil, nil
	}
	if !strings.HasSuffix(body, "\n\n") {
		return nil, fmt.Errorf("the stream does not end with a blank line: %q", tail(body))
	}
	events := strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n")
	if complete {
		if events[len(events)-1] != "data: [DONE]" {
			return nil, fmt.Errorf("the stream does not end with [DONE]: %q", tail(body))
		}
		events = events[:len(events)-1]
	}
	var out []map[string]any
	open := map[string]bool{} // text and reasoning parts
	tools := map[string]string{}
	step, failed, finished := false, false, false
	for i, ev := range events {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(data, "\n") {
			return nil, fmt.Errorf("event %d is not one data line: %q", i, ev)
		}
		if !utf8.ValidString(data) {
			return nil, fmt.Errorf("event %d is not valid UTF-8: %q", i, data)
		}
		if data == "[DONE]" {
			return nil, fmt.Errorf("event %d: [DONE] before the end", i)
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, fmt.Errorf("event %d: %v: %s", i, err, data)
		}
		out = append(out, c)
		fail := func(format string, args ...any) error {
			return fmt.Errorf("event %d (%s): %s", i, data, fmt.Sprintf(format, args...))
		}
		for _, k := range stringFields {
			if v, ok := c[k]; ok {
				if _, ok := v.(string); !ok {
					return nil, fail("field %q is not a string", k)
				}
			}
		}
		if v, ok := c["transient"]; ok {
			if _, ok := v.(bool); !ok {
				return nil, fail("transient is not a boolean")
			}
		}
		typ, _ := c["type"].(string)
		kind := typ
		if strings.HasPrefix(typ, "data-") {
			kind = "data-*"
		}
		allowed, known := chunkFields[kind]
		if !known {
			return nil, fail("unknown chunk type %q", typ)
		}
		for k := range c {
			if k != "type" && !slices.Contains(allowed, k) {
				return nil, fail("field %q; clients allow only %v", k, allowed)
			}
		}
		for _, k := range requiredFields[kind] {
			if _, ok := c[k]; !ok {
				return nil, fail("no field %q", k)
			}
		}
		id, _ := c["id"].(string)
		call, _ := c["toolCallId"].(string)
		if finished {
			return nil, fail("a chunk after finish")
		}
		switch {
		case i == 0 && typ != "start":
			return nil, fail("the stream does not begin with start")
		case typ == "start" && i != 0:
			return nil, fail("start in the middle")
		case typ == "start-step":
			if step {
				return nil, fail("a step starts inside a step")
			}
			step = true
		case typ == "finish-step":
			if !step || len(open) > 0 {
				return nil, fail("finish-step outside a step or with parts open: %v", slices.Collect(maps.Keys(open)))
			}
			step = false
		case typ == "text-start" || typ == "reasoning-start":
			if open[id] || id == "" {
				return nil, fail("part %q started twice", id)
			}
			open[id] = true
		case typ == "text-delta" || typ == "reasoning-delta":
			if !open[id] {
				return nil, fail("delta of part %q, which is not open", id)
			}
		case typ == "text-end" || typ == "reasoning-end":
			if !open[id] {
				return nil, fail("end of part %q, which is not open", id)
			}
			delete(open, id)
		case typ == "tool-input-start":
			if _, dup := tools[call]; dup {
				return nil, fail("tool call %q started twice", call)
			}
			tools[call] = "input"
		case typ == "tool-input-delta":
			if tools[call] != "input" {
				return nil, fail("input delta of tool call %q, which is %q", call, tools[call])
			}
		case typ == "tool-input-available":
			if tools[call] != "input" {
				return nil, fail("input of tool call %q, which is %q", call, tools[call])
			}
			tools[call] = "available"
		case strings.HasPrefix(typ, "tool-output-"):
			if tools[call] != "available" {
				return nil, fail("output of tool call %q, which is %q", call, tools[call])
			}
			tools[call] = "done"
		case typ == "error":
			failed = true
		case typ == "finish":
			if !complete || i != len(events)-1 {
				return nil, fail("finish before the end")
			}
			if len(open) > 0 || step {
				return nil, fail("finish with a step or parts open")
			}
			if r, ok := c["finishReason"]; ok && !slices.Contains(finishReasons, r.(string)) {
				return nil, fail("finishReason %v", r)
			}
			if failed && c["finishReason"] != "error" {
				return nil, fail(`an error is not followed by finishReason "error"`)
			}
			finished = true
		}
		if (strings.HasPrefix(typ, "text") || strings.HasPrefix(typ, "reasoning") || strings.HasPrefix(typ, "tool-")) && !step {
			return nil, fail("outside a step")
		}
	}
	if complete && !finished {
		return nil, errors.New("the last chunk before [DONE] is not finish")
	}
	return out, nil
}

// fuzzEvents reads events from fuzz data.
type fuzzEvents struct{ data []byte }

func (r *fuzzEvents) byte() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

// text returns up to 15 bytes of the data, as many as the next byte says.
func (r *fuzzEvents) text() string {
	n := min(int(r.byte()%16), len(r.data))
	s := string(r.data[:n])
	r.data = r.data[n:]
	return s
}

func (r *fuzzEvents) step() int { return 1 + int(r.byte()%4) }

func (r *fuzzEvents) id() string { return []string{"c1", "c2", "c3", ""}[r.byte()%4] }

func (r *fuzzEvents) err() error {
	if s := r.text(); s != "" {
		return errors.New(s)
	}
	return nil
}

// args returns a ToolStart's arguments: none, an object, or raw text.
func (r *fuzzEvents) args() json.RawMessage {
	switch r.byte() % 3 {
	case 0:
		return nil
	case 1:
		obj, _ := json.Marshal(map[string]string{"k": r.text()})
		return obj
	default:
		return json.RawMessage(r.text())
	}
}

func (r *fuzzEvents) event() agentbox.Event {
	switch r.byte() % 10 {
	case 0, 1:
		return agentbox.Token{Step: r.step(), Reasoning: r.byte()&1 == 1, Text: r.text()}
	case 2:
		return agentbox.ToolInput{Step: r.step(), ID: r.id(), Name: r.text(), Delta: r.text()}
	case 3:
		return agentbox.ToolStart{Step: r.step(), ID: r.id(), Name: r.text(), Args: r.args()}
	case 4:
		return agentbox.ToolOutput{Step: r.step(), ID: r.id(), Stream: []string{"stdout", "stderr"}[r.byte()%2], Text: r.text()}
	case 5:
		return agentbox.Preview{Step: r.step(), ID: r.id(), Port: int(r.byte()) * 100, URL: r.text()}
	case 6:
		return agentbox.ToolResult{Step: r.step(), ID: r.id(), Name: r.text(), Output: r.text(), Err: r.err()}
	case 7:
		return agentbox.Error{Err: r.err(), Fatal: r.byte()&1 == 1}
	case 8:
		return agentbox.Done{Reason: agentbox.StopReason(r.text()), Steps: int(r.byte()), Err: r.err(), Usage: agentbox.Usage{PromptTokens: int64(r.byte())}}
	default:
		return agentbox.ToolResult{Step: r.step(), ID: r.id(), Name: r.text(), Output: r.text(), Err: errors.New(r.text())}
	}
}

// asJSON is s as it reads after a trip through JSON: invalid bytes become
// U+FFFD.
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// FuzzEncoder checks the streams an Encoder writes for any sequence of
// events, in any order, with steps going back and unknown call IDs. The
// stream is one a client accepts (see parseStream), still going when the
// events hold no Done, and complete once the Done, or else Fail, ends it;
// nothing follows the Done, and Fail then writes nothing. The text and
// reasoning deltas add up to the tokens' text; each call with a ToolResult
// gets one output, its first result's Output; input is the ToolStart's
// arguments when they are JSON and came first; streamed output of a call is
// at most MaxToolOutput bytes; and finish says "error" exactly when the Done
// had an error, with the Done's steps.
func FuzzEncoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'h', 'i', '!', 1, 0, 1, 2, 'o', 'k', 8, 0, 0, 0, 0})
	f.Add([]byte{9, 2, 1, 0, 4, 'r', 'e', 'a', 'd', 3, '{', '"', '}', 3, 1, 0, 0, 1, 1, 'x', 4, 1, 0, 0, 8, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'})
	f.Add([]byte{1, 3, 2, 1, 2, 'w', 'r', 6, 0, 0, 0, 2, 'o', 'k', 0, 2, 0, 1, 'y', 1, 'x', 0, 1, 'z'})
	f.Add([]byte{0, 7, 3, 'o', 'o', 'p', 1, 9, 3, 1, 1, 1, 'n', 1, 'o', 1, 'e', 8, 1, 'x', 3, 2, 'b', 'a', 'd', 0})
	f.Add([]byte{5, 0, 0, 2, 0xff, 0xfe, 0, 0, 1, 3, 0xe6, 0x97, 0xa5, 0, 3, 1, 1, 0xc3, 3, 2, 0, 0, 2, 2, '[', '1'})
	f.Add([]byte{3, 4, 2, 0, 0, 15, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 4, 2, 0, 1, 4, 'p', 'q', 'r', 's', 6, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzEvents{data: data}
		limit := 0
		if b := r.byte(); b&1 == 1 {
			limit = 1 + int(b>>1)%24
		}
		var events []agentbox.Event
		for n := 0; len(r.data) > 0 && n < 64; n++ {
			events = append(events, r.event())
		}

		var buf bytes.Buffer
		enc := uistream.NewEncoder(&buf, "msg-1")
		enc.MaxToolOutput = limit
		var done *agentbox.Done
		for _, ev := range events {
			before := buf.Len()
			if err := enc.Encode(ev); err != nil {
				t.Fatalf("Encode(%#v): %v", ev, err)
			}
			if done != nil {
				if buf.Len() != before {
					t.Fatalf("Encode(%#v) after the Done wrote %q", ev, buf.String()[before:])
				}
				continue
			}
			if d, ok := ev.(agentbox.Done); ok {
				done = &d
			}
		}
		if done == nil {
			if _, err := parseStream(buf.String(), false); err != nil {
				t.Fatalf("%v\nevents: %#v\nstream:\n%s", err, events, buf.String())
			}
		}
		ended := buf.Len()
		if err := enc.Fail(errors.New("the run could not go on")); err != nil {
			t.Fatal(err)
		}
		if done != nil && buf.Len() != ended {
			t.Fatalf("Fail after the Done wrote %q", buf.String()[ended:])
		}
		cs, err := parseStream(buf.String(), true)
		if err != nil {
			t.Fatalf("%v\nevents: %#v\nstream:\n%s", err, events, buf.String())
		}

		// What the chunks say, against the events encoded.
		var text, reasoning, wantText, wantReasoning strings.Builder
		outputs := map[string][]string{}
		inputs := map[string][]any{}
		streamed := map[string]int{}
		for _, c := range cs {
			call, _ := c["toolCallId"].(string)
			switch c["type"] {
			case "text-delta":
				text.WriteString(c["delta"].(string))
			case "reasoning-delta":
				reasoning.WriteString(c["delta"].(string))
			case "tool-output-available":
				outputs[call] = append(outputs[call], c["output"].(string))
			case "tool-output-error":
				outputs[call] = append(outputs[call], c["errorText"].(string))
			case "tool-input-available":
				inputs[call] = append(inputs[call], c["input"])
			case "data-tool-output":
				d := c["data"].(map[string]any)
				if s := d["text"].(string); !strings.HasSuffix(s, " bytes of output not shown]\n") {
					streamed[d["toolCallId"].(string)] += len(s)
				}
			}
		}
		results := map[string]string{}
		firstInput := map[string]any{}
		validOutput := map[string]bool{}
		for _, ev := range events {
			if _, ok := ev.(agentbox.Done); ok {
				break
			}
			switch ev := ev.(type) {
			case agentbox.Token:
				if ev.Reasoning {
					wantReasoning.WriteString(asJSON(ev.Text))
				} else {
					wantText.WriteString(asJSON(ev.Text))
				}
			case agentbox.ToolStart:
				if _, ok := firstInput[ev.ID]; !ok {
					var v any
					if json.Unmarshal(ev.Args, &v) != nil {
						v = nil
					}
					firstInput[ev.ID] = v
				}
			case agentbox.ToolOutput:
				if _, ok := validOutput[ev.ID]; !ok {
					validOutput[ev.ID] = true
				}
				validOutput[ev.ID] = validOutput[ev.ID] && utf8.ValidString(ev.Text)
			case agentbox.ToolResult:
				if _, ok := firstInput[ev.ID]; !ok {
					firstInput[ev.ID] = nil
				}
				if _, ok := results[ev.ID]; !ok {
					results[ev.ID] = asJSON(ev.Output)
				}
			}
		}
		if text.String() != wantText.String() || reasoning.String() != wantReasoning.String() {
			t.Errorf("the deltas say %q and reasoning %q; the tokens %q and %q", text.String(), reasoning.String(), wantText.String(), wantReasoning.String())
		}
		for id, want := range results {
			if got := outputs[id]; len(got) != 1 || got[0] != want {
				t.Errorf("call %q has outputs %q, want one, %q", id, got, want)
			}
		}
		for id, got := range outputs {
			if _, ok := results[id]; !ok {
				t.Errorf("call %q has outputs %q but no ToolResult", id, got)
			}
		}
		for id, got := range inputs {
			if len(got) != 1 || !reflect.DeepEqual(got[0], firstInput[id]) {
				t.Errorf("call %q has input %#v, want one, %#v", id, got, firstInput[id])
			}
		}
		capped := limit
		if capped == 0 {
			capped = 1 << 20
		}
		for id, n := range streamed {
			if validOutput[id] && n > capped {
				t.Errorf("call %q streamed %d bytes of output, more than MaxToolOutput %d", id, n, capped)
			}
		}
		finish := cs[len(cs)-1]
		meta, _ := finish["messageMetadata"].(map[string]any)
		wantReason := "error"
		if done != nil {
			if done.Err == nil {
				wantReason = "stop"
			}
			if meta["steps"] != float64(done.Steps) {
				t.Errorf("finish says %v steps, the Done %d", meta["steps"], done.Steps)
			}
		}
		if finish["finishReason"] != wantReason {
			t.Errorf("finishReason %v, want %s", finish["finishReason"], wantReason)
		}
	})
}
