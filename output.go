package agentbox

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds of the batching of a tool call's output into ToolOutput events.
const (
	// OutputBatchBytes is the most output one ToolOutput event gathers from
	// a tool's writes: a write of that size or more is an event of its own.
	OutputBatchBytes = 32 << 10
	// OutputBatchDelay is the longest a write to [Env.Stdout] or
	// [Env.Stderr] waits before its ToolOutput event is sent.
	OutputBatchDelay = 50 * time.Millisecond
)

// outputBatch gathers the writes of a tool call to its Env's Stdout and
// Stderr into fewer ToolOutput events, so that a command writing a byte at a
// time does not make an event per byte. A batch holds writes of one stream,
// in order; it is sent when a write of the other stream comes (so the
// streams interleave as written), when it would pass OutputBatchBytes, when
// OutputBatchDelay has passed since its first write, before a Preview event,
// and when the call returns, before its ToolResult. Its methods are called
// with the Env's mu held.
type outputBatch struct {
	stream  string
	pending []byte
	timer   *time.Timer // sends the batch once OutputBatchDelay has passed
}

// add adds p, written to stream, to the batch, sending what it held first
// when p is of another stream or would make it too large.
func (b *outputBatch) add(e *Env, stream string, p []byte) {
	if len(b.pending) > 0 && (stream != b.stream || len(b.pending)+len(p) > OutputBatchBytes) {
		b.flush(e)
	}
	if len(p) >= OutputBatchBytes {
		e.emit(ToolOutput{Step: e.step, ID: e.id, Stream: stream, Text: string(p)})
		return
	}
	if len(b.pending) == 0 {
		b.stream = stream
		if b.timer == nil {
			b.timer = time.AfterFunc(OutputBatchDelay, func() {
				e.mu.Lock()
				defer e.mu.Unlock()
				if !e.closed {
					b.flush(e)
				}
			})
		} else {
			b.timer.Reset(OutputBatchDelay)
		}
	}
	b.pending = append(b.pending, p...)
}

// flush sends what the batch holds.
func (b *outputBatch) flush(e *Env) {
	if len(b.pending) == 0 {
		return
	}
	text := string(b.pending)
	b.pending = b.pending[:0]
	if e.emit != nil {
		e.emit(ToolOutput{Step: e.step, ID: e.id, Stream: b.stream, Text: text})
	}
}

// end sends what the batch holds, once the call has returned, and stops
// its timer.
func (b *outputBatch) end(e *Env) {
	b.flush(e)
	if b.timer != nil {
		b.timer.Stop()
	}
	b.pending = nil
}

// capText returns s if it has at most max bytes, else its head and tail with
// a marker saying how much was left out between them.
func capText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	head, tail := max/2, max-max/2
	return joinCut(s[:head], s[len(s)-tail:], len(s)-head-tail)
}

// joinCut joins a head and a tail around the marker for omitted bytes,
// trimming the runes the cuts split.
func joinCut(head, tail string, omitted int) string {
	for i := len(head) - 1; i >= 0 && i >= len(head)-utf8.UTFMax; i-- {
		if utf8.RuneStart(head[i]) {
			if !utf8.FullRuneInString(head[i:]) {
				omitted += len(head) - i
				head = head[:i]
			}
			break
		}
	}
	for len(tail) > 0 && !utf8.RuneStart(tail[0]) {
		tail = tail[1:]
		omitted++
	}
	return fmt.Sprintf("%s\n\n[... %d bytes omitted ...]\n\n%s", head, omitted, tail)
}

// capBuffer is a writer that keeps the first and the last bytes written to it,
// up to max in all, whatever the amount written. It is safe for concurrent
// use.
type capBuffer struct {
	mu    sync.Mutex
	max   int
	head  []byte
	ring  []byte // the last bytes, circular once full
	next  int    // where the ring's next byte goes
	total int64
}

func newCapBuffer(max int) *capBuffer {
	return &capBuffer{max: max}
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	b.total += int64(n)
	if room := b.max/2 - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	tailMax := b.max - b.max/2
	if len(p) > tailMax {
		p = p[len(p)-tailMax:]
	}
	for len(p) > 0 {
		if len(b.ring) < tailMax {
			k := min(tailMax-len(b.ring), len(p))
			b.ring = append(b.ring, p[:k]...)
			p = p[k:]
			continue
		}
		k := copy(b.ring[b.next:], p)
		b.next = (b.next + k) % tailMax
		p = p[k:]
	}
	return n, nil
}

// Len is the number of bytes written.
func (b *capBuffer) Len() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// String returns what was written, or its head and tail with a marker.
func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var tail strings.Builder
	tail.Write(b.ring[b.next:])
	tail.Write(b.ring[:b.next])
	kept := int64(len(b.head) + tail.Len())
	if kept == b.total {
		return string(b.head) + tail.String()
	}
	return joinCut(string(b.head), tail.String(), int(b.total-kept))
}
