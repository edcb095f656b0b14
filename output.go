package agentbox

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

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
