package uistream

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultResumeWindow   = 15 * time.Second
	defaultMaxReplayBytes = 8 << 20
	replayPiece           = 32 << 10 // the most of a replay written at once
)

// A turnLog is the stream of a chat's running turn, kept from its start so
// that a client that comes back (the page reloaded) receives all of it. It
// keeps at most max bytes: a stream that outgrows it can no longer be
// resumed, and a client resuming it gets what was kept, then its end.
//
// It also counts the clients receiving the turn: when the last goes, the
// turn runs on for window, for a client to resume it, and is then
// cancelled.
type turnLog struct {
	header   http.Header // of the stream
	max      int
	window   time.Duration      // negative: no wait
	cancel   context.CancelFunc // cancels the turn
	released chan struct{}      // closed once the chat is free again

	mu        sync.Mutex
	buf       []byte
	full      bool          // over max: nothing more is kept
	done      bool          // the turn has ended and the chat is free
	changed   chan struct{} // closed when buf grows or the turn ends
	listeners int           // clients receiving the turn
	timer     *time.Timer   // cancels the turn once no client has come back
}

func newTurnLog(header http.Header, max int, window time.Duration, cancel context.CancelFunc) *turnLog {
	return &turnLog{header: header.Clone(), max: max, window: window, cancel: cancel, released: make(chan struct{}), changed: make(chan struct{})}
}

// write keeps p, unless the log is full.
func (t *turnLog) write(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.full || len(p) == 0 {
		return
	}
	if len(t.buf)+len(p) > t.max {
		t.full = true
	} else {
		t.buf = append(t.buf, p...)
	}
	t.notify()
}

// finish marks the turn ended, once the chat is free.
func (t *turnLog) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	if t.timer != nil {
		t.timer.Stop()
	}
	t.notify()
}

// notify wakes the clients waiting for more. t.mu is held.
func (t *turnLog) notify() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// attach counts a client that receives the turn; false when there is
// nothing to resume: the turn has ended, or outgrown the log.
func (t *turnLog) attach() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || t.full {
		return false
	}
	t.listeners++
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	return true
}

// detach uncounts a client. When none is left, the turn is cancelled after
// the window, unless one comes back first.
func (t *turnLog) detach() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.listeners--; t.listeners > 0 || t.done {
		return
	}
	if t.window < 0 || t.full {
		t.cancel()
		return
	}
	t.timer = time.AfterFunc(t.window, func() {
		t.mu.Lock()
		alone := t.listeners == 0
		t.mu.Unlock()
		if alone {
			t.cancel()
		}
	})
}

// abandoned reports whether no client receives the running turn.
func (t *turnLog) abandoned() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listeners == 0 && !t.done
}

// replay writes the turn to w from its start, and then as it comes, until
// it ends, the log is full and all of it written, ctx is done or a write
// fails.
func (t *turnLog) replay(ctx context.Context, w *clientWriter) {
	for off := 0; ; {
		t.mu.Lock()
		chunk, end, changed := t.buf[off:len(t.buf):len(t.buf)], t.done || t.full, t.changed
		t.mu.Unlock()
		if len(chunk) > 0 {
			// In pieces, each with its write deadline, as the turn's own
			// stream went: a backlog of megabytes to a slow reader is not
			// one write that must end within WriteTimeout.
			chunk = chunk[:min(len(chunk), replayPiece)]
			if _, err := w.Write(chunk); err != nil {
				return
			}
			off += len(chunk)
			if !end {
				if err := w.Flush(); err != nil {
					return
				}
			}
			continue
		}
		if end {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// A turnWriter writes a turn's stream to its log and to the client that
// asked for it, while that client is there. A failed write to the client
// is its going, not the turn's end: the turn runs on for a client to
// resume it.
type turnWriter struct {
	log    *turnLog
	client *clientWriter
	gone   atomic.Bool
	leave  sync.Once
}

func (w *turnWriter) Write(p []byte) (int, error) {
	w.log.write(p)
	if !w.gone.Load() {
		if _, err := w.client.Write(p); err != nil {
			w.left()
		}
	}
	return len(p), nil
}

// Flush sends what is buffered to the client, while it is there.
func (w *turnWriter) Flush() {
	if !w.gone.Load() {
		if err := w.client.Flush(); err != nil {
			w.left()
		}
	}
}

// left marks the client gone, once.
func (w *turnWriter) left() {
	w.leave.Do(func() {
		w.gone.Store(true)
		w.log.detach()
	})
}

// resumeID returns the chat id of a request to resume a stream, and the
// protocol of the client asking: GET {api}?chatId=ID (the AI SDK 4's
// experimental_resume) or GET {api}/ID/stream (the AI SDK 5's resume).
func resumeID(r *http.Request) (string, Protocol, bool) {
	if id := r.URL.Query().Get("chatId"); id != "" {
		return id, DataStream, true
	}
	p := r.URL.EscapedPath()
	rest, ok := strings.CutSuffix(p, "/stream")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", "", false
	}
	id, err := url.PathUnescape(rest[i+1:])
	if err != nil || id == "" {
		return "", "", false
	}
	return id, UIMessageStream, true
}

// resume serves a request to receive a chat's running turn again: the
// stream from its start, then as it comes. When no turn runs, an AI SDK 5+
// client gets 204, which it takes for nothing to resume; AI SDK 4's
// useChat fails on an empty body, so it gets an empty data stream.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request, cw *clientWriter, id string, client Protocol) {
	if len(id) > maxChatIDLength {
		h.refuse(w, badRequest(`the chat "id" is over %d bytes`, maxChatIDLength))
		return
	}
	key := id
	if h.opts.SessionKey != nil {
		key = h.opts.SessionKey(r, id)
	}
	h.mu.Lock()
	var t *turnLog
	if c := h.sessions[key]; c != nil {
		t = c.turn
	}
	h.mu.Unlock()
	if t == nil || !t.attach() {
		if client == DataStream {
			client.setHeaders(w.Header())
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	defer t.detach()
	for k, v := range t.header {
		w.Header()[k] = v
	}
	w.WriteHeader(http.StatusOK)
	t.replay(r.Context(), cw)
}

// preempt cancels the turn of the chat of key when no client receives it
// (its page went away, and has not resumed it), and waits until the chat is
// free, so that a new message takes it rather than meet 409.
func (h *Handler) preempt(ctx context.Context, key string) {
	h.mu.Lock()
	c := h.sessions[key]
	h.mu.Unlock()
	if c != nil {
		h.cancelAbandoned(ctx, c)
	}
}

// preemptAny cancels the turn of one chat that no client receives, when
// there is one, and waits until that chat is free, so that it can make room
// for a new chat. It reports whether it found one.
func (h *Handler) preemptAny(ctx context.Context) bool {
	h.mu.Lock()
	var found *chat
	for _, c := range h.sessions {
		if c.turn != nil && c.turn.abandoned() {
			found = c
			break
		}
	}
	h.mu.Unlock()
	return found != nil && h.cancelAbandoned(ctx, found)
}

// cancelAbandoned cancels the turn of c when no client receives it, and
// waits until c is free or ctx is done. It reports whether it cancelled.
func (h *Handler) cancelAbandoned(ctx context.Context, c *chat) bool {
	h.mu.Lock()
	t := c.turn
	h.mu.Unlock()
	if t == nil || !t.abandoned() {
		return false
	}
	t.cancel()
	select {
	case <-t.released:
	case <-ctx.Done():
	}
	return true
}
