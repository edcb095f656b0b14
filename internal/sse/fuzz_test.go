package sse

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// referenceEvents decodes in by the rules the package documents, the SSE
// rules with lines ending in "\n" or "\r\n": an event is the data of its
// "data" fields (the value after the first colon, less one leading space),
// joined with "\n"; comments and other fields are skipped; a blank line ends
// an event, and so does the end of the stream; events without data are
// dropped.
func referenceEvents(in []byte) []string {
	var (
		events  []string
		data    []byte
		hasData bool
	)
	lines := bytes.Split(in, []byte("\n"))
	for i, line := range lines {
		line = bytes.TrimSuffix(line, []byte("\r"))
		last := i == len(lines)-1 // not ended by "\n": the end of the stream ends the event
		switch {
		case len(line) == 0 && last:
		case len(line) == 0:
			if hasData {
				events = append(events, string(data))
			}
			data, hasData = nil, false
		case line[0] == ':':
		default:
			name, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			if string(name) == "data" {
				if hasData {
					data = append(data, '\n')
				}
				data = append(data, value...)
				hasData = true
			}
		}
	}
	if hasData {
		events = append(events, string(data))
	}
	return events
}

// choppyReader returns the stream in pieces of the sizes it is given, in
// turn, and io.EOF with the last piece when eofWithData is set.
type choppyReader struct {
	data        []byte
	sizes       []byte
	max         int
	n           int
	eofWithData bool
}

func (r *choppyReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	size := 1
	if len(r.sizes) > 0 {
		size += int(r.sizes[r.n%len(r.sizes)]) * r.max / 256
		r.n++
	}
	n := copy(p, r.data[:min(size, len(r.data))])
	r.data = r.data[n:]
	if len(r.data) == 0 && r.eofWithData {
		return n, io.EOF
	}
	return n, nil
}

// decodeAll returns the events of a decoder and the error that ended them.
func decodeAll(d *Decoder) ([]string, error) {
	var got []string
	for {
		data, err := d.Next()
		if err != nil {
			return got, err
		}
		got = append(got, string(data))
	}
}

// FuzzDecoder checks the decoder against referenceEvents: the same events,
// whether the stream comes whole or in pieces of any size (with io.EOF
// apart or with the last piece), then io.EOF, and io.EOF again after it.
// Repeated to over 64 KiB, the input also tests lines longer than the
// decoder's buffer.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("data: a\n\ndata: b\n\n"), []byte{0}, uint8(0))
	f.Add([]byte("data: a\r\n\r\ndata: b\r\n\r\n"), []byte{3, 200}, uint8(0))
	f.Add([]byte(": ping\n\nevent: x\nid: 1\ndata:a\ndata\ndata:  b\n\n\n"), []byte{1}, uint8(1))
	f.Add([]byte("data: a\rdata: b\r\r\n\n"), []byte{}, uint8(0))
	f.Add([]byte("data: unterminated"), []byte{255}, uint8(2))
	f.Add([]byte("data: "), []byte{7}, uint8(255))
	f.Add([]byte("data: a\n"), []byte{9, 0}, uint8(250))
	f.Add([]byte("\xff\xfedata:\x00\n\n:\n"), []byte{5}, uint8(3))
	f.Fuzz(func(t *testing.T, in, sizes []byte, repeat uint8) {
		stream, max := in, 64
		if repeat >= 250 && len(in) > 0 { // long lines
			stream = bytes.Repeat(in, (70<<10)/len(in)+1)
			max = 8 << 10
		} else if repeat > 1 {
			stream = bytes.Repeat(in, int(repeat%8))
		}
		want := referenceEvents(stream)

		whole, err := decodeAll(NewDecoder(bytes.NewReader(stream)))
		if err != io.EOF {
			t.Fatalf("decoding %q: %v, want io.EOF", stream, err)
		}
		if diff := cmp.Diff(want, whole); diff != "" {
			t.Fatalf("events of %q (-reference +decoder):\n%s", stream, diff)
		}

		d := NewDecoder(&choppyReader{data: stream, sizes: sizes, max: max, eofWithData: repeat&1 == 1})
		pieces, err := decodeAll(d)
		if err != io.EOF {
			t.Fatalf("decoding %q in pieces %v: %v, want io.EOF", stream, sizes, err)
		}
		if diff := cmp.Diff(whole, pieces); diff != "" {
			t.Fatalf("events of %q read whole and in pieces %v differ (-whole +pieces):\n%s", stream, sizes, diff)
		}
		if data, err := d.Next(); err != io.EOF || data != nil {
			t.Fatalf("Next after the end = %q, %v; want io.EOF", data, err)
		}
	})
}
