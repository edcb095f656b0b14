package local

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// outputs copies a command's stdout and stderr, each from a pipe, to the
// caller's writers as the command writes them.
type outputs struct {
	readers []*os.File
	writers []*os.File // the pipes' ends the command writes to
	dests   []io.Writer
	wg      sync.WaitGroup
	mu      sync.Mutex // held while writing to a dest: stdout and stderr may be one writer of a type that cannot be compared
}

// newOutputs connects c's stdout and stderr to pipes read into stdout and
// stderr. A nil writer gets nothing (the command writes to /dev/null); one
// writer for both gets one pipe, so its writes stay in order.
//
// When head is set, the start of stderr is also written to it, even when
// stderr is nil.
func newOutputs(c *exec.Cmd, stdout, stderr io.Writer, head *headBuffer) (*outputs, error) {
	shared := sameWriter(stdout, stderr)
	if head != nil {
		stderr = head.tee(stderr)
		if shared {
			stdout = stderr
		}
	}
	o := new(outputs)
	pipe := func(w io.Writer) (*os.File, error) {
		if w == nil {
			return nil, nil
		}
		r, pw, err := os.Pipe()
		if err != nil {
			o.abort()
			return nil, err
		}
		o.readers = append(o.readers, r)
		o.writers = append(o.writers, pw)
		o.dests = append(o.dests, w)
		return pw, nil
	}
	outW, err := pipe(stdout)
	if err != nil {
		return nil, err
	}
	errW := outW
	if !shared {
		if errW, err = pipe(stderr); err != nil {
			return nil, err
		}
	}
	if outW != nil {
		c.Stdout = outW
	}
	if errW != nil {
		c.Stderr = errW
	}
	return o, nil
}

// started closes the command's ends of the pipes in this process and starts
// copying.
func (o *outputs) started() {
	for _, w := range o.writers {
		w.Close()
	}
	for i, r := range o.readers {
		o.wg.Go(func() { o.copy(o.dests[i], r) })
	}
}

// drain waits up to wait for the output to be read to its end, then stops
// reading.
func (o *outputs) drain(wait time.Duration) {
	finished := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(wait):
		for _, r := range o.readers {
			r.Close() // ends the copies' reads
		}
		<-finished
	}
	for _, r := range o.readers {
		r.Close()
	}
}

// abort closes the pipes of a command that did not start.
func (o *outputs) abort() {
	for _, f := range append(o.readers, o.writers...) {
		f.Close()
	}
}

// copy copies r to w until r ends. A failing w is given up on, but r is
// still read to its end, so that the command never blocks on a full pipe.
func (o *outputs) copy(w io.Writer, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 && w != nil {
			o.mu.Lock()
			_, werr := w.Write(buf[:n])
			o.mu.Unlock()
			if werr != nil {
				w = nil
			}
		}
		if err != nil {
			return
		}
	}
}

// sameWriter reports whether a and b are the same writer. Writers of types
// that cannot be compared are different.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a != nil && a == b
}

// headBufferSize is how much of a stream a headBuffer keeps.
const headBufferSize = 1024

// A headBuffer keeps the start of what is written to it.
type headBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := headBufferSize - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.b)
}

// tee returns a writer that writes to h and then to w, unless w is nil.
func (h *headBuffer) tee(w io.Writer) io.Writer {
	if w == nil {
		return h
	}
	return io.MultiWriter(h, w)
}
