package sse

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// events decodes all of s.
func events(t *testing.T, s string) ([]string, error) {
	t.Helper()
	d := NewDecoder(strings.NewReader(s))
	var got []string
	for {
		data, err := d.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return got, err
		}
		got = append(got, string(data))
	}
}

func TestDecoder(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"lf", "data: a\n\ndata: b\n\n", []string{"a", "b"}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"a", "b"}},
		{"comments and keep-alives", ": OPENROUTER PROCESSING\n\ndata: a\n\n: ping\n\n\n\ndata: b\n\n", []string{"a", "b"}},
		{"multi-line data", "data: a\ndata: b\n\n", []string{"a\nb"}},
		{"no space", "data:a\n\n", []string{"a"}},
		{"other fields", "event: message\nid: 7\nretry: 10\ndata: a\n\n", []string{"a"}},
		{"no final blank line", "data: a\n\ndata: b", []string{"a", "b"}},
		{"no final newline", "data: a\n", []string{"a"}},
		{"event without data", "event: ping\n\ndata: a\n\n", []string{"a"}},
		{"empty data", "data:\n\n", []string{""}},
		{"colon in value", "data: {\"a\":\"b: c\"}\n\n", []string{`{"a":"b: c"}`}},
		{"empty", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events of %q (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDecoderLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	got, err := events(t, "data: "+long+"\r\n\r\ndata: b\n\n")
	if err != nil || len(got) != 2 || got[0] != long || got[1] != "b" {
		t.Errorf("a 200 KB event: %d events, %v", len(got), err)
	}
	_, err = events(t, "data: "+strings.Repeat("x", MaxEventSize+1)+"\n\n")
	if !errors.Is(err, ErrTooLong) {
		t.Errorf("an event over MaxEventSize: %v, want ErrTooLong", err)
	}
}

func BenchmarkDecoder(b *testing.B) {
	event := "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token\"},\"finish_reason\":null}]}\n\n"
	body := strings.Repeat(event, 1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(strings.NewReader(body))
		for {
			if _, err := d.Next(); err != nil {
				break
			}
		}
	}
}
