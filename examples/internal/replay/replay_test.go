package replay_test

import (
	"context"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/examples/internal/replay"
)

// TestProviderReplaysEachConversation asks the provider for the responses of
// a conversation at each point, as concurrent chats do.
func TestProviderReplaysEachConversation(t *testing.T) {
	user := agentbox.Message{Role: agentbox.RoleUser, Content: replay.Prompt}
	answer := agentbox.Message{Role: agentbox.RoleAssistant}
	result := agentbox.Message{Role: agentbox.RoleTool}
	for _, tc := range []struct {
		name     string
		messages []agentbox.Message
		tool     string // the tool the response calls, or "" for text
		text     string
	}{
		{"first", []agentbox.Message{user}, "write_file", "I'll build it "},
		{"second", []agentbox.Message{user, answer, result}, "run_command", "Let me check "},
		{"third", []agentbox.Message{user, answer, result, answer, result}, "start_process", "All checks pass. "},
		{"last", []agentbox.Message{user, answer, result, answer, result, answer, result}, "", "Done: "},
		{"a later message", []agentbox.Message{user, answer, {Role: agentbox.RoleUser, Content: "more"}}, "", replay.Later},
	} {
		resp, err := agentboxtest.Collect(replay.Provider().Stream(context.Background(), &agentbox.Request{Messages: tc.messages}))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var tool string
		if len(resp.Calls) > 0 {
			tool = resp.Calls[0].Name
		}
		if tool != tc.tool || len(resp.Text) < len(tc.text) || resp.Text[:len(tc.text)] != tc.text {
			t.Errorf("%s: calls %q and says %q; want %q and %q…", tc.name, tool, resp.Text, tc.tool, tc.text)
		}
	}
}
