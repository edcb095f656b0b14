package agentbox

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestCapText(t *testing.T) {
	if got := capText("short", 10); got != "short" {
		t.Errorf("capText kept %q", got)
	}
	got := capText("0123456789abcdefghij", 10)
	if want := "01234\n\n[... 10 bytes omitted ...]\n\nfghij"; got != want {
		t.Errorf("capText = %q, want %q", got, want)
	}
	// Cuts inside multi-byte runes drop the partial runes.
	s := strings.Repeat("日本", 10)
	got = capText(s, 10)
	if !utf8.ValidString(got) || !strings.HasPrefix(got, "日") || !strings.HasSuffix(got, "本") {
		t.Errorf("capText split a rune: %q", got)
	}
}

func TestCapBuffer(t *testing.T) {
	for _, sizes := range [][]int{{1}, {3, 7, 1}, {100}, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, {64, 1, 64}} {
		var all strings.Builder
		b := newCapBuffer(20)
		n := 0
		for _, size := range sizes {
			var p strings.Builder
			for range size {
				p.WriteByte(byte('a' + n%26))
				n++
			}
			all.WriteString(p.String())
			b.Write([]byte(p.String()))
		}
		if want := capText(all.String(), 20); b.String() != want {
			t.Errorf("writes %v: String() = %q, want %q", sizes, b.String(), want)
		}
		if b.Len() != int64(n) {
			t.Errorf("Len() = %d, want %d", b.Len(), n)
		}
	}
}

func TestCapBufferConcurrentWrites(t *testing.T) {
	b := newCapBuffer(1 << 10)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				fmt.Fprintf(b, "writer %d\n", i)
			}
		})
	}
	wg.Wait()
	if b.Len() != 8*1000*int64(len("writer 0\n")) || !strings.Contains(b.String(), "bytes omitted") {
		t.Errorf("Len = %d", b.Len())
	}
}
