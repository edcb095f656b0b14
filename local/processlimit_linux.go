package local

import (
	"fmt"
	"os"
	"time"
)

// Bounds of how often the processes of a command are counted: seldom while
// they are few, often once they near the limit.
const (
	countEvery     = 50 * time.Millisecond
	countEveryNear = 2 * time.Millisecond
)

// limitProcesses counts, until p is done, the processes of the bubblewrap
// sandbox whose first process is pid, and kills p when they are more than
// limit.
func limitProcesses(p *proc, pid, limit int) {
	proc := fmt.Sprintf("/proc/%d/root/proc", pid)
	t := time.NewTimer(countEveryNear)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		n, ok := countProcesses(proc)
		if !ok {
			return // the sandbox has ended
		}
		if n > limit {
			p.kill(fmt.Errorf("local: %w: the command had more than %d processes at once (Limits.Processes) and was killed", ErrLimit, limit))
			return
		}
		if n > limit/4 {
			t.Reset(countEveryNear)
		} else {
			t.Reset(countEvery)
		}
	}
}

// countProcesses counts the processes listed in the proc file system
// mounted at dir, and reports whether it could read it.
func countProcesses(dir string) (int, bool) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(1024)
		for _, name := range names {
			if name[0] >= '1' && name[0] <= '9' {
				n++
			}
		}
		if err != nil {
			return n, n > 0
		}
	}
}
