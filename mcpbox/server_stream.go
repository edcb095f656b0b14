package mcpbox

import (
	"context"
	"fmt"

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
		return
	}
	s.session.Log(s.ctx, &mcp.LoggingMessageParams{Level: "info", Logger: logger, Data: text})
}
