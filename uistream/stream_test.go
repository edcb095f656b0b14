package uistream_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// chunkFields are the fields each chunk type may have: clients validate
// chunks as strict objects, so any other field makes them reject the stream.
var chunkFields = map[string][]string{
	"start":                 {"messageId", "messageMetadata"},
	"finish":                {"finishReason", "messageMetadata"},
	"start-step":            {},
	"finish-step":           {},
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
	"tool-input-error":      {"toolCallId", "toolName", "input", "errorText"},
	"tool-output-denied":    {"toolCallId"},
	"tool-approval-request": {"approvalId", "toolCallId"},
	"error":                 {"errorText"},
	"data-*":                {"id", "data", "transient"},
}

var finishReasons = []string{"stop", "length", "content-filter", "tool-calls", "error", "other"}

// chunks parses a complete UI message stream, checked as parseStream does,
// and returns its chunks.
func chunks(t *testing.T, body string) []map[string]any {
	t.Helper()
	cs, err := parseStream(body, true)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

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
	"tool-input-error":      {"toolCallId", "toolName", "input", "errorText"},
	"tool-output-denied":    {"toolCallId"},
	"tool-approval-request": {"approvalId", "toolCallId"},
	"error":                 {"errorText"},
	"data-*":                {"data"},
}

// stringFields are the fields that must be strings wherever they are.
var stringFields = []string{"type", "id", "delta", "messageId", "toolCallId", "toolName", "inputTextDelta", "errorText", "finishReason", "approvalId"}

// parseStream parses a UI message stream and checks it as a client does:
// every event one data line of a JSON object in valid UTF-8, with only the
// fields its type allows, and those it needs, of the right kinds; start
// first; every delta and end after its start; tool inputs before their
// availability and outputs after it, or an input error ending them; steps balanced; and, when complete, a
// finish after which only [DONE] comes, with finishReason "error" after an
// error. An incomplete stream is one still going: it has neither finish nor
// [DONE].
func parseStream(body string, complete bool) ([]map[string]any, error) {
	return parseStreamOf(body, complete, false)
}

// chunksContinued parses a complete stream that continues a message, as
// parseStream does, but for the calls of that message, which the stream
// does not start: their outputs and approval requests may come outside a
// step.
func chunksContinued(t *testing.T, body string) []map[string]any {
	t.Helper()
	cs, err := parseStreamOf(body, true, true)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// parseStreamOf is parseStream; with continued, the stream continues a
// message whose calls it may end without starting them.
func parseStreamOf(body string, complete, continued bool) ([]map[string]any, error) {
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
			if c["input"] == nil {
				return nil, fail("input null; arguments that are not JSON go as their text")
			}
			tools[call] = "available"
		case continued && tools[call] == "" && (strings.HasPrefix(typ, "tool-output-") || typ == "tool-approval-request"):
			// A call of the message the stream continues: the client has it.
			if strings.HasPrefix(typ, "tool-output-") {
				tools[call] = "done"
			}
			continue
		case typ == "tool-approval-request":
			if tools[call] != "available" {
				return nil, fail("approval request of tool call %q, which is %q", call, tools[call])
			}
		case strings.HasPrefix(typ, "tool-output-"):
			if tools[call] != "available" {
				return nil, fail("output of tool call %q, which is %q", call, tools[call])
			}
			tools[call] = "done"
		case typ == "tool-input-error":
			// Ends a call, whose input was available or not.
			if tools[call] != "input" && tools[call] != "available" {
				return nil, fail("input error of tool call %q, which is %q", call, tools[call])
			}
			if c["input"] == nil {
				return nil, fail("input error without input")
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

// types returns the types of the chunks, in order.
func types(cs []map[string]any) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c["type"].(string))
	}
	return out
}

// find returns the chunks of the given type.
func find(cs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, c := range cs {
		if c["type"] == typ {
			out = append(out, c)
		}
	}
	return out
}

func tail(s string) string {
	if len(s) > 300 {
		return "…" + s[len(s)-300:]
	}
	return s
}
