package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/local"
)

// marker returns a name no other process on the machine has.
func marker(t *testing.T) string {
	return fmt.Sprintf("agentbox-test-%d-%d", os.Getpid(), time.Now().UnixNano())
}

// grandchild is a command line that leaves, in the background, a grandchild
// sleep 1000 whose argv[0] is name.
func grandchild(name string) string {
	return fmt.Sprintf("(exec -a %s sleep 1000) & ", name)
}

// processesNamed returns the PIDs of the processes of the machine whose
// argv[0] is name.
func processesNamed(t *testing.T, name string) []string {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var pids []string
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.HasPrefix(cmdline, []byte(name+"\x00")) {
			pids = append(pids, d.Name())
		}
	}
	return pids
}

// waitProcesses waits until the number of processes named name is zero
// (gone) or not (running), failing t after a while.
func waitProcesses(t *testing.T, name string, running bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := processesNamed(t, name)
		if (len(pids) > 0) == running {
			return
		}
		if time.Now().After(deadline) {
			if running {
				t.Fatalf("no process %s started", name)
			}
			t.Fatalf("process %s (PIDs %v) is still running", name, pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNothingACommandStartsSurvivesIt(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso})
			t.Run("cancelled", func(t *testing.T) {
				name := marker(t)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				go func() {
					waitProcesses(t, name, true)
					cancel()
				}()
				res, err := sb.Run(ctx, agentbox.Command{Cmd: grandchild(name) + "sleep 1000"})
				if !errors.Is(err, context.Canceled) || res.ExitCode != -1 {
					t.Errorf("Run cancelled = %+v, %v; want exit code -1 and context.Canceled", res, err)
				}
				waitProcesses(t, name, false)
			})
			t.Run("timed out", func(t *testing.T) {
				name := marker(t)
				res, err := sb.Run(t.Context(), agentbox.Command{Cmd: grandchild(name) + "sleep 1000", Timeout: 500 * time.Millisecond})
				if !errors.Is(err, agentbox.ErrTimeout) || res.ExitCode != -1 {
					t.Errorf("Run timed out = %+v, %v; want exit code -1 and agentbox.ErrTimeout", res, err)
				}
				waitProcesses(t, name, false)
			})
			t.Run("exited", func(t *testing.T) {
				name := marker(t)
				// The shell exits at once, leaving its grandchild behind
				// (holding the output pipe open).
				cmd := grandchild(name) + fmt.Sprintf(`for i in $(seq 100); do IFS= read -r -d '' a0 < /proc/$!/cmdline; [ "$a0" = %s ] && exit 7; sleep 0.05; done; exit 1`, name)
				res, err := sb.Run(t.Context(), agentbox.Command{Cmd: cmd, Stdout: io.Discard})
				if err != nil || res.ExitCode != 7 {
					t.Fatalf("Run = %+v, %v; want exit code 7 (the grandchild seen running)", res, err)
				}
				waitProcesses(t, name, false)
			})
			t.Run("background process stopped", func(t *testing.T) {
				name := marker(t)
				p, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: grandchild(name) + "sleep 1000"})
				if err != nil {
					t.Fatal(err)
				}
				waitProcesses(t, name, true)
				if err := sb.StopProcess(t.Context(), p.ID()); err != nil {
					t.Fatalf("StopProcess: %v", err)
				}
				waitProcesses(t, name, false)
			})
		})
	}
}

func TestCloseKillsEverything(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso})
			running, background := marker(t)+"-run", marker(t)+"-bg"
			if _, err := sb.StartProcess(t.Context(), agentbox.Command{Cmd: grandchild(background) + "sleep 1000"}); err != nil {
				t.Fatal(err)
			}
			type ran struct {
				res agentbox.Result
				err error
			}
			runs := make(chan ran, 1)
			go func() {
				res, err := sb.Run(t.Context(), agentbox.Command{Cmd: grandchild(running) + "sleep 1000"})
				runs <- ran{res, err}
			}()
			waitProcesses(t, running, true)
			waitProcesses(t, background, true)
			if err := sb.Close(t.Context()); err != nil {
				t.Fatalf("Close: %v", err)
			}
			r := <-runs
			if !errors.Is(r.err, agentbox.ErrClosed) || r.res.ExitCode != -1 {
				t.Errorf("Run during Close = %+v, %v; want exit code -1 and agentbox.ErrClosed", r.res, r.err)
			}
			waitProcesses(t, running, false)
			waitProcesses(t, background, false)
		})
	}
}

func TestBubblewrapKillsProcessesThatLeaveTheGroup(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.Bubblewrap})
	name := marker(t)
	cmd := fmt.Sprintf("setsid bash -c 'exec -a %s sleep 1000' </dev/null >/dev/null 2>&1 & sleep 1000", name)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		waitProcesses(t, name, true)
		cancel()
	}()
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: cmd}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run cancelled: %v, want context.Canceled", err)
	}
	waitProcesses(t, name, false)
}

func TestHostSecretsNeverReachCommands(t *testing.T) {
	secrets := map[string]string{
		"OPENROUTER_API_KEY":    "sk-or-v1-not-a-real-key-0123456789",
		"E2B_API_KEY":           "e2b_not_a_real_key_0123456789",
		"AWS_SECRET_ACCESS_KEY": "not-a-real-aws-secret",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso, Env: map[string]string{"FROM_CONFIG": "c", "SHARED": "config"}})
			out := run(t, sb, "env; cat /proc/self/environ")
			for k, v := range secrets {
				if strings.Contains(out, k) || strings.Contains(out, v) {
					t.Errorf("the command saw %s:\n%s", k, out)
				}
			}
			var stdout bytes.Buffer
			_, err := sb.Run(t.Context(), agentbox.Command{
				Cmd:    `echo "$FROM_CONFIG $SHARED $FROM_COMMAND $HOME"; shopt -q login_shell && echo login`,
				Env:    map[string]string{"SHARED": "command", "FROM_COMMAND": "x"},
				Stdout: &stdout,
			})
			if err != nil {
				t.Fatal(err)
			}
			fields := strings.Fields(stdout.String())
			if len(fields) != 5 || fields[0] != "c" || fields[1] != "command" || fields[2] != "x" || fields[4] != "login" {
				t.Errorf("a command printed %q, want the config's and the command's variables (the command's winning), HOME, and a login shell", stdout.String())
			}
			if home := fields[3]; strings.HasPrefix(sb.Dir(), home) || home == os.Getenv("HOME") {
				t.Errorf("HOME = %q, want a private folder, neither the host's HOME nor one holding the workspace", home)
			}
			run(t, sb, `touch "$HOME/.npmrc" "$TMPDIR/x"`) // HOME and TMPDIR are writable
		})
	}
}

func TestOutputStreamsAsItIsWritten(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso})
			first := make(chan string, 1)
			var written atomic.Bool
			w := writer(func(p []byte) (int, error) {
				if written.CompareAndSwap(false, true) {
					first <- string(p)
				}
				return len(p), nil
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errs := make(chan error, 1)
			go func() {
				_, err := sb.Run(ctx, agentbox.Command{Cmd: "echo first; sleep 1000", Stdout: w})
				errs <- err
			}()
			select {
			case got := <-first:
				if got != "first\n" {
					t.Errorf("first write = %q, want %q", got, "first\n")
				}
			case err := <-errs:
				t.Fatalf("Run returned (%v) before its first line was streamed", err)
			}
			cancel()
			<-errs
		})
	}
}

// writer is an io.Writer made of a function.
type writer func([]byte) (int, error)

func (w writer) Write(p []byte) (int, error) { return w(p) }

func TestHugeAndUnwantedOutput(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			sb := newSandbox(t, local.Config{Isolation: iso})
			var n atomic.Int64
			counter := writer(func(p []byte) (int, error) { n.Add(int64(len(p))); return len(p), nil })
			const size = 100 << 20
			res, err := sb.Run(t.Context(), agentbox.Command{Cmd: fmt.Sprintf("head -c %d /dev/zero", size), Stdout: counter})
			if err != nil || res.ExitCode != 0 || n.Load() != size {
				t.Errorf("100 MB of output: %+v, %v, %d bytes streamed; want all of it", res, err, n.Load())
			}
			// A writer that fails is given up on; the command still runs to
			// its end instead of blocking on a full pipe.
			failing := writer(func([]byte) (int, error) { return 0, errors.New("disk full") })
			res, err = sb.Run(t.Context(), agentbox.Command{Cmd: "head -c 10000000 /dev/zero; echo done >&2; exit 3", Stdout: failing, Stderr: failing, Timeout: 30 * time.Second})
			if err != nil || res.ExitCode != 3 {
				t.Errorf("a command whose output writer fails = %+v, %v; want exit code 3", res, err)
			}
			// One writer of a type that cannot be compared, for both
			// streams, is written to by one goroutine at a time.
			var b bytes.Buffer
			f := writer(b.Write)
			if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "for i in $(seq 200); do echo out; echo err >&2; done", Stdout: f, Stderr: f}); err != nil || b.Len() != 1600 {
				t.Errorf("func writers: %v, wrote %q", err, b.String())
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	sb := newSandbox(t, local.Config{Isolation: local.None})
	ctx := t.Context()
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: "true", Dir: "missing"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Run in a missing Dir: %v, want fs.ErrNotExist", err)
	}
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "file"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: "true", Dir: "file"}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Run in a Dir that is a file: %v, want an error saying it is not a directory", err)
	}
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: "true", Env: map[string]string{"A=B": "c"}}); err == nil {
		t.Error("Run with a variable named A=B: no error")
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if res, err := sb.Run(done, agentbox.Command{Cmd: "touch ran"}); !errors.Is(err, context.Canceled) || res.ExitCode != -1 {
		t.Errorf("Run with a cancelled ctx = %+v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(sb.Dir(), "ran")); err == nil {
		t.Error("a command ran although its ctx was cancelled")
	}
}
