package uistream

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/agentbox/agentbox"
)

// Options configure a [Handler]. The zero value is useful.
type Options struct {
	// Session configures the sessions the handler starts.
	Session agentbox.SessionOptions
	// IdleTimeout is how long a chat's session lives after its last turn
	// ends; then it is closed, with the sandbox it opened. 0 means 15
	// minutes.
	IdleTimeout time.Duration
	// MaxSessions is the most chats with a session at once. A new chat
	// beyond it takes the place of the chat idle the longest (no turn
	// running), whose session is closed with its sandbox as if its idle time
	// had passed; only when every chat has a turn running is the new chat
	// refused with 503. 0 means 100.
	MaxSessions int
	// MaxToolOutput is how many bytes of one tool call's output (its
	// [agentbox.ToolOutput] events) are streamed to the client; 0 means
	// 1 MiB. See [Encoder]. What the model gets is capped apart, by the
	// agent's Options.MaxToolResult.
	MaxToolOutput int
	// Protocol is the protocol of every stream: UIMessageStream or
	// DataStream. ProtocolAuto (the zero value), or any other value,
	// answers each request in its client's protocol (see [Handler]).
	Protocol Protocol
	// MaxBodyBytes is the largest request body accepted; 0 means 4 MiB.
	MaxBodyBytes int64
	// ReadTimeout is how long a client has to send its request body,
	// counted from when the handler starts on the request. A body still
	// coming in then is refused with 408 and its connection closed, before
	// the chat is looked at. The deadline replaces, for the body, that of
	// http.Server.ReadTimeout. 0 means 30 seconds, enough for a body of 4
	// MiB over about 1 Mbit/s (chat requests are mostly a few KiB); a
	// negative value sets no deadline, leaving the server's.
	ReadTimeout time.Duration
	// WriteTimeout is how long one write of the stream to the client may
	// take. Before each write and flush the handler sets the connection's
	// write deadline that far ahead, so a stream is never cut for its
	// length while the client reads it; but a client that stops reading,
	// until the socket buffers between are full, loses its turn when a
	// write misses the deadline, as if it had disconnected. The deadline
	// replaces, for the stream, that of http.Server.WriteTimeout, which
	// would cut a long stream: leave that one 0. 0 means 30 seconds, time
	// for a connection that stalls for a moment (a mobile network changing
	// hands) to recover; a negative value sets no deadline.
	WriteTimeout time.Duration
	// ResumeWindow is how long a turn runs on once no client receives it
	// (its page was reloaded or closed, or stopped reading), for a client to
	// resume it; then it is cancelled. A new message for the chat cancels
	// it at once, so that a stopped turn never blocks the next message. 0
	// means 15 seconds; a negative value cancels the turn as soon as its
	// client goes.
	ResumeWindow time.Duration
	// MaxReplayBytes bounds the stream of a running turn kept for clients
	// that resume it. A turn whose stream outgrows it can no longer be
	// resumed (204), and a client resuming it already gets the stream up to
	// that length, then its end. 0 means 8 MiB.
	MaxReplayBytes int
	// SessionKey returns the key of a chat's session: requests with the
	// same key share one. Nil means the chat id alone, which any client that
	// knows it can use; to keep users apart, return the user's identity (from
	// the request's authentication) with the chat id.
	SessionKey func(r *http.Request, chatID string) string
	// MessageID returns the ID of each new assistant message; nil means
	// random IDs.
	MessageID func() string
	// Logger receives a record per refused request and per closed session.
	// Nil discards them.
	Logger *slog.Logger
}

const (
	defaultIdleTimeout  = 15 * time.Minute
	defaultMaxSessions  = 100
	defaultMaxBodyBytes = 4 << 20
	defaultReadTimeout  = 30 * time.Second
	defaultWriteTimeout = 30 * time.Second
	closeTimeout        = 30 * time.Second
)

// A Handler serves an agent's runs to chat clients of the AI SDK's useChat:
// in the UI message stream protocol v1 to those of AI SDK 5 and later, in
// the data stream protocol v1 to those of AI SDK 4 (@ai-sdk/react 1, as
// bolt.diy uses it).
//
// It takes POSTs of the chat request body and answers each with the run of
// the last user message. A request of AI SDK 5 and later, {id, messages,
// trigger}, each message with parts, gets the run as a UI message stream of
// server-sent events (see [Encoder] for what each event becomes). A request
// of AI SDK 4, {id, messages}, each message with its text as "content" (and
// parts and toolInvocations besides), gets it as a data stream (see
// [DataStreamEncoder]). The handler tells them apart by the trigger, which
// only AI SDK 5 and later send: a request with no "trigger" (or an empty
// one) whose last message has a "content" (a string, or an array of parts)
// is answered with a data stream, any other with a UI message stream.
// Options.Protocol sets one protocol for every request instead. Fields of
// the body it does not know (an app's own, such as bolt.diy's apiKeys and
// files) are ignored. A failed run is still a 200 response: a UI message
// stream ends with "error", then "finish" with finishReason "error", then
// "[DONE]"; a data stream with its error part (3:), then its finish message
// with finishReason "error". Requests it cannot take get a
// 4xx or 5xx status and a JSON body {"error": "..."}: wrong method (405), a
// body that is not application/json (415), malformed (400), too large (413)
// or not all sent within Options.ReadTimeout (408), a turn of the chat still
// running (409), a turn running in each of Options.MaxSessions chats or the
// handler closed (503).
//
// Each chat id (or key, see Options.SessionKey) has an [agentbox.Session]:
// the sandbox and the conversation carry over from one message to the next.
// A session idle for Options.IdleTimeout is closed with its sandbox, and so
// is the one idle the longest when a new chat comes with Options.MaxSessions
// reached: chats that ended never keep a new one out, only turns running do.
// For a chat it has no session for, the handler starts one with the earlier
// messages of the request as its history: the text of the user's and the
// assistant's, and the assistant's tool calls that have a result, with
// their results (of AI SDK 4, toolInvocations in state "result"; a denied
// call, state "output-denied", with its denial). When the request has no
// more user messages than the session — the user regenerated an answer or
// edited a message — the session goes back to that message and runs it
// ([agentbox.Session.Edit]).
//
// Tool calls that need approval (the agent's Options.NeedsApproval) are
// asked of the user in the stream, and the turn ends with them waiting
// ([agentbox.StopApproval]; see [Encoder] and [DataStreamEncoder]). The
// client answers in its next request, whose last message is then that
// assistant message with the answers, not a user message: of AI SDK 5 and
// later, tool parts in state "approval-responded" with approval {id,
// approved, reason} (useChat's addToolApprovalResponse, sent with
// sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses);
// of AI SDK 4, tool invocations in state "result" whose result is
// {"approved": true} or {"approved": false, "reason": "…"} (addToolResult).
// The answers are read by tool call ID, and the handler continues the turn
// ([agentbox.Session.Continue]): the stream goes on with the same message
// (its start chunk carries the request's messageId, else the last message's
// id), with the results of the answered calls, then the model's next
// steps. For a chat it has no session for, the history includes that
// message, its answered calls waiting. A continuation that answers nothing
// (no such part) or answers a call that does not wait for approval is
// refused with 400. A user message sent instead of answering leaves the
// calls not run, and the model reads so.
//
// A page that reloads mid-turn gets the turn back: GET {api}/{id}/stream
// (the AI SDK 5's resume) or GET {api}?chatId={id} (the AI SDK 4's
// experimental_resume) answers with the running turn's stream from its
// start, then the rest as it comes; when no turn runs, 204 (AI SDK 5+) or
// an empty data stream (AI SDK 4, whose useChat fails on 204). Mount the
// Handler at both "/api/chat" and "/api/chat/" for the first route. A client
// that disconnects leaves its turn running for Options.ResumeWindow, for a
// client to resume it; with none back by then, the run is cancelled: its
// commands are killed, the processes it was starting stopped, and the tool
// calls left are not run. A new message for the chat cancels such a turn at
// once and runs, so that a stop button never makes the next message wait;
// so does a new chat that needs its place. The chat's sandbox waits for the
// next message, until the idle expiry or a new chat takes its place. A
// client that stays connected but stops reading is treated the same once a
// write to it has waited Options.WriteTimeout. A client slow
// to send its request body is cut off after Options.ReadTimeout and holds no
// session. Both deadlines need a ResponseWriter that
// [http.ResponseController] can set them on, as the net/http server's are
// (a middleware's wrapper needs an Unwrap method); without, the handler logs
// a warning once and streams without them. Close the Handler to close every
// session.
type Handler struct {
	agent *agentbox.Agent
	opts  Options
	log   *slog.Logger

	noDeadlines sync.Once // warns once of a ResponseWriter without deadlines

	mu       sync.Mutex
	sessions map[string]*chat
	closed   bool
	turns    uint64         // turns ended, to order chats by their last use
	expiring sync.WaitGroup // sessions being closed after their idle time or evicted
}

// chat is the session of one chat id.
type chat struct {
	session *agentbox.Session
	busy    bool        // a request runs one of its turns
	uses    int         // requests that ran its turns
	ended   uint64      // Handler.turns when its last turn ended
	idle    *time.Timer // closes it when it fires; stopped while busy
	turn    *turnLog    // the running turn's stream; nil when none runs
}

// New returns a Handler serving agent's runs.
func New(agent *agentbox.Agent, opts Options) *Handler {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = defaultIdleTimeout
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = defaultMaxSessions
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBodyBytes
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = defaultReadTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = defaultWriteTimeout
	}
	if opts.ResumeWindow == 0 {
		opts.ResumeWindow = defaultResumeWindow
	}
	if opts.MaxReplayBytes <= 0 {
		opts.MaxReplayBytes = defaultMaxReplayBytes
	}
	if opts.MessageID == nil {
		opts.MessageID = func() string { return "msg-" + rand.Text() }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{agent: agent, opts: opts, log: log, sessions: map[string]*chat{}}
}

// ServeHTTP serves one chat request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := &clientWriter{w: w, rc: http.NewResponseController(w), timeout: h.opts.WriteTimeout, h: h}
	if d := h.opts.ReadTimeout; d > 0 {
		// The whole body, read or not, is due by then: what the handler
		// leaves of it, the server discards within the same deadline, or
		// closes the connection.
		cw.setReadDeadline(time.Now().Add(d))
	}
	// The response after the handler returns, a refusal or the end of the
	// stream, gets a deadline as well.
	defer cw.extend()
	if r.Method == http.MethodGet {
		if id, client, ok := resumeID(r); ok {
			h.resume(w, r, cw, id, client)
			return
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, &requestError{http.StatusMethodNotAllowed, "use POST with a chat request body, or GET to resume a chat's stream"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		// Also what keeps other sites' pages out: a cross-site request with
		// this type needs a CORS preflight, which this handler refuses.
		h.refuse(w, &requestError{http.StatusUnsupportedMediaType, "send the chat request as application/json"})
		return
	}
	req, err := readRequest(w, r, h.opts.MaxBodyBytes)
	if err != nil {
		h.refuse(w, err)
		return
	}
	// Past the body, the server reads on only to see the client hang up:
	// no deadline, as the server itself leaves it.
	cw.setReadDeadline(time.Time{})
	key := req.ID
	if h.opts.SessionKey != nil {
		key = h.opts.SessionKey(r, req.ID)
	}
	h.preempt(r.Context(), key)
	c, created, evicted, err := h.take(key, req)
	if re, ok := errors.AsType[*requestError](err); ok && re.status == http.StatusServiceUnavailable && h.preemptAny(r.Context()) {
		c, created, evicted, err = h.take(key, req) // in the place of an abandoned turn's chat
	}
	if err != nil {
		h.refuse(w, err)
		return
	}
	// The turn runs on when its client goes, for a client to resume it:
	// the turn log cancels it (see Options.ResumeWindow).
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	proto := req.protocol(h.opts.Protocol)
	hdr := w.Header()
	proto.setHeaders(hdr)
	turn := newTurnLog(hdr, h.opts.MaxReplayBytes, h.opts.ResumeWindow, cancel)
	turn.attach() // the client that asked
	h.mu.Lock()
	c.turn = turn
	h.mu.Unlock()
	defer func() {
		h.release(key, c)
		close(turn.released)
		turn.finish()
	}()
	if evicted != nil {
		// Its sandbox is closed before this chat's turn can open one: the
		// sandboxes open stay within MaxSessions, but for those of sessions
		// expiring.
		h.closeSession(evicted, "uistream: closed the chat idle the longest to make room for a new one")
	}

	events, messageID := h.startTurn(ctx, c.session, created, req)
	w.WriteHeader(http.StatusOK)
	tw := &turnWriter{log: turn, client: cw}
	// A client that hangs up is gone, as one whose write fails (it went,
	// or stalled past the write deadline).
	stop := context.AfterFunc(r.Context(), tw.left)
	defer stop()
	enc := proto.newEncoder(tw, messageID, h.opts.MaxToolOutput)
	for ev := range events {
		enc.Encode(ev) // a turnWriter takes every write
		// Flush once the run has nothing more ready; the end of the stream
		// is sent when the handler returns, once the chat is free again.
		if _, last := ev.(agentbox.Done); !last && len(events) == 0 {
			tw.Flush()
		}
	}
}

// startTurn starts the turn req asks of s, a session created for it or
// not, and returns its events and the ID of the assistant message they
// make: a continuation answers the calls waiting for approval and goes on
// with the message it continues; a request with no more user messages than
// the session goes back to its last (the client regenerated an answer or
// edited a message); any other sends its last message.
func (h *Handler) startTurn(ctx context.Context, s *agentbox.Session, created bool, req *chatRequest) (<-chan agentbox.Event, string) {
	if req.answers != nil {
		return s.Continue(ctx, req.answers...), cmp.Or(req.continuedID(), h.opts.MessageID())
	}
	text := req.Messages[len(req.Messages)-1].text()
	if n := req.userMessages(); !created && n <= userMessages(s.Messages()) {
		return s.Edit(ctx, n-1, text), h.opts.MessageID()
	}
	return s.Send(ctx, text), h.opts.MessageID()
}

// clientWriter writes a response to the client, each write and flush
// within timeout of its start.
type clientWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration // negative for no deadline
	h       *Handler
}

// Write writes p to the client before the write deadline.
func (c *clientWriter) Write(p []byte) (int, error) {
	c.extend()
	return c.w.Write(p)
}

// Flush sends what is buffered to the client before the write deadline.
func (c *clientWriter) Flush() error {
	c.extend()
	if err := c.rc.Flush(); err != nil {
		return fmt.Errorf("uistream: %w", err)
	}
	return nil
}

// extend sets the write deadline to timeout from now. When the
// ResponseWriter takes no deadline, the handler goes on without.
func (c *clientWriter) extend() {
	if c.timeout < 0 {
		return
	}
	if err := c.rc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		c.timeout = -1
		c.unsupported(err)
	}
}

// setReadDeadline sets the read deadline of the request; the zero time
// clears it.
func (c *clientWriter) setReadDeadline(deadline time.Time) {
	if err := c.rc.SetReadDeadline(deadline); err != nil {
		c.unsupported(err)
	}
}

// unsupported logs, once per Handler, that the ResponseWriter takes no
// deadlines.
func (c *clientWriter) unsupported(err error) {
	if !errors.Is(err, http.ErrNotSupported) {
		return // the connection is closed: the write fails on its own
	}
	c.h.noDeadlines.Do(func() {
		c.h.log.Warn("uistream: the ResponseWriter takes no deadlines, so stalled clients are not cut off; give middleware wrappers an Unwrap method", "error", err)
	})
}

// take returns the session of key, starting one for req if need be (created
// says so), and marks it busy. A continuation whose answers are not all to
// calls of the session waiting for approval is refused with 400. A session
// it starts at MaxSessions takes the place of the chat idle the longest:
// take removes that chat, to be closed by the caller with h.expiring
// counting it (evicted).
func (h *Handler) take(key string, req *chatRequest) (c *chat, created bool, evicted *chat, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, nil, &requestError{http.StatusServiceUnavailable, "the chat handler is closed"}
	}
	c = h.sessions[key]
	if c == nil {
		var lru string
		if len(h.sessions) >= h.opts.MaxSessions {
			if lru = h.leastRecentlyUsed(); lru == "" {
				return nil, false, nil, &requestError{http.StatusServiceUnavailable, "too many chats at once; try again later"}
			}
		}
		s, err := h.agent.ResumeSession(agentbox.SessionState{Messages: req.history()}, h.opts.Session)
		if err != nil {
			return nil, false, nil, fmt.Errorf("uistream: starting the chat's session: %w", err)
		}
		if err := req.answersWaiting(s.Pending()); err != nil {
			return nil, false, nil, err
		}
		if lru != "" {
			evicted = h.sessions[lru]
			delete(h.sessions, lru)
			if evicted.idle != nil {
				evicted.idle.Stop()
			}
			h.expiring.Add(1)
		}
		c, created = &chat{session: s}, true
		h.sessions[key] = c
	}
	if c.busy {
		return nil, false, nil, &requestError{http.StatusConflict, "a turn of this chat is still running"}
	}
	if !created {
		if err := req.answersWaiting(c.session.Pending()); err != nil {
			return nil, false, nil, err
		}
	}
	c.busy = true
	c.uses++
	if c.idle != nil {
		c.idle.Stop()
	}
	return c, created, evicted, nil
}

// leastRecentlyUsed returns the key of the chat whose last turn ended the
// earliest among those with no turn running, or "" when every chat has one.
// h.mu is held.
func (h *Handler) leastRecentlyUsed() string {
	var key string
	var oldest *chat
	for k, c := range h.sessions {
		if !c.busy && (oldest == nil || c.ended < oldest.ended) {
			key, oldest = k, c
		}
	}
	return key
}

// release marks the chat idle, closing its session after the idle time
// unless it is used again.
func (h *Handler) release(key string, c *chat) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.busy, c.turn = false, nil
	h.turns++
	c.ended = h.turns
	if h.closed {
		return
	}
	uses := c.uses
	c.idle = time.AfterFunc(h.opts.IdleTimeout, func() { h.expire(key, c, uses) })
}

// expire closes the chat's session when it has not been used since the
// given number of uses.
func (h *Handler) expire(key string, c *chat, uses int) {
	h.mu.Lock()
	if c.busy || c.uses != uses || h.sessions[key] != c || h.closed {
		h.mu.Unlock()
		return
	}
	delete(h.sessions, key)
	h.expiring.Add(1)
	h.mu.Unlock()
	h.closeSession(c, "uistream: closed an idle chat's session")
}

// closeSession closes the session of a chat taken out of h.sessions, whose
// closing h.expiring counts, and logs msg.
func (h *Handler) closeSession(c *chat, msg string) {
	defer h.expiring.Done()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := c.session.Close(ctx); err != nil {
		h.log.Warn("uistream: closing an idle chat's session failed", "error", err)
		return
	}
	h.log.Debug(msg)
}

// Sessions returns the number of chats with a session.
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Close closes every session, cancelling the turns still running, and
// refuses later requests with 503. It returns when all are closed or ctx is
// done.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	chats := h.sessions
	h.sessions = map[string]*chat{}
	for _, c := range chats {
		if c.idle != nil {
			c.idle.Stop()
		}
	}
	h.mu.Unlock()
	var errs []error
	for _, c := range chats {
		if err := c.session.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	ended := make(chan struct{})
	go func() {
		h.expiring.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// refuse answers with err's status and a JSON body naming it.
func (h *Handler) refuse(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if re, ok := errors.AsType[*requestError](err); ok {
		status = re.status
	}
	h.log.Debug("uistream: refused a request", "status", status, "error", err)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// Sandbox returns the sandbox of the chat chatID (its session's key made
// from r with Options.SessionKey, as a chat request's would be), for pages
// that show what the agent built: nil when the chat has no session, or its
// session no sandbox yet. It is the session's own: use it to read, and
// leave closing it to the Handler. Between turns it may be paused (see
// agentbox.SessionOptions.PauseAfter); E2B's resumes on use.
func (h *Handler) Sandbox(r *http.Request, chatID string) agentbox.Sandbox {
	key := chatID
	if h.opts.SessionKey != nil {
		key = h.opts.SessionKey(r, chatID)
	}
	h.mu.Lock()
	c := h.sessions[key]
	h.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.session.Sandbox()
}
