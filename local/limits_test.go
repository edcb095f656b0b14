package local_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

// TestLimits checks each limit of local.Limits, with both isolations: the
// defaults a command gets, a limit set lower, and that a command cannot
// raise one.
func TestLimits(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso})
			var nofile syscall.Rlimit
			if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("1048576\n8388608\n%d\n0\n", min(nofile.Max, 65536))
			if got := run(t, sb, "ulimit -f; ulimit -d; ulimit -n; ulimit -c"); got != want {
				t.Errorf("default limits (file size and data in KiB, open files, core) = %q", got)
			}
			sb = newSandbox(t, local.Config{Isolation: iso, Limits: local.Limits{FileSize: 1 << 20, Memory: 256 << 20, OpenFiles: 100}})
			for cmd, want := range map[string]string{
				"head -c 2000000 /dev/zero > big":       "File size limit exceeded",
				`python3 -c 'x = bytearray(512 << 20)'`: "MemoryError",
				"ulimit -n 200":                         "ulimit: open files",
			} {
				var out strings.Builder
				res, err := sb.Run(t.Context(), agentbox.Command{Cmd: cmd, Stdout: &out, Stderr: &out, Timeout: 30 * time.Second})
				if err != nil || res.ExitCode == 0 || !strings.Contains(out.String(), want) {
					t.Errorf("%s: %+v, %v (%q); want a failure saying %q", cmd, res, err, out.String(), want)
				}
			}
			if fi, err := os.Stat(sb.Dir() + "/big"); err != nil || fi.Size() > 1<<20 {
				t.Errorf("a file written past the limit: %v, %v", fi.Size(), err)
			}
			if got := run(t, sb, "ulimit -n"); got != "100\n" {
				t.Errorf("ulimit -n = %q, want 100", got)
			}
			sb = newSandbox(t, local.Config{Isolation: iso, Limits: local.Limits{FileSize: -1, Memory: -1, OpenFiles: -1}})
			if got := run(t, sb, "ulimit -f; ulimit -d"); got != "unlimited\nunlimited\n" {
				t.Errorf("limits turned off: %q", got)
			}
		})
	}
}

// TestForkBombEndsAtItsLimit runs a fork bomb in a bubblewrap sandbox with a
// limit of 200 processes: it is killed for its processes, with an error
// matching local.ErrLimit (not ErrTimeout: its timeout, 2 minutes, is far
// off), and the sandbox runs commands again at once. On an idle machine the
// kill comes within a second; on one whose cores are all busy (CI runs the
// other packages' tests beside it) the limit is counted rarely, and it has
// taken up to 49 s.
func TestForkBombEndsAtItsLimit(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap, Limits: local.Limits{Processes: 200}})
	start := time.Now()
	res, err := sb.Run(t.Context(), agentbox.Command{Cmd: "bomb() { bomb | bomb & }; bomb; sleep 200", Timeout: 2 * time.Minute})
	if !errors.Is(err, local.ErrLimit) || errors.Is(err, agentbox.ErrTimeout) || res.ExitCode != -1 {
		t.Errorf("fork bomb: %+v, %v; want it killed with an error matching ErrLimit", res, err)
	}
	t.Logf("the fork bomb ran %v", time.Since(start))
	if got := run(t, sb, "echo ok"); got != "ok\n" {
		t.Errorf("after the fork bomb: %q", got)
	}
	// A command with many processes, within the limit, is not killed.
	if got := run(t, sb, "for i in $(seq 100); do sleep 0.5 & done; wait; echo done"); got != "done\n" {
		t.Errorf("100 processes: %q", got)
	}
}
