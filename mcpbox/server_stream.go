package mcpbox

import (
	"context"
	"fmt"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A streamer sends the events of one tool call to the MCP client that made
// it: as progress notifications when the call carries a progress token, as
// log messages otherwise.
type streamer struct {
	ctx      context.Context // the call's: a notification gives up when it ends
	session  *mcp.ServerSession
	token    any // the call's progress token, nil if none
	progress float64
	last     time.Time // when the last notification was sent
}

// resultGap is how long after its last progress notification a call's
// result waits. The TypeScript SDK's clients (Claude's, Cursor's, VS
// Code's) drop a progress notification that they read together with the
// result it belongs to, as unknown, and some then end the session; a
// result that follows a moment later arrives on its own.
const resultGap = 20 * time.Millisecond

// settle waits, before the call's result is sent, until resultGap has
// passed since the last notification.
func (s *streamer) settle() {
	if s.last.IsZero() {
		return
	}
	t := time.NewTimer(time.Until(s.last.Add(resultGap)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	}
}

// newStreamer returns the streamer of the call req, whose context is ctx.
func newStreamer(ctx context.Context, req *mcp.CallToolRequest) *streamer {
	return &streamer{ctx: ctx, session: req.Session, token: req.Params.GetProgressToken()}
}

// emit sends ev, a [agentbox.ToolOutput] or [agentbox.Preview], to the
// client. CallTool calls it from one goroutine at a time.
func (s *streamer) emit(ev agentbox.Event) {
	switch ev := ev.(type) {
	case agentbox.ToolOutput:
		s.send(ev.Stream, ev.Text)
	case agentbox.Preview:
		s.send("preview", fmt.Sprintf("preview: port %d at %s", ev.Port, ev.URL))
	}
}

// send sends text, from logger ("stdout", "stderr" or "preview"), as the
// next progress notification or as a log message. A notification that
// cannot be sent is dropped: the call goes on.
func (s *streamer) send(logger, text string) {
	if s.ctx.Err() != nil || s.session == nil {
		return
	}
	if s.token != nil {
		s.progress++
		s.session.NotifyProgress(s.ctx, &mcp.ProgressNotificationParams{
			ProgressToken: s.token,
			Progress:      s.progress,
			Message:       text,
		})
		s.last = time.Now()
		return
	}
	s.session.Log(s.ctx, &mcp.LoggingMessageParams{Level: "info", Logger: logger, Data: text})
}
