//go:build linux

package local

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSignalChecksTheSession signals a process as a member of a session it
// is not in, as a PID reused by another process would be: it is left alone.
// Signalled as a member of its own session, it dies.
func TestSignalChecksTheSession(t *testing.T) {
	c := exec.Command("sleep", "60")
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	defer c.Process.Kill()
	pid := c.Process.Pid // the leader of its own session: sid == pid
	signal(pid+1_000_000, pid, unix.SIGKILL)
	select {
	case err := <-done:
		t.Fatalf("a process signalled as a member of another session died: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	signal(pid, pid, unix.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a process signalled as a member of its own session lives on")
	}
}
