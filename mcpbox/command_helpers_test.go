package mcpbox_test

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// An httpCommand is cmd/agentbox-mcp serving streamable HTTP.
type httpCommand struct {
	cmd      *exec.Cmd
	endpoint string        // the URL it serves
	lines    chan string   // its standard error, line by line; closed when it ends
	exited   chan error    // its exit, once lines is closed
	done     chan struct{} // closed once the exit was taken
	err      error
}

// startHTTPCommand starts bin -http on a free loopback port with args and
// env added, and waits for it to say where it serves. The command is killed
// when the test ends, if it has not exited by then.
func startHTTPCommand(t *testing.T, bin string, env []string, args ...string) *httpCommand {
	t.Helper()
	c := &httpCommand{
		cmd:    exec.Command(bin, append([]string{"-http", "127.0.0.1:0"}, args...)...),
		lines:  make(chan string, 100),
		exited: make(chan error, 1),
		done:   make(chan struct{}),
	}
	c.cmd.Env = append(os.Environ(), env...)
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default: // nobody reads: the line is dropped
			}
		}
		close(c.lines)
		c.exited <- c.cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			c.wait()
		}
	})
	select {
	case line := <-c.lines:
		i := strings.Index(line, "http://")
		if i < 0 {
			t.Fatalf("agentbox-mcp said %q, want the address it serves", line)
		}
		c.endpoint = line[i:]
	case <-time.After(30 * time.Second):
		t.Fatal("agentbox-mcp did not say where it serves")
	}
	return c
}

// wait drains the command's standard error and returns its exit.
func (c *httpCommand) wait() error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	for range c.lines {
	}
	c.err = <-c.exited
	close(c.done)
	return c.err
}

// interrupt sends SIGINT and waits up to limit for the command to exit,
// failing t when it does not, and returns its exit.
func (c *httpCommand) interrupt(t *testing.T, limit time.Duration) error {
	t.Helper()
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { c.cmd.Process.Kill() })
	defer timer.Stop()
	err := c.wait()
	if !timer.Stop() {
		t.Errorf("agentbox-mcp did not exit within %v of SIGINT", limit)
	}
	return err
}
