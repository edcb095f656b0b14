package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

// countNamed returns how many live processes of the machine have name as
// their argv[0] (a dead one not yet reaped has no command line).
func countNamed(name string) int {
	dirs, _ := os.ReadDir("/proc")
	n := 0
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.HasPrefix(cmdline, []byte(name+"\x00")) {
			n++
		}
	}
	return n
}

// startSleepers starts n background processes in sb, each a sleep 1000
// named name, and waits until they all run.
func startSleepers(tb testing.TB, sb *local.Sandbox, n int, name string) []agentbox.Process {
	tb.Helper()
	procs := make([]agentbox.Process, n)
	for i := range procs {
		p, err := sb.StartProcess(context.Background(), agentbox.Command{Cmd: "exec -a " + name + " sleep 1000"})
		if err != nil {
			tb.Fatalf("starting process %d: %v", i, err)
		}
		procs[i] = p
	}
	for deadline := time.Now().Add(60 * time.Second); countNamed(name) < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d processes started", countNamed(name), n)
		}
	}
	return procs
}

// waitAll waits until every one of procs has ended, failing tb if one takes
// longer than a while.
func waitAll(tb testing.TB, procs []agentbox.Process) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range procs {
		if _, err := p.Wait(ctx); err != nil {
			tb.Fatalf("process %s did not end: %v", p.ID(), err)
		}
	}
}

// manyProcesses is how many background processes TestCloseManyProcesses
// closes.
const manyProcesses = 1000

// closeBound bounds how long Close of manyProcesses may take: it takes about
// 0.3 s on a machine with 2 cores; a Close that looks through /proc once per
// process takes over a minute.
const closeBound = 15 * time.Second

func TestCloseManyProcesses(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	name := marker(t)
	procs := startSleepers(t, sb, manyProcesses, name)
	ctx, cancel := context.WithTimeout(t.Context(), closeBound)
	defer cancel()
	start := time.Now()
	err := sb.Close(ctx)
	t.Logf("Close of %d processes: %v", manyProcesses, time.Since(start))
	if err != nil {
		t.Fatalf("Close of %d processes: %v, want nil within %v", manyProcesses, err, closeBound)
	}
	if n := countNamed(name); n > 0 {
		t.Errorf("%d processes still run after Close", n)
	}
	done, cancel := context.WithCancel(t.Context())
	cancel()
	for _, p := range procs {
		if res, err := p.Wait(done); err != nil || res.ExitCode != -1 {
			t.Fatalf("process %s after Close: %+v, %v; want it ended, killed", p.ID(), res, err)
		}
	}
}

func TestCloseHonoursItsContext(t *testing.T) {
	const n = 200
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"short", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(t.Context(), time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: local.None})
			name := marker(t)
			procs := startSleepers(t, sb, n, name)
			ctx, cancel := c.ctx()
			defer cancel()
			start := time.Now()
			err := sb.Close(ctx)
			took := time.Since(start)
			if !errors.Is(err, c.want) {
				t.Errorf("Close = %v, want %v", err, c.want)
			}
			if took > 2*time.Second {
				t.Errorf("Close took %v, want it to return at once", took)
			}
			// The processes are killed all the same.
			waitAll(t, procs)
			if left := countNamed(name); left > 0 {
				t.Errorf("%d processes still run after their end", left)
			}
			if _, err := os.Stat(sb.Dir()); err != nil {
				t.Errorf("the workspace was removed while processes ran: %v", err)
			}
			// Another Close finishes the work.
			if err := sb.Close(t.Context()); err != nil {
				t.Errorf("a second Close: %v", err)
			}
			if _, err := os.Stat(sb.Dir()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the workspace is still there after a second Close: %v", err)
			}
		})
	}
}

// BenchmarkClose measures Close of a sandbox (isolation None) with that many
// background processes running, each a sleep.
func BenchmarkClose(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("processes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				sb, err := local.New(context.Background(), local.Config{Isolation: local.None})
				if err != nil {
					b.Fatal(err)
				}
				name := fmt.Sprintf("agentbox-bench-%d-%d", os.Getpid(), time.Now().UnixNano())
				startSleepers(b, sb, n, name)
				b.StartTimer()
				if err := sb.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
