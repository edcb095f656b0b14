package e2btest

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/agentbox/agentbox/e2b/internal/api"
)

// Pause pauses sandbox id as E2B does when another client pauses it, or
// when its lifetime ends with autoPause: clients that did not pause it
// find it paused. It reports whether the sandbox was running.
//
// E2B snapshots a paused sandbox whole, memory included, and stops its VM.
// The fake keeps the sandbox's folder as it is (its files are kept) and
// stops its processes with SIGSTOP, to go on with SIGCONT when it resumes:
// they keep their memory and their pids, as in E2B. The process streams
// open when it pauses are dropped, as E2B's are when the VM stops. While it is paused, its lifetime does not
// run out, and E2B's edge answers every request for it, to envd or to
// another port, with 409 and {"sandboxId", "message": "The sandbox is
// paused", "code": 409, "canAutoResume": false}, as e2b-dev/infra's
// client-proxy does. POST /sandboxes/{id}/connect (or the deprecated
// /resume) resumes it. Forks get a copy of the files only: their processes
// are not copied.
func (s *Server) Pause(id string) bool {
	sb := s.sandbox(id)
	return sb != nil && sb.pause()
}

// count updates the counters. It may be called with a sandbox's mu held,
// never the other way round.
func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// expire ends the sandbox at the end of its lifetime: it pauses when
// created with autoPause, and dies otherwise.
func (sb *sandbox) expire() {
	sb.mu.Lock()
	autoPause := sb.autoPause
	sb.mu.Unlock()
	if autoPause {
		sb.pause()
		return
	}
	sb.srv.end(sb.id, func(st *Stats) { st.Expired++ })
}

// pause pauses the sandbox: its processes stop, its open streams drop, its
// lifetime stops running; it counts as a pause. It reports false when the sandbox was already
// paused or is dead.
func (sb *sandbox) pause() bool {
	sb.mu.Lock()
	if sb.paused || sb.ctx.Err() != nil {
		sb.mu.Unlock()
		return false
	}
	sb.paused = true
	sb.srv.count(func(st *Stats) { st.Paused++ })
	if sb.timer != nil {
		sb.timer.Stop()
		sb.timer = nil
	}
	sb.mu.Unlock()
	sb.signalAll(syscall.SIGSTOP)
	sb.dropStreams()
	return true
}

// resume resumes a paused sandbox, to live d from now, and reports whether
// it was paused: only then does it count as a resume.
func (sb *sandbox) resume(d time.Duration) bool {
	sb.mu.Lock()
	if !sb.paused || sb.ctx.Err() != nil {
		sb.mu.Unlock()
		return false
	}
	sb.paused = false
	sb.srv.count(func(st *Stats) { st.Resumed++ })
	sb.mu.Unlock()
	sb.signalAll(syscall.SIGCONT)
	sb.setLifetime(d)
	return true
}

// isPaused reports whether the sandbox is paused.
func (sb *sandbox) isPaused() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.paused
}

// state is the sandbox's state, as the control plane reports it.
func (sb *sandbox) state() api.SandboxState {
	if sb.isPaused() {
		return api.Paused
	}
	return api.Running
}

// lifecycle is what the sandbox does when its lifetime ends.
func (sb *sandbox) lifecycle() *api.SandboxLifecycle {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	l := &api.SandboxLifecycle{OnTimeout: api.Kill}
	if sb.autoPause {
		l.OnTimeout = api.Pause
	}
	return l
}

// configure sets what the sandbox was created with, beyond what add takes.
func (sb *sandbox) configure(autoPause bool, internet *bool) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.autoPause, sb.internet = autoPause, internet
}

// settings returns what configure set.
func (sb *sandbox) settings() (autoPause bool, internet *bool) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.autoPause, sb.internet
}

// writePaused answers a request for a paused sandbox as E2B's edge does:
// 409 with its JSON body, {sandboxId, message, code, canAutoResume}. It is
// based on e2b-dev/infra's client-proxy, which answers so for a paused
// sandbox that it does not resume by itself
// (packages/shared/pkg/proxy/template/sandbox_paused.go,
// NewSandboxPausedError, used by packages/client-proxy's paused-sandbox
// handling); browsers get the same as an HTML page, which the fake does not
// model. The fake never resumes a sandbox on traffic (E2B's autoResume).
func writePaused(w http.ResponseWriter, id string) {
	writeJSON(w, http.StatusConflict, map[string]any{
		"sandboxId":     id,
		"message":       "The sandbox is paused",
		"code":          http.StatusConflict,
		"canAutoResume": false,
	})
}

// snapshot copies the folder of sandbox id (its home and the rest of what
// the fake keeps of it) to a new folder, for forks, and returns it.
func (s *Server) snapshot(id string) (string, error) {
	dir, err := os.MkdirTemp(s.root, "snapshot-")
	if err != nil {
		return "", err
	}
	if err := copyTree(filepath.Join(s.root, id), dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("snapshotting sandbox %s: %w", id, err)
	}
	return dir, nil
}

// copyTree copies the folder src into dst: folders, regular files and
// symbolic links, with their permissions.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			return copyFile(path, to, info.Mode().Perm())
		}
		return nil // sockets, pipes: not kept
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
