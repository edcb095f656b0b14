package local_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

// isolations are the isolation levels every behaviour is tested with.
var isolations = []local.Isolation{local.None, local.Bubblewrap}

// needBubblewrap skips t when bwrap is not installed, unless in CI, where
// .ci/run installs it and the tests must run.
func needBubblewrap(t *testing.T, iso local.Isolation) {
	t.Helper()
	if iso != local.Bubblewrap {
		return
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("bwrap is not installed, but CI must test bubblewrap isolation: %v", err)
		}
		t.Skipf("bwrap is not installed (apt-get install bubblewrap): %v", err)
	}
}

// newSandbox makes a sandbox with cfg, closed when t ends.
func newSandbox(t *testing.T, cfg local.Config) *local.Sandbox {
	t.Helper()
	needBubblewrap(t, cfg.Isolation)
	sb, err := local.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sb.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if got := sb.Isolation(); got != cfg.Isolation {
		t.Fatalf("Isolation() = %v, want %v", got, cfg.Isolation)
	}
	return sb
}

// run runs cmdline in sb and returns its stdout, failing t unless it exits 0.
func run(t *testing.T, sb agentbox.Sandbox, cmdline string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	res, err := sb.Run(t.Context(), agentbox.Command{Cmd: cmdline, Stdout: &stdout, Stderr: &stderr, Timeout: 30 * time.Second})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run(%q) = %+v, %v; stdout %q, stderr %q", cmdline, res, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
