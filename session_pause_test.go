package agentbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// pausable is an agentboxtest.Sandbox that can pause, as E2B's can. While
// it is paused its methods fail and count the use, and its lifetime cannot
// be set: E2B answers that as for a sandbox that is gone.
type pausable struct {
	*agentboxtest.Sandbox
	pauseTakes time.Duration // how long a pause takes

	mu         sync.Mutex
	pauseErr   error // the next pause fails with it, after pausing when paused is set
	pauseFails bool  // …without pausing
	resumeErr  error // the next resume fails with it
	paused     bool
	pauses     int
	resumes    int
	misuses    int // calls while paused
}

var _ agentbox.Pauser = (*pausable)(nil)

func (p *pausable) Pause(ctx context.Context) error {
	select {
	case <-time.After(p.pauseTakes):
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.pauseErr; err != nil {
		p.pauseErr = nil
		if !p.pauseFails {
			p.paused = true
		}
		return err
	}
	if !p.paused {
		p.pauses++
	}
	p.paused = true
	return nil
}

func (p *pausable) Resume(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.resumeErr; err != nil {
		p.resumeErr = nil
		return err
	}
	if p.paused {
		p.resumes++
	}
	p.paused = false
	return nil
}

// awake fails while the sandbox is paused.
func (p *pausable) awake() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.misuses++
		return errors.New("used while paused")
	}
	return nil
}

func (p *pausable) Run(ctx context.Context, cmd agentbox.Command) (agentbox.Result, error) {
	if err := p.awake(); err != nil {
		return agentbox.Result{ExitCode: -1}, err
	}
	return p.Sandbox.Run(ctx, cmd)
}

func (p *pausable) WriteFiles(ctx context.Context, files []agentbox.File) error {
	if err := p.awake(); err != nil {
		return err
	}
	return p.Sandbox.WriteFiles(ctx, files)
}

func (p *pausable) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := p.awake(); err != nil {
		return nil, err
	}
	return p.Sandbox.Open(ctx, name)
}

func (p *pausable) List(ctx context.Context, dir string) ([]agentbox.FileInfo, error) {
	if err := p.awake(); err != nil {
		return nil, err
	}
	return p.Sandbox.List(ctx, dir)
}

func (p *pausable) SetLifetime(ctx context.Context, d time.Duration) error {
	if err := p.awake(); err != nil {
		return fmt.Errorf("%w: %w", agentbox.ErrSandboxGone, err)
	}
	return p.Sandbox.SetLifetime(ctx, d)
}

// counts returns the pauses, resumes and uses while paused so far, and
// whether it is paused now.
func (p *pausable) counts() (pauses, resumes, misuses int, paused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pauses, p.resumes, p.misuses, p.paused
}

// pausables is an Opener making pausable sandboxes.
type pausables struct {
	pauseTakes time.Duration
	mu         sync.Mutex
	made       []*pausable
}

func (o *pausables) open(context.Context) (agentbox.Sandbox, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := &pausable{Sandbox: agentboxtest.NewSandbox(), pauseTakes: o.pauseTakes}
	o.made = append(o.made, p)
	return p, nil
}

func (o *pausables) all() []*pausable {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*pausable(nil), o.made...)
}

// writeThenRead is a provider whose first turn writes a.txt and whose
// second reads it.
func writeThenRead() *agentboxtest.Provider {
	return agentboxtest.NewProvider(
		calls(writeFile("w", "a.txt", "kept")), agentboxtest.Reply("Written."),
		calls(call("r", "read_file", `{"path":"a.txt"}`)), agentboxtest.Reply("It says kept."),
	)
}

// TestSessionPausesItsIdleSandbox leaves a session idle: its sandbox is
// paused after PauseAfter (5 minutes by default), not before, and the next
// turn resumes it before using it, finding its file.
func TestSessionPausesItsIdleSandbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var opened pausables
		s := agentbox.New(writeThenRead(), agentbox.Options{Open: opened.open}).NewSession(agentbox.SessionOptions{})
		if _, done := collect(t, s.Send(context.Background(), "write")); done.Err != nil {
			t.Fatal(done.Err)
		}
		sb := opened.all()[0]
		time.Sleep(5*time.Minute - time.Second)
		if pauses, _, _, _ := sb.counts(); pauses != 0 {
			t.Fatalf("paused %d times before the session idled 5 minutes", pauses)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if pauses, _, _, paused := sb.counts(); pauses != 1 || !paused {
			t.Fatalf("after 5 idle minutes: %d pauses, paused %v; want it paused", pauses, paused)
		}
		all, done := collect(t, s.Send(context.Background(), "read"))
		pauses, resumes, misuses, paused := sb.counts()
		if done.Err != nil || len(of[agentbox.Error](all)) != 0 || result(t, all, "r").Output != "kept" {
			t.Fatalf("the turn after the pause: %v, %d errors, read %q; want the file read", done.Err, len(of[agentbox.Error](all)), result(t, all, "r").Output)
		}
		if resumes != 1 || misuses != 0 || paused || len(opened.all()) != 1 {
			t.Errorf("%d resumes, %d uses while paused, paused %v, %d sandboxes; want it resumed before use", resumes, misuses, paused, len(opened.all()))
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if pauses, _, _, _ = sb.counts(); pauses != 2 {
			t.Errorf("after the second turn idled: %d pauses, want 2", pauses)
		}
		if err := s.Close(context.Background()); err != nil || sb.Closes() != 1 {
			t.Errorf("Close: %v, the sandbox closed %d times; want the paused sandbox closed", err, sb.Closes())
		}
	})
}

// TestSessionNeverPausesDuringATurn idles less than PauseAfter, then runs
// a turn four times as long as PauseAfter: nothing pauses it; then starts a turn while the sandbox is
// pausing: the turn waits for the pause to end and resumes the sandbox
// before it uses it.
func TestSessionNeverPausesDuringATurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opened := pausables{pauseTakes: 10 * time.Second}
		wait := agentbox.NewTool("wait", "waits", func(ctx context.Context, env *agentbox.Env, _ struct{}) (string, error) {
			time.Sleep(4 * time.Minute)
			return "waited", nil
		})
		p := agentboxtest.NewProvider(
			calls(writeFile("w", "a.txt", "kept")), agentboxtest.Reply("Written."),
			calls(call("wait", "wait", `{}`)), calls(writeFile("w2", "b.txt", "b")), agentboxtest.Reply("Done."),
			calls(call("r", "read_file", `{"path":"a.txt"}`)), agentboxtest.Reply("It says kept."),
		)
		tools := append(agentbox.BuiltinTools(), wait)
		s := agentbox.New(p, agentbox.Options{Open: opened.open, Tools: tools}).NewSession(agentbox.SessionOptions{PauseAfter: time.Minute})
		defer s.Close(context.Background())
		collect(t, s.Send(context.Background(), "write"))
		time.Sleep(30 * time.Second) // idle, but not long enough to pause
		if all, done := collect(t, s.Send(context.Background(), "work long")); done.Err != nil || result(t, all, "w2").Err != nil {
			t.Fatalf("a 4-minute turn: %v / %v", done.Err, result(t, all, "w2").Err)
		}
		sb := opened.all()[0]
		if pauses, _, misuses, _ := sb.counts(); pauses != 0 || misuses != 0 {
			t.Fatalf("during a 4-minute turn: %d pauses, %d uses while paused; want none", pauses, misuses)
		}
		time.Sleep(time.Minute + time.Second) // the pause has begun, and takes 10 s
		all, done := collect(t, s.Send(context.Background(), "read"))
		pauses, resumes, misuses, paused := sb.counts()
		if done.Err != nil || result(t, all, "r").Output != "kept" || pauses != 1 || resumes != 1 || misuses != 0 || paused {
			t.Errorf("a turn during the pause: %v, read %q; %d pauses, %d resumes, %d uses while paused, paused %v; want the pause, then a resume, then the read",
				done.Err, result(t, all, "r").Output, pauses, resumes, misuses, paused)
		}
	})
}

// lockedBuffer is a bytes.Buffer safe for concurrent use, for logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSessionPauseFailures fails a pause, which is logged (and, as it may
// have paused the sandbox all the same, the next turn resumes it); then a
// resume, which the next turn reports as a non-fatal error event; then a
// resume finds the sandbox gone, and the turn gets a new one.
func TestSessionPauseFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var opened pausables
		var logs lockedBuffer
		p := agentboxtest.NewProvider(
			calls(writeFile("w", "a.txt", "kept")), agentboxtest.Reply("Written."),
			calls(call("r1", "read_file", `{"path":"a.txt"}`)), agentboxtest.Reply("Read."),
			calls(call("r2", "read_file", `{"path":"a.txt"}`)), agentboxtest.Reply("Read."),
			calls(call("r3", "read_file", `{"path":"a.txt"}`)), agentboxtest.Reply("Gone."),
		)
		a := agentbox.New(p, agentbox.Options{Open: opened.open, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		s := a.NewSession(agentbox.SessionOptions{PauseAfter: time.Minute})
		defer s.Close(context.Background())
		collect(t, s.Send(context.Background(), "write"))
		sb := opened.all()[0]

		sb.mu.Lock()
		sb.pauseErr = errors.New("snapshot failed half way")
		sb.mu.Unlock()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if !strings.Contains(logs.String(), "snapshot failed half way") {
			t.Errorf("a failed pause was not logged: %q", logs.String())
		}
		all, done := collect(t, s.Send(context.Background(), "read"))
		if _, resumes, misuses, _ := sb.counts(); done.Err != nil || result(t, all, "r1").Output != "kept" || resumes != 1 || misuses != 0 {
			t.Fatalf("after a failed pause: %v, read %q, %d resumes, %d uses while paused; want it resumed all the same", done.Err, result(t, all, "r1").Output, resumes, misuses)
		}

		time.Sleep(2 * time.Minute)
		sb.mu.Lock()
		sb.resumeErr = errors.New("E2B is down")
		sb.mu.Unlock()
		all, done = collect(t, s.Send(context.Background(), "read"))
		errs := of[agentbox.Error](all)
		if len(errs) == 0 || errs[0].Fatal || !strings.Contains(errs[0].Err.Error(), "E2B is down") {
			t.Errorf("a failed resume: events %v, want a non-fatal error saying why", errs)
		}
		_ = done

		time.Sleep(2 * time.Minute)
		sb.mu.Lock()
		sb.resumeErr = fmt.Errorf("no such sandbox: %w", agentbox.ErrSandboxGone)
		sb.mu.Unlock()
		all, done = collect(t, s.Send(context.Background(), "read"))
		made := opened.all()
		if done.Err != nil || len(made) != 2 || made[0].Closes() != 1 || result(t, all, "r3").Err == nil {
			t.Errorf("a resume finding it gone: %v, %d sandboxes, the old one closed %d times, read %q; want a new sandbox without the file",
				done.Err, len(made), made[0].Closes(), result(t, all, "r3").Output)
		}
	})
}

// TestSessionPauseAfter checks PauseAfter's bounds: a negative value never
// pauses; one longer than the lifetime pauses at three quarters of it; the
// agent's own sandbox is never paused.
func TestSessionPauseAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			opts  agentbox.SessionOptions
			after time.Duration // 0: never
		}{
			{agentbox.SessionOptions{PauseAfter: -1}, 0},
			{agentbox.SessionOptions{PauseAfter: time.Hour, Lifetime: 20 * time.Minute}, 15 * time.Minute},
			{agentbox.SessionOptions{Lifetime: 4 * time.Minute}, 3 * time.Minute},
		} {
			var opened pausables
			s := agentbox.New(writeThenRead(), agentbox.Options{Open: opened.open}).NewSession(c.opts)
			collect(t, s.Send(context.Background(), "write"))
			sb := opened.all()[0]
			if c.after > 0 {
				time.Sleep(c.after - time.Second)
				synctest.Wait()
				if pauses, _, _, _ := sb.counts(); pauses != 0 {
					t.Errorf("%+v: paused before %v", c.opts, c.after)
				}
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			if c.after == 0 {
				time.Sleep(time.Hour)
				synctest.Wait()
			}
			if pauses, _, _, _ := sb.counts(); (pauses == 1) != (c.after > 0) {
				t.Errorf("%+v: %d pauses, want a pause after %v (0: never)", c.opts, pauses, c.after)
			}
			s.Close(context.Background())
		}

		given := &pausable{Sandbox: agentboxtest.NewSandbox()}
		s := agentbox.New(writeThenRead(), agentbox.Options{Sandbox: given}).NewSession(agentbox.SessionOptions{PauseAfter: time.Minute})
		collect(t, s.Send(context.Background(), "write"))
		time.Sleep(time.Hour)
		synctest.Wait()
		if pauses, _, _, _ := given.counts(); pauses != 0 {
			t.Errorf("the agent's own sandbox paused %d times; it is the caller's", pauses)
		}
		s.Close(context.Background())
	})
}

// TestSessionCloseWaitsForThePause closes a session while its sandbox is
// pausing: Close waits for the pause, then closes the sandbox.
func TestSessionCloseWaitsForThePause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opened := pausables{pauseTakes: 10 * time.Second}
		s := agentbox.New(writeThenRead(), agentbox.Options{Open: opened.open}).NewSession(agentbox.SessionOptions{PauseAfter: time.Minute})
		collect(t, s.Send(context.Background(), "write"))
		time.Sleep(time.Minute + time.Second)
		start := time.Now()
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		sb := opened.all()[0]
		if pauses, _, _, _ := sb.counts(); pauses != 1 || sb.Closes() != 1 || time.Since(start) < 9*time.Second {
			t.Errorf("Close during a pause: %d pauses, %d closes, after %v; want it to wait for the pause, then close", pauses, sb.Closes(), time.Since(start))
		}
	})
}
