package agentbox

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestElideHistoryOrder(t *testing.T) {
	long := func(c string) string { return strings.Repeat(c, 4000) } // 1,000 tokens
	history := func() []Message {
		return []Message{
			{Role: RoleUser, Content: long("u")},
			{Role: RoleAssistant, Content: long("a"), Reasoning: long("r"), ToolCalls: []ToolCall{{ID: "1", Name: "write_file", Arguments: `{"c":"` + long("w") + `"}`}}},
			{Role: RoleTool, ToolCallID: "1", Name: "write_file", Content: long("o")},
			{Role: RoleUser, Content: long("U")},
			{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "2", Name: "read_file", Arguments: `{"p":"` + long("W") + `"}`}}},
			{Role: RoleTool, ToolCallID: "2", Name: "read_file", Content: long("O")},
		}
	}
	lastTurn := history()[3:]
	for _, tc := range []struct {
		budget int
		want   []string // what is elided, of "output", "arguments", "user", "text", "reasoning"
	}{
		{budget: 8100, want: nil},
		{budget: 7100, want: []string{"output"}},
		{budget: 6100, want: []string{"output", "arguments"}},
		{budget: 4000, want: []string{"output", "arguments", "user", "text", "reasoning"}},
		{budget: 10, want: []string{"output", "arguments", "user", "text", "reasoning"}},
	} {
		msgs := history()
		callsBefore := msgs[1].ToolCalls
		elideHistory(msgs, tc.budget)
		var got []string
		if strings.HasPrefix(msgs[2].Content, "[elided: 4000 bytes of tool output left out") {
			got = append(got, "output")
		}
		if args := msgs[1].ToolCalls[0].Arguments; args != callsBefore[0].Arguments || len(args) < 100 {
			var v map[string]string
			if err := json.Unmarshal([]byte(args), &v); err != nil || !strings.HasPrefix(v["elided"], "4008 bytes of arguments left out") {
				t.Errorf("budget %d: elided arguments %q: %v", tc.budget, args, err)
			}
			got = append(got, "arguments")
		}
		if strings.HasPrefix(msgs[0].Content, "[elided: ") {
			got = append(got, "user")
		}
		if strings.HasPrefix(msgs[1].Content, "[elided: 4000 bytes of text") {
			got = append(got, "text")
		}
		if msgs[1].Reasoning == "" {
			got = append(got, "reasoning")
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("budget %d: elided %v, want %v", tc.budget, got, tc.want)
		}
		if tc.budget >= 4000 && estimateTokens(msgs) > tc.budget {
			t.Errorf("budget %d: %d tokens left", tc.budget, estimateTokens(msgs))
		}
		if callsBefore[0].Arguments != history()[1].ToolCalls[0].Arguments {
			t.Errorf("budget %d: the caller's ToolCalls were modified", tc.budget)
		}
		for i, m := range lastTurn {
			if m.Content != msgs[3+i].Content || !slices.Equal(m.ToolCalls, msgs[3+i].ToolCalls) {
				t.Errorf("budget %d: message %d of the last turn changed", tc.budget, 3+i)
			}
		}
	}
}
