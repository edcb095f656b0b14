package uistream_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
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
	"error":                 {"errorText"},
	"data-*":                {"id", "data", "transient"},
}

var finishReasons = []string{"stop", "length", "content-filter", "tool-calls", "error", "other"}

// chunks parses a UI message stream and checks it as a client does: the
// framing, the fields of each chunk, every delta and end after its start,
// tool outputs after their input, steps balanced, "finish" then "[DONE]"
// last, and "error" followed by finishReason "error". It returns the chunks.
func chunks(t *testing.T, body string) []map[string]any {
	t.Helper()
	if !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("the stream does not end with [DONE]:\n%s", tail(body))
	}
	events := strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n")
	var out []map[string]any
	open := map[string]bool{} // text and reasoning parts
	tools := map[string]string{}
	step, failed := false, false
	for i, ev := range events[:len(events)-1] {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("event %d is not one data line: %q", i, ev)
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, data)
		}
		out = append(out, c)
		typ, _ := c["type"].(string)
		kind := typ
		if strings.HasPrefix(typ, "data-") {
			kind = "data-*"
		}
		allowed, known := chunkFields[kind]
		if !known {
			t.Fatalf("event %d: unknown chunk type %q", i, typ)
		}
		for k := range c {
			if k != "type" && !slices.Contains(allowed, k) {
				t.Errorf("event %d: %s has field %q; clients allow only %v", i, typ, k, allowed)
			}
		}
		id, _ := c["id"].(string)
		call, _ := c["toolCallId"].(string)
		fail := func(format string, args ...any) {
			t.Errorf("event %d (%s): %s", i, data, fmt.Sprintf(format, args...))
		}
		switch {
		case i == 0 && typ != "start":
			fail("the stream does not begin with start")
		case typ == "start" && i != 0:
			fail("start in the middle")
		case i == len(events)-2 && typ != "finish":
			fail("the last chunk before [DONE] is not finish")
		case typ == "start-step":
			if step {
				fail("a step starts inside a step")
			}
			step = true
		case typ == "finish-step":
			if !step || len(open) > 0 {
				fail("finish-step outside a step or with parts open: %v", slices.Collect(maps.Keys(open)))
			}
			step = false
		case strings.HasSuffix(typ, "-start") && (strings.HasPrefix(typ, "text") || strings.HasPrefix(typ, "reasoning")):
			if open[id] || id == "" {
				fail("part %q started twice", id)
			}
			open[id] = true
		case strings.HasSuffix(typ, "-delta") && (strings.HasPrefix(typ, "text") || strings.HasPrefix(typ, "reasoning")):
			if !open[id] {
				fail("delta of part %q, which is not open", id)
			}
		case strings.HasSuffix(typ, "-end"):
			if !open[id] {
				fail("end of part %q, which is not open", id)
			}
			delete(open, id)
		case typ == "tool-input-start":
			if _, dup := tools[call]; dup {
				fail("tool call %q started twice", call)
			}
			tools[call] = "input"
		case typ == "tool-input-delta":
			if tools[call] != "input" {
				fail("input delta of tool call %q, which is %q", call, tools[call])
			}
		case typ == "tool-input-available":
			if tools[call] != "input" {
				fail("input of tool call %q, which is %q", call, tools[call])
			}
			tools[call] = "available"
		case strings.HasPrefix(typ, "tool-output-"):
			if tools[call] != "available" {
				fail("output of tool call %q, which is %q", call, tools[call])
			}
			tools[call] = "done"
		case typ == "error":
			failed = true
		case typ == "finish":
			if len(open) > 0 || step {
				fail("finish with a step or parts open")
			}
			if r := c["finishReason"]; r != nil && !slices.Contains(finishReasons, r.(string)) {
				fail("finishReason %v", r)
			}
			if failed && c["finishReason"] != "error" {
				fail(`an error is not followed by finishReason "error"`)
			}
		}
		if (strings.HasPrefix(typ, "text") || strings.HasPrefix(typ, "reasoning") || strings.HasPrefix(typ, "tool-")) && !step {
			fail("outside a step")
		}
	}
	return out
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
