package e2b

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/internal/api"
	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/agentbox/agentbox/e2b/internal/envd/process/processconnect"
	"github.com/agentbox/agentbox/e2b/internal/envdapi"
)

// A Sandbox is an E2B sandbox: a small cloud VM running envd. It implements
// [agentbox.Sandbox], [agentbox.ProcessStarter], [agentbox.Previewer],
// [agentbox.LifetimeSetter], [agentbox.Resumable] and [agentbox.Pauser],
// and is safe for concurrent use.
//
// Relative paths resolve against the user's home directory, where commands
// with no Dir run too.
type Sandbox struct {
	id         string
	cfg        Config
	domain     string // where its ports are reachable
	token      string // envd access token, when the sandbox is secure
	traffic    string // traffic access token of its ports, when required
	control    *control
	httpClient *http.Client
	closeIdle  func() // closes httpClient's idle connections when they are the sandbox's
	files      *envdapi.Client
	process    processconnect.ProcessClient
	fs         filesystemconnect.FilesystemClient

	// ctx lives as long as the sandbox is open: background processes and
	// the kills of abandoned commands run under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // goroutines reading background processes

	mu      sync.Mutex
	closed  bool
	procs   map[string]*bgProcess
	asleep  chan struct{} // non-nil while the sandbox is known to be paused; closed as it resumes
	wakeErr error         // why the last resume failed

	wakeMu sync.Mutex // one pause or resume at a time

	closeMu sync.Mutex
	killed  bool // by Close; guarded by closeMu
}

var (
	_ agentbox.ProcessStarter = (*Sandbox)(nil)
	_ agentbox.Previewer      = (*Sandbox)(nil)
	_ agentbox.LifetimeSetter = (*Sandbox)(nil)
	_ agentbox.Resumable      = (*Sandbox)(nil)
)

// New creates a sandbox from cfg.Template. When E2B answers 429 (the
// account's concurrent sandboxes are all in use) or 503, it retries with
// backoff until ctx is done.
//
// When ctx ends while E2B creates the sandbox, New returns at once, and the
// sandbox E2B goes on creating is killed when its creation is answered.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	return create(ctx, cfg, true)
}

// create creates a sandbox, retrying 429 and 503 when retry is set.
func create(ctx context.Context, cfg Config, retry bool) (*Sandbox, error) {
	if cfg.Debug {
		return open(cfg, nil, api.Sandbox{SandboxID: DebugSandboxID})
	}
	c, err := newControl(cfg)
	if err != nil {
		return nil, err
	}
	info, err := c.create(ctx, retry)
	if err != nil {
		return nil, err
	}
	return open(cfg, c, info)
}

// Connect connects to a running (or paused) sandbox by ID, extending its
// lifetime to cfg.Lifetime from now. A sandbox that no longer exists is an
// error matching [agentbox.ErrSandboxGone].
func Connect(ctx context.Context, id string, cfg Config) (*Sandbox, error) {
	if cfg.Debug {
		return open(cfg, nil, api.Sandbox{SandboxID: id})
	}
	c, err := newControl(cfg)
	if err != nil {
		return nil, err
	}
	info, err := c.connect(ctx, id)
	if err != nil {
		return nil, err
	}
	return open(cfg, c, info)
}

// Opener returns an [agentbox.Opener] creating a sandbox with cfg for each
// run; the run kills it when it ends.
func Opener(cfg Config) agentbox.Opener {
	return func(ctx context.Context) (agentbox.Sandbox, error) {
		sb, err := New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return sb, nil
	}
}

// Reconnector returns an [agentbox.Reconnector] connecting with cfg to the
// sandbox of an "e2b" reference, for [agentbox.Agent.ResumeSession].
func Reconnector(cfg Config) agentbox.Reconnector {
	return func(ctx context.Context, ref agentbox.SandboxRef) (agentbox.Sandbox, error) {
		if ref.Backend != Backend {
			return nil, fmt.Errorf("e2b: cannot reach a %q sandbox", ref.Backend)
		}
		sb, err := Connect(ctx, ref.ID, cfg)
		if err != nil {
			return nil, err
		}
		return sb, nil
	}
}

// Backend names E2B sandboxes in an [agentbox.SandboxRef].
const Backend = "e2b"

// Ref returns the reference [Reconnector] reaches the sandbox with: its backend
// and ID.
func (s *Sandbox) Ref() agentbox.SandboxRef { return agentbox.SandboxRef{Backend: Backend, ID: s.id} }

// open makes the Sandbox of a created or connected sandbox.
func open(cfg Config, c *control, info api.Sandbox) (*Sandbox, error) {
	s := &Sandbox{
		id:      info.SandboxID,
		cfg:     cfg,
		domain:  cfg.domain(),
		control: c,
		procs:   make(map[string]*bgProcess),
	}
	s.httpClient, s.closeIdle = cfg.sandboxClient()
	if info.Domain != nil && *info.Domain != "" {
		s.domain = *info.Domain
	}
	if info.EnvdAccessToken != nil {
		s.token = *info.EnvdAccessToken
	}
	if info.TrafficAccessToken != nil {
		s.traffic = *info.TrafficAccessToken
	}
	base := s.envdURL()
	// The token and the user go only to envd, never where it redirects.
	hc, err := originClient(s.httpClient, base, s.envdSecrets())
	if err != nil {
		return nil, err
	}
	doer := &envdDoer{client: hc, header: s.envdHeader(), sb: s}
	files, err := envdapi.NewClient(base, envdapi.WithHTTPClient(doer))
	if err != nil {
		return nil, fmt.Errorf("e2b: envd client: %w", err)
	}
	s.files = files
	// The binary codec carries output as it is, not base64 inside JSON; and
	// envd would gzip every stream message, which costs more time than it
	// saves bytes: output is mostly small messages, or already compressed.
	opts := []connect.ClientOption{connect.WithReadMaxBytes(maxEnvdMessage), connect.WithAcceptCompression("gzip", nil, nil)}
	s.process = processconnect.NewProcessClient(doer, base, opts...)
	s.fs = filesystemconnect.NewFilesystemClient(doer, base, opts...)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// envdURL is the address of the sandbox's envd.
func (s *Sandbox) envdURL() string {
	switch {
	case s.cfg.SandboxURL != "":
		return s.cfg.SandboxURL
	case s.cfg.Debug:
		return "http://localhost:" + strconv.Itoa(EnvdPort)
	}
	return "https://" + s.host(EnvdPort)
}

// host is the host name that reaches port in the sandbox.
func (s *Sandbox) host(port int) string {
	if s.cfg.Debug {
		return "localhost:" + strconv.Itoa(port)
	}
	return strconv.Itoa(port) + "-" + s.id + "." + s.domain
}

// envdHeader is what every request to envd carries, but the credentials.
func (s *Sandbox) envdHeader() http.Header {
	h := http.Header{}
	h.Set("User-Agent", userAgent)
	h.Set("E2b-Sandbox-Id", s.id)
	h.Set("E2b-Sandbox-Port", strconv.Itoa(EnvdPort))
	if onLoopback(s.envdURL()) {
		// Downloads uncompressed: on loopback, envd's gzip made a 1 MiB
		// read several times slower. Across a network, Go's transport asks
		// for gzip, which shrinks text several times for a few ms of envd's
		// time per MiB.
		h.Set("Accept-Encoding", "identity")
	}
	return h
}

// envdSecrets are the credentials of envd: the access token and the user.
func (s *Sandbox) envdSecrets() http.Header {
	h := http.Header{}
	if s.token != "" {
		h.Set("X-Access-Token", s.token)
	}
	if s.cfg.User != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.cfg.User+":")))
	}
	return h
}

// secrets are what the sandbox's errors never show: its tokens, and the API
// key in case envd echoes it.
func (s *Sandbox) secrets() []string { return []string{s.token, s.traffic, s.cfg.APIKey} }

// userAgent names this library to E2B.
const userAgent = "agentbox-go"

// An envdDoer sends requests to envd with the sandbox's headers; its client
// adds the credentials. It resumes the sandbox when it is paused.
type envdDoer struct {
	client *http.Client
	header http.Header
	sb     *Sandbox
}

func (d *envdDoer) Do(req *http.Request) (*http.Response, error) {
	for k, v := range d.header {
		req.Header[k] = v
	}
	if d.sb == nil {
		return d.client.Do(req)
	}
	return d.sb.doAwake(d.client, req)
}

// ID is the sandbox's ID, for [Connect] and E2B's dashboard.
func (s *Sandbox) ID() string { return s.id }

// String describes the sandbox without its tokens.
func (s *Sandbox) String() string { return "e2b sandbox " + s.id }

// GoString is String, so that %#v does not print the tokens either.
func (s *Sandbox) GoString() string { return s.String() }

// SetLifetime makes the sandbox live d from now (at most E2B's limit for the
// account), instead of what was left. A paused sandbox is resumed first.
func (s *Sandbox) SetLifetime(ctx context.Context, d time.Duration) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.control == nil {
		return nil // debug mode: envd on this machine lives as long as it runs
	}
	return s.setLifetimeAwake(ctx, d)
}

// Close kills the sandbox and whatever runs in it. A sandbox that is
// already gone is not an error, and neither is a second Close. When the
// kill fails (E2B unreachable, say), the sandbox is closed for use but a
// later Close tries the kill again; otherwise E2B kills it at the end of its
// lifetime.
func (s *Sandbox) Close(ctx context.Context) error {
	s.closeMu.Lock() // one kill at a time; a Close after a failed one retries
	defer s.closeMu.Unlock()
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	s.mu.Unlock()
	if first {
		defer s.closeIdle() // last: connections are reused up to the end
		defer s.wg.Wait()
		defer s.cancel() // in debug mode, what runs is killed as its stream ends
	}
	if s.killed || s.control == nil {
		return nil
	}
	if err := s.control.kill(ctx, s.id); err != nil {
		return err
	}
	s.killed = true
	return nil
}

// mustKill reports whether a command whose stream ends must be killed: not
// when the sandbox is being killed with it.
func (s *Sandbox) mustKill() bool {
	return s.control == nil || !s.isClosed()
}

// check returns an error matching agentbox.ErrClosed after Close.
func (s *Sandbox) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("e2b: sandbox %s: %w", s.id, agentbox.ErrClosed)
	}
	return nil
}

// isClosed reports whether Close was called.
func (s *Sandbox) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// gone checks, after a failed call to envd, whether the sandbox still
// lives, as the official SDKs do: E2B's edge answers GET /health with 502
// for a sandbox that is gone (and 409 for one that is paused). It returns
// the error to report: err itself, or one matching agentbox.ErrSandboxGone
// or ErrPaused.
func (s *Sandbox) gone(op string, err error) error {
	if s.isClosed() {
		return fmt.Errorf("e2b: %s: %w", op, agentbox.ErrClosed)
	}
	if s.isPaused() {
		return s.pausedError(op, err)
	}
	ctx, cancel := context.WithTimeout(withoutWaking(context.Background()), 5*time.Second)
	defer cancel()
	resp, herr := s.files.GetHealth(ctx)
	if herr != nil {
		return err
	}
	resp.Body.Close()
	if s.isPaused() {
		return s.pausedError(op, err) // the edge said so
	}
	if resp.StatusCode == http.StatusBadGateway {
		return &Error{Op: op, StatusCode: resp.StatusCode, Message: "the sandbox was killed or reached the end of its lifetime", Kind: agentbox.KindSandboxGone, err: err}
	}
	return err
}

// maxEnvdMessage is the largest message read from envd: a listing of a
// folder of some 200,000 entries, far more than any command's output chunk.
// A larger one is an error, not a read that takes all memory. Tests lower
// it.
var maxEnvdMessage = 32 << 20
