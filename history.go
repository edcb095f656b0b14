package agentbox

import (
	"fmt"
	"slices"
	"strings"
)

// bytesPerToken is how many bytes of text make a token, roughly, for
// the history budget: about right for English and code.
const bytesPerToken = 4

// elidedPrefix starts every text put in place of an elided one.
const elidedPrefix = "[elided: "

// estimateTokens estimates how many tokens the model reads for msgs.
func estimateTokens(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += messageTokens(m)
	}
	return n
}

func messageTokens(m Message) int {
	size := len(m.Content) + len(m.Reasoning) + len(m.ReasoningDetails) + len(m.Name) + len(m.ToolCallID)
	for _, c := range m.ToolCalls {
		size += len(c.ID) + len(c.Name) + len(c.Arguments)
	}
	return 4 + (size+bytesPerToken-1)/bytesPerToken // a few tokens of framing per message
}

// elideHistory shortens msgs in place until their estimate is within budget
// tokens, and returns how many texts it replaced. It never touches the last
// turn (from the last user message on). Oldest first, it elides: the outputs
// of tool calls; then the arguments of tool calls; then the text and
// reasoning of the turns. Each elided text is replaced by a note saying how
// much was left out, so the model knows something was there. The ToolCalls
// slices of msgs are replaced, not modified, when arguments are elided.
func elideHistory(msgs []Message, budget int) int {
	total := estimateTokens(msgs)
	if total <= budget {
		return 0
	}
	last := 0
	for i, m := range msgs {
		if m.Role == RoleUser {
			last = i
		}
	}
	elided := 0
	for i := 0; i < last && total > budget; i++ {
		if msgs[i].Role == RoleTool {
			saved, n := elideContent(&msgs[i], "tool output")
			total, elided = total-saved, elided+n
		}
	}
	for i := 0; i < last && total > budget; i++ {
		saved, n := elideArguments(&msgs[i], total-budget)
		total, elided = total-saved, elided+n
	}
	for i := 0; i < last && total > budget; i++ {
		saved, n := elideContent(&msgs[i], "text")
		total, elided = total-saved, elided+n
		if total > budget {
			saved, n = elideReasoning(&msgs[i])
			total, elided = total-saved, elided+n
		}
	}
	return elided
}

// elideContent replaces m's content, what it is, with a note, when it is
// worth it, and returns the tokens saved and how many texts it replaced.
func elideContent(m *Message, what string) (saved, n int) {
	if !worthEliding(m.Content) {
		return 0, 0
	}
	before := messageTokens(*m)
	m.Content = elidedPrefix + elisionNote(what, len(m.Content)) + "]"
	return before - messageTokens(*m), 1
}

// elideArguments replaces the arguments of m's tool calls with notes, in
// order, until excess tokens are saved, and returns the tokens saved and how
// many it replaced. m.ToolCalls is replaced, not modified.
func elideArguments(m *Message, excess int) (saved, n int) {
	cloned := false
	for i := range m.ToolCalls {
		if saved >= excess {
			break
		}
		args := m.ToolCalls[i].Arguments
		if !worthEliding(args) {
			continue
		}
		if !cloned {
			m.ToolCalls, cloned = slices.Clone(m.ToolCalls), true
		}
		before := messageTokens(*m)
		// Arguments stay a JSON object: providers check them.
		m.ToolCalls[i].Arguments = fmt.Sprintf(`{"elided":%q}`, elisionNote("arguments", len(args)))
		saved += before - messageTokens(*m)
		n++
	}
	return saved, n
}

// elideReasoning drops m's reasoning, if it has any, and returns the tokens
// saved and 1, or 0, 0.
func elideReasoning(m *Message) (saved, n int) {
	if m.Reasoning == "" && m.ReasoningDetails == nil {
		return 0, 0
	}
	before := messageTokens(*m)
	m.Reasoning, m.ReasoningDetails = "", nil
	return before - messageTokens(*m), 1
}

// elisionNote says that size bytes of what were left out.
func elisionNote(what string, size int) string {
	return fmt.Sprintf("%d bytes of %s left out to keep the conversation within its token budget", size, what)
}

// worthEliding reports whether text is long enough to be worth a note, and
// not one already.
func worthEliding(text string) bool {
	return len(text) > 200 && !strings.HasPrefix(text, elidedPrefix) && !strings.HasPrefix(text, `{"elided":`)
}
