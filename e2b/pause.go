package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/internal/api"
	"github.com/agentbox/agentbox/e2b/internal/envd/process/processconnect"
)

// ErrPaused means the sandbox is paused and was not resumed: a resume
// failed (the error says why), or the request was one that does not resume
// it.
var ErrPaused = errors.New("e2b: the sandbox is paused")

var _ agentbox.Pauser = (*Sandbox)(nil)

// MaxForks is the most sandboxes one [Sandbox.Fork] makes, E2B's limit.
const MaxForks = 100

// Pause pauses the sandbox: E2B snapshots it, memory included, and stops
// it, so that it costs no compute while it waits. Its files, processes and
// memory are there again when it resumes. Pausing a paused sandbox returns
// nil.
//
// Using the sandbox afterwards (Run, WriteFiles, Open, List, StartProcess,
// PreviewURL, SetLifetime, Fork) resumes it first, transparently, which
// takes a second or so; [Sandbox.Resume] resumes it at once. A sandbox that
// E2B paused itself (Config.AutoPause, or another process) is found paused
// by the first request that reaches it, and resumed the same way. When a
// resume fails, the call fails with an error matching [ErrPaused] that
// wraps why ([agentbox.ErrSandboxGone] when it no longer exists).
//
// Pause a sandbox that idles: a command running when it pauses loses its
// connection, and Run fails (killing the command then resumes the
// sandbox). Background processes are frozen with the sandbox and go on
// when it resumes; their output streams wait for that, without resuming
// it, and are then re-attached. Its preview URLs answer 409 while it is
// paused (PreviewURL resumes it).
//
// In debug mode, with no control plane, the error matches
// [agentbox.ErrNotSupported].
func (s *Sandbox) Pause(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.control == nil {
		return fmt.Errorf("e2b: pause sandbox %s: %w: debug mode has no control plane", s.id, agentbox.ErrNotSupported)
	}
	s.wakeMu.Lock() // not while it resumes
	defer s.wakeMu.Unlock()
	if err := s.control.pause(ctx, s.id); err != nil {
		return err
	}
	s.markPaused()
	return nil
}

// Resume resumes the sandbox if it is paused, by whomever, and makes it
// live at least Config.Lifetime from now (longer if it had more left).
// Resuming a running sandbox returns nil: it asks E2B all the same, so that
// a pause made elsewhere is found. A sandbox that no longer exists is an
// error matching [agentbox.ErrSandboxGone]. In debug mode it does nothing.
func (s *Sandbox) Resume(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.control == nil {
		return nil
	}
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.resumeLocked(ctx)
}

// Fork makes n new sandboxes (at most [MaxForks]) from a snapshot of this
// one, taken in place: each starts with its files, processes and memory as
// they are now, to try different approaches from one state. This sandbox
// goes on as it was; a paused one is resumed first. The forks live
// Config.Lifetime, are independent of each other and of this sandbox, and
// are the caller's to Close.
//
// It is all or nothing: when some forks fail to start, those that started
// are killed and the error says why the others failed (matching
// [ErrRateLimited] when the account's quota of sandboxes is used up). In
// debug mode the error matches [agentbox.ErrNotSupported].
func (s *Sandbox) Fork(ctx context.Context, n int) ([]*Sandbox, error) {
	op := "fork sandbox " + s.id
	if err := s.check(); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxForks {
		return nil, fmt.Errorf("e2b: %s: %d forks asked for, want 1 to %d", op, n, MaxForks)
	}
	if s.control == nil {
		return nil, fmt.Errorf("e2b: %s: %w: debug mode has no control plane", op, agentbox.ErrNotSupported)
	}
	if err := s.wake(ctx); err != nil {
		return nil, s.pausedError(op, err)
	}
	infos, err := s.control.fork(ctx, s.id, n, s.cfg.lifetime())
	var e *Error
	if errors.As(err, &e) && e.StatusCode == http.StatusConflict && len(infos) == 0 {
		// Paused elsewhere, maybe: resume it and ask once more.
		s.markPaused()
		if werr := s.wake(ctx); werr != nil {
			return nil, s.pausedError(op, werr)
		}
		infos, err = s.control.fork(ctx, s.id, n, s.cfg.lifetime())
	}
	forks := make([]*Sandbox, 0, len(infos))
	for _, info := range infos {
		f, oerr := open(s.cfg, s.control, info)
		if oerr != nil {
			err = errors.Join(err, oerr)
			if kerr := s.killQuietly(ctx, info.SandboxID); kerr != nil {
				err = errors.Join(err, kerr)
			}
			continue
		}
		forks = append(forks, f)
	}
	if err == nil {
		return forks, nil
	}
	for _, f := range forks {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		if kerr := f.Close(kctx); kerr != nil {
			err = errors.Join(err, kerr)
		}
		cancel()
	}
	return nil, fmt.Errorf("e2b: %s: %d of %d forks did not start, and the others were killed: %w", op, n-len(forks), n, err)
}

// killQuietly kills sandbox id, past the end of ctx.
func (s *Sandbox) killQuietly(ctx context.Context, id string) error {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancel()
	return s.control.kill(kctx, id)
}

// resumeLocked connects to the sandbox, which resumes it if it is paused.
// s.wakeMu must be held.
func (s *Sandbox) resumeLocked(ctx context.Context) error {
	if s.isClosed() {
		return fmt.Errorf("e2b: resume sandbox %s: %w", s.id, agentbox.ErrClosed)
	}
	info, _, err := s.control.resume(ctx, s.id, s.cfg.lifetime())
	if err == nil && info.EnvdAccessToken != nil && *info.EnvdAccessToken != s.token {
		err = &Error{Op: "resume sandbox " + s.id, Message: "it came back with another envd access token: reach it again with Connect"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.wakeErr = err
		return err
	}
	if s.asleep != nil {
		close(s.asleep)
		s.asleep = nil
	}
	s.wakeErr = nil
	return nil
}

// wake resumes the sandbox if it is known to be paused.
func (s *Sandbox) wake(ctx context.Context) error {
	if s.control == nil || !s.isPaused() {
		return nil
	}
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if !s.isPaused() {
		return nil // resumed while this waited
	}
	return s.resumeLocked(ctx)
}

// awaitAwake waits until the sandbox is not known to be paused, or ctx is
// done.
func (s *Sandbox) awaitAwake(ctx context.Context) error {
	s.mu.Lock()
	asleep := s.asleep
	s.mu.Unlock()
	if asleep == nil {
		return nil
	}
	select {
	case <-asleep:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// markPaused records that the sandbox is paused.
func (s *Sandbox) markPaused() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.asleep == nil {
		s.asleep = make(chan struct{})
	}
}

// isPaused reports whether the sandbox is known to be paused.
func (s *Sandbox) isPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asleep != nil
}

// pausedError returns, when the sandbox is known to be paused, the error
// of op, which failed with err for that reason: it matches ErrPaused and
// wraps err and why the last resume failed. Otherwise it returns err.
func (s *Sandbox) pausedError(op string, err error) error {
	s.mu.Lock()
	asleep, wakeErr := s.asleep != nil, s.wakeErr
	s.mu.Unlock()
	if !asleep {
		return err
	}
	if wakeErr == err {
		err = nil // the resume's failure is the error
	}
	e := &Error{Op: op, Message: "the sandbox is paused", Kind: agentbox.KindPaused, err: err}
	if wakeErr != nil {
		e.Message += ", and resuming it failed: " + wakeErr.Error()
		e.err = errors.Join(wakeErr, err)
	}
	return e
}

// wakeMode says what a request to envd does when the sandbox is paused.
type wakeMode int

const (
	wakeFirst wakeMode = iota // resume it, then send the request
	awaitWake                 // wait until something else resumes it
	dontWake                  // send it as it is
)

// dontWakeKey marks the context of requests that never resume the sandbox.
type dontWakeKey struct{}

// withoutWaking returns ctx for requests that do not resume a paused
// sandbox: checking whether it lives.
func withoutWaking(ctx context.Context) context.Context {
	return context.WithValue(ctx, dontWakeKey{}, true)
}

// modeOf tells how req treats a paused sandbox: re-attaching to a
// background process waits for the sandbox to resume (the process is
// frozen with it, so its stream can wait too: re-attaching must not undo
// a pause); checks made by the sandbox itself leave it paused; the rest,
// made for callers, resume it.
func modeOf(req *http.Request) wakeMode {
	switch {
	case req.Context().Value(dontWakeKey{}) != nil:
		return dontWake
	case strings.HasSuffix(req.URL.Path, processconnect.ProcessConnectProcedure):
		return awaitWake
	}
	return wakeFirst
}

// doAwake sends a request to envd with c, resuming the sandbox first when
// it is known to be paused. When E2B's edge answers that the sandbox is
// paused, which is how a pause made elsewhere is found, the sandbox is
// resumed and the request sent once more, when its body can be sent again.
func (s *Sandbox) doAwake(c *http.Client, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	mode := modeOf(req)
	switch mode {
	case wakeFirst:
		if err := s.wake(ctx); err != nil {
			return nil, err
		}
	case awaitWake:
		if err := s.awaitAwake(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != http.StatusConflict || !edgePaused(resp) {
		return resp, err
	}
	s.markPaused()
	again := replay(req)
	if mode != wakeFirst || again == nil {
		return resp, nil // the caller's error says it is paused
	}
	resp.Body.Close()
	if err := s.wake(ctx); err != nil {
		return nil, err
	}
	return c.Do(again)
}

// edgePaused reports whether resp, a 409, is E2B's edge saying that the
// sandbox is paused. The edge (client-proxy, in e2b-dev/infra) answers a
// request for a paused sandbox that it does not resume by itself with 409
// and {"sandboxId", "message": "The sandbox is paused", "code": 409,
// "canAutoResume"}. The body is left to read again.
func edgePaused(resp *http.Response) bool {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body = &rereadBody{Reader: io.MultiReader(bytes.NewReader(data), resp.Body), Closer: resp.Body}
	var body struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
	if json.Unmarshal(data, &body) != nil {
		return false
	}
	return body.Code == http.StatusConflict && strings.Contains(strings.ToLower(body.Message), "paused")
}

type rereadBody struct {
	io.Reader
	io.Closer
}

// replay returns req to send again, or nil when its body cannot be sent
// again.
func replay(req *http.Request) *http.Request {
	again := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return again
	}
	if req.GetBody == nil {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil
	}
	again.Body = body
	return again
}

// setLifetimeAwake sets the lifetime of the sandbox, resuming it first when
// it is paused: E2B answers 404 for the lifetime of a paused sandbox, as for
// one that is gone, so a 404 is checked.
func (s *Sandbox) setLifetimeAwake(ctx context.Context, d time.Duration) error {
	if err := s.wake(ctx); err != nil {
		return s.pausedError("set lifetime of sandbox "+s.id, err)
	}
	err := s.control.setLifetime(ctx, s.id, d)
	if !errors.Is(err, agentbox.ErrSandboxGone) {
		return err
	}
	if st, serr := s.control.state(ctx, s.id); serr != nil || st != api.Paused {
		return err
	}
	s.markPaused()
	if werr := s.wake(ctx); werr != nil {
		return s.pausedError("set lifetime of sandbox "+s.id, werr)
	}
	return s.control.setLifetime(ctx, s.id, d)
}
