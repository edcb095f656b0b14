// Package sse reads server-sent events (the text/event-stream format), as
// model servers stream them: it hands out the data of each event and skips
// comments, such as keep-alive lines, and the other fields.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxEventSize bounds an event's data: a longer one is an error rather than
// unbounded memory.
const MaxEventSize = 8 << 20

// ErrTooLong means an event's data is longer than MaxEventSize.
var ErrTooLong = errors.New("sse: event too long")

// A Decoder reads events from a stream. Lines end with "\n" or "\r\n".
type Decoder struct {
	r    *bufio.Reader
	data []byte // the data of the event being read
	line []byte // a line longer than the reader's buffer, put together
	eof  bool
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	// A small buffer: a stream's events are short, a longer line is put
	// together in d.line, and each of many concurrent streams holds one.
	return &Decoder{r: bufio.NewReaderSize(r, 4<<10)}
}

// Next returns the data of the next event that has some, its lines joined
// with "\n". The slice is valid until the next call. At the end of the stream
// it returns io.EOF; an event cut short by the end of the stream (without
// the blank line that ends it) is returned first.
func (d *Decoder) Next() ([]byte, error) {
	if d.eof {
		return nil, io.EOF
	}
	d.data = d.data[:0]
	hasData := false
	for {
		line, err := d.readLine()
		if len(line) == 0 && err == nil { // the blank line that ends an event
			if hasData {
				return d.data, nil
			}
			continue
		}
		if len(line) > 0 && line[0] != ':' { // not a comment
			name, value, found := bytes.Cut(line, []byte{':'})
			if found && len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
			if string(name) == "data" {
				if hasData {
					d.data = append(d.data, '\n')
				}
				if len(d.data)+len(value) > MaxEventSize {
					return nil, ErrTooLong
				}
				d.data = append(d.data, value...)
				hasData = true
			}
		}
		if err == io.EOF {
			d.eof = true
			if hasData {
				return d.data, nil
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// readLine returns the next line without its end. At the end of the stream
// it returns io.EOF, with what it read of an unfinished line.
func (d *Decoder) readLine() ([]byte, error) {
	line, err := d.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		d.line = append(d.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(d.line) > MaxEventSize {
				return nil, ErrTooLong
			}
			line, err = d.r.ReadSlice('\n')
			d.line = append(d.line, line...)
		}
		line = d.line
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return line, err
}
