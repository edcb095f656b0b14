package agentbox

import (
	"fmt"
	"regexp"
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
	if b.Len() != 8*1000*int64(len("writer 0\n")) {
		t.Errorf("Len = %d", b.Len())
	}
	// Writes do not interleave: the head is whole lines, the last one cut
	// where the head is full.
	head, _, ok := strings.Cut(b.String(), "\n\n[... ")
	if !ok || len(head) != 512 {
		t.Fatalf("head = %q", head)
	}
	whole := regexp.MustCompile(`^writer [0-7]\n$`)
	lines := strings.SplitAfter(head, "\n")
	for _, line := range lines[:len(lines)-1] {
		if !whole.MatchString(line) {
			t.Errorf("torn write in head: %q", line)
		}
	}
	// 512 = 56 lines of 9 bytes + 8 bytes of the 57th.
	if last := lines[len(lines)-1]; !whole.MatchString(last+"\n") || len(lines) != 57 {
		t.Errorf("the head ends with %q after %d lines; want the start of a 57th write", last, len(lines)-1)
	}
}
