package agentbox

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

func TestProcessLogKeepsTheLastBytes(t *testing.T) {
	l := &processLog{id: "p1"}
	fmt.Fprint(l, "hello\n")
	if got := l.read(1 << 20); got != "Process p1 is running.\nOutput since it started:\nhello\n" {
		t.Errorf("first read = %q", got)
	}
	// Writes of every size around the ring's, and runes cut by its end.
	var all strings.Builder
	for i, size := range []int{1, ProcessLogBytes - 1, 3, ProcessLogBytes + 7, 100, 2 * ProcessLogBytes} {
		chunk := strings.Repeat(string(rune('a'+i)), size)
		if i == 4 {
			chunk = strings.Repeat("é", size/2)
		}
		all.WriteString(chunk)
		fmt.Fprint(l, chunk)
	}
	fmt.Fprint(l, "日本語 the end")
	all.WriteString("日本語 the end")
	got := l.read(1 << 20)
	want := all.String()[all.Len()-ProcessLogBytes:]
	if !strings.HasSuffix(got, want) || !strings.Contains(got, fmt.Sprintf("[... %d earlier bytes were not kept ...]\n", all.Len()-ProcessLogBytes)) {
		t.Errorf("read after %d bytes = %q…; want the last %d bytes and a note of the rest", all.Len(), got[:200], ProcessLogBytes)
	}
	// A cut rune at the start of what was kept is dropped too.
	l2 := &processLog{id: "p2"}
	fmt.Fprint(l2, strings.Repeat("é", ProcessLogBytes)) // 2 bytes each
	fmt.Fprint(l2, "x")                                  // the ring now starts in the middle of an é
	got = l2.read(1 << 20)
	body := got[strings.Index(got, "kept ...]\n")+len("kept ...]\n"):]
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "éx") || len(body) != ProcessLogBytes-1 {
		t.Errorf("read after a cut rune: valid %v, %d bytes kept, ends %q", utf8.ValidString(got), len(body), got[len(got)-10:])
	}
	// The result is capped to the limit given, head and tail.
	fmt.Fprint(l, strings.Repeat("z", 50_000))
	if got := l.read(1000); len(got) > 1100 || !strings.Contains(got, "bytes omitted") {
		t.Errorf("read capped to 1000 = %d bytes: %q", len(got), got)
	}
	if got := l.read(1000); !strings.HasSuffix(got, "No new output since the last read.") {
		t.Errorf("read with nothing new = %q", got)
	}
}

// fakeStarter is a ProcessStarter whose processes run until finished.
type fakeStarter struct {
	Sandbox // nil: only StartProcess is used
	mu      sync.Mutex
	n       int
	procs   []*fakeProcess
}

type fakeProcess struct {
	id   string
	done chan struct{}
}

func (p *fakeProcess) ID() string { return p.id }

func (p *fakeProcess) Wait(ctx context.Context) (Result, error) {
	select {
	case <-p.done:
		return Result{ExitCode: 7}, nil
	case <-ctx.Done():
		return Result{ExitCode: -1}, ctx.Err()
	}
}

func (s *fakeStarter) StartProcess(ctx context.Context, cmd Command) (Process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	p := &fakeProcess{id: fmt.Sprintf("f%d", s.n), done: make(chan struct{})}
	s.procs = append(s.procs, p)
	fmt.Fprintf(cmd.Stdout, "started %s\n", p.id)
	return p, nil
}

func (s *fakeStarter) StopProcess(ctx context.Context, id string) error { return nil }

// TestProcessLogsGoWithTheSandbox checks that the logs of a sandbox are
// dropped once the sandbox value is garbage, and their watches end.
func TestProcessLogsGoWithTheSandbox(t *testing.T) {
	before := processLogs.sandboxes()
	sb := &fakeStarter{}
	var procs []*fakeProcess
	for range 3 {
		if _, err := startLogged(t.Context(), sb, Command{}); err != nil {
			t.Fatal(err)
		}
	}
	procs = sb.procs
	close(procs[0].done) // one exits
	l, _ := processLogs.find(sb, "f1")
	if l == nil {
		t.Fatal("no log for f1")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := l.await(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := l.read(1 << 10); !strings.Contains(got, "has exited with code 7.") || !strings.Contains(got, "started f1\n") {
		t.Errorf("log of the exited f1 = %q", got)
	}
	if n := processLogs.sandboxes(); n != before+1 {
		t.Fatalf("%d sandboxes have logs, want %d", n, before+1)
	}
	sb = nil
	for i := 0; processLogs.sandboxes() > before; i++ {
		if i == 100 {
			t.Fatalf("the logs of a sandbox that is garbage are still kept")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(procs) // still running: their watches ended with the logs (goleak checks)
}

func TestProcessOutputWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &processLog{id: "p1"}
		go func() {
			time.Sleep(2 * time.Second)
			fmt.Fprint(l, "a")
			time.Sleep(50 * time.Millisecond)
			fmt.Fprint(l, "b")
			time.Sleep(500 * time.Millisecond)
			fmt.Fprint(l, "late")
		}()
		start := time.Now()
		if err := l.await(t.Context(), 10*time.Second); err != nil {
			t.Fatal(err)
		}
		// Output came at 2 s, more at 2.05 s, then 100 ms of quiet.
		if d := time.Since(start); d != 2150*time.Millisecond {
			t.Errorf("await returned after %v, want 2.15s", d)
		}
		if got := l.read(100); !strings.HasSuffix(got, ":\nab") {
			t.Errorf("read = %q", got)
		}
		synctest.Wait()
		time.Sleep(time.Second)
		// Nothing comes: the wait ends at its bound.
		start = time.Now()
		l.read(100)
		if err := l.await(t.Context(), 3*time.Second); err != nil || time.Since(start) != 3*time.Second {
			t.Errorf("await with no output = %v after %v, want nil after 3s", err, time.Since(start))
		}
		// A flood settles within processOutputMost.
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
					fmt.Fprint(l, "y")
				}
			}
		}()
		start = time.Now()
		l.await(t.Context(), 10*time.Second)
		if d := time.Since(start); d > 10*time.Millisecond+processOutputMost {
			t.Errorf("await of a flood took %v", d)
		}
		close(stop)
		// A cancelled wait says so.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := l.await(ctx, time.Second); err == nil {
			t.Error("await with a cancelled context returned no error")
		}
	})
}

// emitted returns an Env whose events are appended to a slice.
func emitted() (*Env, func() []Event) {
	var mu sync.Mutex
	var evs []Event
	e := &Env{step: 1, id: "c1", emit: func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		evs = append(evs, ev)
	}}
	return e, func() []Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), evs...)
	}
}

func TestOutputBatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, events := emitted()
		out, errw := e.Stdout(), e.Stderr()
		for _, c := range "hello" {
			out.Write([]byte(string(c)))
		}
		time.Sleep(OutputBatchDelay - time.Millisecond)
		synctest.Wait()
		if n := len(events()); n != 0 {
			t.Fatalf("%d events before the batch delay, want none", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := events(); len(got) != 1 || got[0] != (ToolOutput{Step: 1, ID: "c1", Stream: "stdout", Text: "hello"}) {
			t.Fatalf("events after the batch delay = %v, want one of hello", got)
		}
		// Streams interleave as written; a Preview and the end of the call
		// send what is pending first.
		out.Write([]byte("1"))
		errw.Write([]byte("2"))
		out.Write([]byte("3"))
		e.Preview(80, "http://x")
		out.Write([]byte("4"))
		e.close()
		out.Write([]byte("after"))
		time.Sleep(time.Second)
		want := []Event{
			ToolOutput{Step: 1, ID: "c1", Stream: "stdout", Text: "1"},
			ToolOutput{Step: 1, ID: "c1", Stream: "stderr", Text: "2"},
			ToolOutput{Step: 1, ID: "c1", Stream: "stdout", Text: "3"},
			Preview{Step: 1, ID: "c1", Port: 80, URL: "http://x"},
			ToolOutput{Step: 1, ID: "c1", Stream: "stdout", Text: "4"},
		}
		if got := events()[1:]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events = %v, want %v", got, want)
		}
	})
}

func TestOutputBatchSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, events := emitted()
		out := e.Stdout()
		one := []byte("x")
		for range 3*OutputBatchBytes + 10 {
			out.Write(one)
		}
		// No time passed: only full batches were sent.
		got := events()
		if len(got) != 3 {
			t.Fatalf("%d events after 3 batches' worth of 1-byte writes, want 3", len(got))
		}
		for _, ev := range got {
			if n := len(ev.(ToolOutput).Text); n != OutputBatchBytes {
				t.Errorf("a batch of %d bytes, want %d", n, OutputBatchBytes)
			}
		}
		// A large write is an event of its own, after what was pending.
		big := strings.Repeat("b", 2*OutputBatchBytes)
		out.Write([]byte(big))
		e.close()
		got = events()[3:]
		if len(got) != 2 || got[0].(ToolOutput).Text != "xxxxxxxxxx" || got[1].(ToolOutput).Text != big {
			t.Errorf("after a large write: %d events", len(got))
		}
	})
}
