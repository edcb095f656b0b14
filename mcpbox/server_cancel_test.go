//go:build unix

package mcpbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox/local"
	"github.com/agentbox/agentbox/mcpbox"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestServerStopsACancelledCall cancels a run_command of sleep 30 from the
// client and sees the call end at once and the sleep killed.
func TestServerStopsACancelledCall(t *testing.T) {
	dir := t.TempDir()
	srv := newBoxServer(t, mcpbox.ServerOptions{Open: local.Opener(local.Config{Dir: dir, Isolation: local.None})})
	cs := serveMem(t, srv, nil, nil).ClientSession

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pidFile := filepath.Join(dir, "pid")
	pids := make(chan int, 1)
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			b, err := os.ReadFile(pidFile)
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				pids <- pid
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	start := time.Now()
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_command", Arguments: map[string]any{
		"command": "echo $$ > pid.tmp && mv pid.tmp pid && exec sleep 30",
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the cancelled call took %s", d)
	}
	var pid int
	select {
	case pid = <-pids:
	default:
		t.Fatal("the command never wrote its pid")
	}
	waitFor(t, "the cancelled command's process is gone", func() bool {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	})
	// The session goes on.
	mustCall(t, cs, "run_command", `{"command":"echo still here"}`, "still here")
}
