package otelbox

import (
	"encoding/json"

	"github.com/agentbox/agentbox"
)

// A part is one part of a message in the semantic conventions' message
// schema: text, reasoning, a tool call or a tool call's response.
type part struct {
	Type      string `json:"type"`
	Content   string `json:"content,omitempty"`
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Arguments any    `json:"arguments,omitempty"`
	Response  any    `json:"response,omitempty"`
}

// A message is a message in the semantic conventions' message schema;
// FinishReason is set on output messages only.
type message struct {
	Role         string `json:"role"`
	Parts        []part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"`
}

// toMessage returns m in the semantic conventions' schema.
func toMessage(m agentbox.Message) message {
	out := message{Role: string(m.Role), Parts: []part{}}
	if m.Role == agentbox.RoleTool {
		out.Parts = append(out.Parts, part{Type: "tool_call_response", ID: m.ToolCallID, Response: m.Content})
		return out
	}
	if m.Reasoning != "" {
		out.Parts = append(out.Parts, part{Type: "reasoning", Content: m.Reasoning})
	}
	if m.Content != "" {
		out.Parts = append(out.Parts, part{Type: "text", Content: m.Content})
	}
	for _, c := range m.ToolCalls {
		out.Parts = append(out.Parts, part{Type: "tool_call", ID: c.ID, Name: c.Name, Arguments: arguments(c.Arguments)})
	}
	return out
}

// arguments returns a tool call's arguments as a JSON value when they are
// valid JSON, and as the text the model wrote otherwise.
func arguments(args string) any {
	if args == "" {
		return map[string]any{}
	}
	if json.Valid([]byte(args)) {
		return json.RawMessage(args)
	}
	return args
}

// inputMessages returns msgs as the JSON of gen_ai.input.messages.
func inputMessages(msgs []agentbox.Message) string {
	out := make([]message, len(msgs))
	for i, m := range msgs {
		out[i] = toMessage(m)
	}
	return marshal(out)
}

// outputMessages returns the response m, which ended for reason, as the
// JSON of gen_ai.output.messages.
func outputMessages(m agentbox.Message, reason agentbox.FinishReason) string {
	out := toMessage(m)
	if out.Role == "" {
		out.Role = string(agentbox.RoleAssistant)
	}
	out.FinishReason = finishReason(reason)
	return marshal([]message{out})
}

// finishReason returns reason as the output message schema names it.
func finishReason(reason agentbox.FinishReason) string {
	switch reason {
	case agentbox.FinishToolCalls:
		return "tool_call"
	case "":
		return "stop"
	}
	return string(reason)
}

// systemInstructions returns the system prompt as the JSON of
// gen_ai.system_instructions.
func systemInstructions(system string) string {
	return marshal([]part{{Type: "text", Content: system}})
}

// marshal returns v as JSON text; v, made of strings and valid JSON, always
// marshals.
func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
