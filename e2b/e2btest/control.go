package e2btest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/agentbox/agentbox/e2b/internal/api"
)

// controlPlane serves E2B's REST API: the sandbox operations the e2b
// package uses; the others answer 501.
type controlPlane struct{ s *Server }

// defaultLifetime is E2B's lifetime of a sandbox created without one.
const defaultLifetime = 15 * time.Second

func (c *controlPlane) PostSandboxes(w http.ResponseWriter, r *http.Request) {
	var body api.NewSandbox
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.TemplateID == "" {
		writeError(w, http.StatusBadRequest, "invalid request body: a templateID is required")
		return
	}
	s := c.s
	if len(s.opts.Templates) > 0 && !slices.Contains(s.opts.Templates, body.TemplateID) {
		writeError(w, http.StatusNotFound, "template '"+body.TemplateID+"' not found")
		return
	}
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d > 0 {
		// As E2B, the fake finishes creating a sandbox whose client went
		// away: it lives until its lifetime ends, and counts as alive.
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.closing:
			t.Stop()
			writeError(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
	}
	s.mu.Lock()
	var fail int
	if len(s.failures) > 0 {
		fail, s.failures = s.failures[0], s.failures[1:]
	}
	s.mu.Unlock()
	if fail != 0 {
		msg := http.StatusText(fail)
		if fail == http.StatusTooManyRequests {
			msg = "you have reached the maximum number of concurrent E2B sandboxes (20)"
		}
		writeError(w, fail, msg)
		return
	}
	lifetime := defaultLifetime
	if body.Timeout != nil {
		lifetime = time.Duration(*body.Timeout) * time.Second
	}
	var token string
	if body.Secure != nil && *body.Secure {
		token = "ea_" + newID()
	}
	sb, err := s.add(newID(), body.TemplateID, deref(body.Metadata), deref(body.EnvVars), token, 0, true)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	sb.configure(body.AutoPause != nil && *body.AutoPause, body.AllowInternetAccess)
	sb.setLifetime(lifetime)
	writeJSON(w, http.StatusCreated, sb.info())
}

func (c *controlPlane) GetSandboxesSandboxID(w http.ResponseWriter, r *http.Request, id api.SandboxID) {
	sb := c.found(w, id)
	if sb == nil {
		return
	}
	l := sb.listed()
	_, internet := sb.settings()
	writeJSON(w, http.StatusOK, api.SandboxDetail{
		SandboxID: l.SandboxID, TemplateID: l.TemplateID, ClientID: l.ClientID, EnvdVersion: l.EnvdVersion,
		StartedAt: l.StartedAt, EndAt: l.EndAt, State: l.State, Metadata: l.Metadata,
		CpuCount: l.CpuCount, MemoryMB: l.MemoryMB, DiskSizeMB: l.DiskSizeMB, EnvdAccessToken: sb.info().EnvdAccessToken,
		AllowInternetAccess: internet, Lifecycle: sb.lifecycle(),
	})
}

func (c *controlPlane) DeleteSandboxesSandboxID(w http.ResponseWriter, r *http.Request, id api.SandboxID) {
	c.s.mu.Lock()
	var fail int
	if len(c.s.killFailures) > 0 {
		fail, c.s.killFailures = c.s.killFailures[0], c.s.killFailures[1:]
	}
	c.s.mu.Unlock()
	if fail != 0 {
		writeError(w, fail, http.StatusText(fail))
		return
	}
	if !c.s.end(id, func(st *Stats) { st.Killed++ }) {
		writeError(w, http.StatusNotFound, "sandbox \""+id+"\" not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *controlPlane) PostSandboxesSandboxIDConnect(w http.ResponseWriter, r *http.Request, id api.SandboxID) {
	var body api.ConnectSandbox
	if !decodeBody(w, r, &body, false) {
		return
	}
	sb := c.found(w, id)
	if sb == nil {
		return
	}
	d := time.Duration(body.Timeout) * time.Second
	if sb.resume(d) {
		writeJSON(w, http.StatusCreated, sb.info())
		return
	}
	sb.extendLifetime(d) // connect only extends
	writeJSON(w, http.StatusOK, sb.info())
}

// PostSandboxesSandboxIDResume is the deprecated resume: 201 when the
// sandbox was paused, 409 when it runs.
func (c *controlPlane) PostSandboxesSandboxIDResume(w http.ResponseWriter, r *http.Request, id api.SandboxID) {
	var body api.ResumedSandbox
	if !decodeBody(w, r, &body, true) {
		return
	}
	sb := c.found(w, id)
	if sb == nil {
		return
	}
	d := defaultLifetime
	if body.Timeout != nil {
		d = time.Duration(*body.Timeout) * time.Second
	}
	if !sb.resume(d) {
		writeError(w, http.StatusConflict, "sandbox \""+id+"\" is already running")
		return
	}
	writeJSON(w, http.StatusCreated, sb.info())
}

// PostSandboxesSandboxIDPause pauses a running sandbox: 204, or 409 when
// it is paused already.
func (c *controlPlane) PostSandboxesSandboxIDPause(w http.ResponseWriter, r *http.Request, id api.SandboxID) {
	var body api.SandboxPauseRequest // optional; the fake keeps memory in any case
	if !decodeBody(w, r, &body, true) {
		return
	}
	sb := c.found(w, id)
	if sb == nil {
		return
	}
	if !sb.pause() {
		writeError(w, http.StatusConflict, "sandbox \""+id+"\" is already paused")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// PostSandboxesSandboxIDFork makes count sandboxes from one snapshot of a
// running sandbox, which goes on as it was. Each fork gets the files the
// sandbox has now, its template, metadata, environment and settings, and
// an access token of its own when it is secure; its processes are not
// copied. A fork fails, on its own, with the status of the next failure
// FailCreates queued.
func (c *controlPlane) PostSandboxesSandboxIDFork(w http.ResponseWriter, r *http.Request, id api.SandboxID) {
	var body api.SandboxForkRequest
	if !decodeBody(w, r, &body, true) {
		return
	}
	count := 1
	if body.Count != nil {
		count = int(*body.Count)
	}
	if count < 1 || count > 100 {
		writeError(w, http.StatusBadRequest, "count must be between 1 and 100")
		return
	}
	lifetime := defaultLifetime
	if body.Timeout != nil {
		lifetime = time.Duration(*body.Timeout) * time.Second
	}
	s := c.s
	src := c.found(w, id)
	if src == nil {
		return
	}
	if src.isPaused() {
		writeError(w, http.StatusConflict, "sandbox \""+id+"\" is paused")
		return
	}
	snap, err := s.snapshot(id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer os.RemoveAll(snap)
	autoPause, internet := src.settings()
	results := make([]api.SandboxForkResult, count)
	for i := range results {
		s.mu.Lock()
		var fail int
		if len(s.failures) > 0 {
			fail, s.failures = s.failures[0], s.failures[1:]
		}
		s.mu.Unlock()
		if fail != 0 {
			results[i].Error = &api.Error{Code: int32(fail), Message: http.StatusText(fail)}
			continue
		}
		fork, err := s.fork(src, snap, lifetime, autoPause, internet)
		if err != nil {
			results[i].Error = &api.Error{Code: http.StatusInternalServerError, Message: err.Error()}
			continue
		}
		info := fork.info()
		results[i].Sandbox = &info
	}
	writeJSON(w, http.StatusCreated, results)
}

// fork makes a sandbox like src with the files of the snapshot snap.
func (s *Server) fork(src *sandbox, snap string, lifetime time.Duration, autoPause bool, internet *bool) (*sandbox, error) {
	id := newID()
	if err := copyTree(snap, filepath.Join(s.root, id)); err != nil {
		return nil, fmt.Errorf("copying the snapshot: %w", err)
	}
	var token string
	if src.token != "" {
		token = "ea_" + newID()
	}
	sb, err := s.add(id, src.template, maps.Clone(src.metadata), maps.Clone(src.env), token, 0, false)
	if err != nil {
		return nil, err
	}
	sb.configure(autoPause, internet)
	sb.setLifetime(lifetime)
	s.count(func(st *Stats) { st.Forked++ })
	return sb, nil
}

func (c *controlPlane) PostSandboxesSandboxIDTimeout(w http.ResponseWriter, r *http.Request, id api.SandboxID) {
	var body api.SandboxTimeoutRequest
	if !decodeBody(w, r, &body, false) {
		return
	}
	sb := c.s.sandbox(id)
	if sb == nil {
		writeError(w, http.StatusNotFound, "sandbox \""+id+"\" not found")
		return
	}
	if sb.isPaused() {
		// As E2B, whose lifetimes are those of running sandboxes only.
		writeError(w, http.StatusNotFound, "Sandbox not found")
		return
	}
	sb.setLifetime(time.Duration(body.Timeout) * time.Second)
	w.WriteHeader(http.StatusNoContent)
}

func (c *controlPlane) GetV2Sandboxes(w http.ResponseWriter, r *http.Request, params api.GetV2SandboxesParams) {
	var want url.Values
	if params.Metadata != nil {
		var err error
		if want, err = url.ParseQuery(*params.Metadata); err != nil {
			writeError(w, http.StatusBadRequest, "invalid metadata query")
			return
		}
	}
	var all []api.ListedSandbox
	for _, id := range c.s.Sandboxes() {
		sb := c.s.sandbox(id)
		if sb == nil || !sb.matches(want) {
			continue
		}
		l := sb.listed()
		if params.State != nil && !slices.Contains(*params.State, l.State) {
			continue
		}
		all = append(all, l)
	}
	start := 0
	if params.NextToken != nil {
		start, _ = strconv.Atoi(*params.NextToken)
		start = min(max(start, 0), len(all))
	}
	limit := 100
	if params.Limit != nil && *params.Limit > 0 {
		limit = int(*params.Limit)
	}
	page := all[start:min(start+limit, len(all))]
	if start+len(page) < len(all) {
		w.Header().Set("X-Next-Token", strconv.Itoa(start+len(page)))
	}
	if page == nil {
		page = []api.ListedSandbox{}
	}
	writeJSON(w, http.StatusOK, page)
}

// sandbox returns the live sandbox id, or nil.
func (s *Server) sandbox(id string) *sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sandboxes[id]
}

func deref[M ~map[string]string](m *M) map[string]string {
	if m == nil {
		return nil
	}
	return *m
}

// Operations the e2b package does not use.

func notImplemented(w http.ResponseWriter) {
	writeError(w, http.StatusNotImplemented, "not implemented by e2btest")
}

func (c *controlPlane) GetSandboxes(w http.ResponseWriter, r *http.Request, _ api.GetSandboxesParams) {
	notImplemented(w)
}
func (c *controlPlane) GetSandboxesMetrics(w http.ResponseWriter, r *http.Request, _ api.GetSandboxesMetricsParams) {
	notImplemented(w)
}
func (c *controlPlane) GetSandboxesSandboxIDLogs(w http.ResponseWriter, r *http.Request, _ api.SandboxID, _ api.GetSandboxesSandboxIDLogsParams) {
	notImplemented(w)
}
func (c *controlPlane) GetSandboxesSandboxIDMetrics(w http.ResponseWriter, r *http.Request, _ api.SandboxID, _ api.GetSandboxesSandboxIDMetricsParams) {
	notImplemented(w)
}
func (c *controlPlane) PutSandboxesSandboxIDNetwork(w http.ResponseWriter, r *http.Request, _ api.SandboxID) {
	notImplemented(w)
}
func (c *controlPlane) PostSandboxesSandboxIDRefreshes(w http.ResponseWriter, r *http.Request, _ api.SandboxID) {
	notImplemented(w)
}
func (c *controlPlane) PostSandboxesSandboxIDSnapshots(w http.ResponseWriter, r *http.Request, _ api.SandboxID) {
	notImplemented(w)
}
func (c *controlPlane) GetV2SandboxesSandboxIDLogs(w http.ResponseWriter, r *http.Request, _ api.SandboxID, _ api.GetV2SandboxesSandboxIDLogsParams) {
	notImplemented(w)
}

// found returns sandbox id, or answers 404 as E2B does and returns nil.
func (c *controlPlane) found(w http.ResponseWriter, id string) *sandbox {
	sb := c.s.sandbox(id)
	if sb == nil {
		writeError(w, http.StatusNotFound, "sandbox \""+id+"\" doesn't exist or you don't have access to it")
	}
	return sb
}

// decodeBody decodes the JSON body of r into v, an empty body too when it
// is optional; otherwise it answers 400 and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	err := json.NewDecoder(r.Body).Decode(v)
	if err != nil && !(optional && errors.Is(err, io.EOF)) {
		writeError(w, http.StatusBadRequest, "invalid request body")
		return false
	}
	return true
}
