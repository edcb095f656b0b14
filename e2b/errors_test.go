package e2b_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/internal/testkit"
)

func TestBadKeyIsAnAuthError(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	cfg := srv.Config()
	cfg.APIKey = "e2b_not_the_right_key_000000"
	_, err := e2b.New(t.Context(), cfg)
	var e *e2b.Error
	if !errors.Is(err, e2b.ErrAuth) || !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized {
		t.Fatalf("New with a bad key: %v, want an *e2b.Error with status 401 matching e2b.ErrAuth", err)
	}
	if !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Invalid API key") {
		t.Errorf("error %q, want the status and the server's message", err)
	}
	cfg.APIKey = ""
	if _, err := e2b.New(t.Context(), cfg); !errors.Is(err, e2b.ErrAuth) || !strings.Contains(err.Error(), "E2B_API_KEY") {
		t.Errorf("New with no key: %v, want an error matching e2b.ErrAuth that names E2B_API_KEY", err)
	}
	if st := srv.Stats(); st.Created != 0 {
		t.Errorf("the fake created %d sandboxes for bad keys", st.Created)
	}
}

// TestKeyNeverInErrors has a control plane echo the request's headers in
// its error messages, and checks that neither the key nor the sandbox's
// access token is ever printed.
func TestKeyNeverInErrors(t *testing.T) {
	const key = "e2b_0123456789abcdef0123456789abcdef"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"code":403,"message":"key %s is not allowed"}`, r.Header.Get("X-API-Key"))
	}))
	defer echo.Close()
	cfg := e2b.Config{APIKey: key, APIURL: echo.URL}
	_, err := e2b.New(t.Context(), cfg)
	if err == nil {
		t.Fatal("New against a server answering 403: no error")
	}
	_, listErr := e2b.List(t.Context(), cfg, nil)
	_, connErr := e2b.Connect(t.Context(), "abc", cfg)
	for _, s := range []string{
		err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err),
		listErr.Error(), connErr.Error(),
		cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
	} {
		if strings.Contains(s, key) || strings.Contains(s, key[10:30]) {
			t.Errorf("the key is printed: %s", s)
		}
	}
	if !errors.Is(err, e2b.ErrAuth) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q, want one matching e2b.ErrAuth with the key redacted", err)
	}
}

func TestCreateRetriesWhileRateLimited(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	srv.FailCreates(http.StatusTooManyRequests, 2)
	srv.FailCreates(http.StatusServiceUnavailable, 1)
	sb := newSandbox(t, srv.Config())
	posts := 0
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost && r.Path == "/sandboxes" {
			posts++
		}
	}
	if st := srv.Stats(); posts != 4 || st.Created != 1 {
		t.Errorf("New after 429, 429, 503 sent %d creates and the fake created %d sandboxes; want 4 and 1", posts, st.Created)
	}
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); err != nil {
		t.Errorf("Run in the sandbox created after retries: %v", err)
	}

	srv.FailCreates(http.StatusTooManyRequests, 1000)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	_, err := e2b.New(ctx, srv.Config())
	if !errors.Is(err, e2b.ErrRateLimited) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "maximum number of concurrent") {
		t.Errorf("New while always rate limited: %v, want an error matching e2b.ErrRateLimited and context.DeadlineExceeded, with E2B's message", err)
	}
}

func TestServerErrorsAreNotRetried(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	srv.FailCreates(http.StatusInternalServerError, 1)
	_, err := e2b.New(t.Context(), srv.Config())
	var e *e2b.Error
	if !errors.As(err, &e) || e.StatusCode != 500 || e.Op != "create sandbox" || e.Message == "" {
		t.Fatalf("New answered 500: %v, want an *e2b.Error with status 500, the operation and a message", err)
	}
	if errors.Is(err, agentbox.ErrSandboxGone) || errors.Is(err, e2b.ErrAuth) || errors.Is(err, e2b.ErrRateLimited) {
		t.Errorf("a 500 matches a kind it is not: %v", err)
	}
	if st := srv.Stats(); st.Created != 0 {
		t.Errorf("the fake created %d sandboxes after a 500, want 0: it must not be retried", st.Created)
	}
}

// TestSandboxDeath kills a sandbox in the middle of a command: the command,
// and everything after it, fails with agentbox.ErrSandboxGone; Close is
// still fine.
func TestSandboxDeath(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	ctx := t.Context()
	var out testkit.Buffer
	p, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "sleep 1000"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sb.Run(ctx, agentbox.Command{Cmd: "echo running; sleep 1000", Stdout: &out})
		done <- err
	}()
	waitFor(t, func() bool { return out.String() == "running\n" })
	srv.Kill(sb.ID())
	if err := <-done; !errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("Run when its sandbox died: %v, want an error matching agentbox.ErrSandboxGone", err)
	}
	if res, err := p.Wait(ctx); err != nil || res.ExitCode != -1 {
		t.Errorf("Wait for a process whose sandbox died = %+v, %v; want exit code -1, no error", res, err)
	}
	_, runErr := sb.Run(ctx, agentbox.Command{Cmd: "true"})
	_, openErr := sb.Open(ctx, "f.txt")
	_, listErr := sb.List(ctx, ".")
	_, startErr := sb.StartProcess(ctx, agentbox.Command{Cmd: "true"})
	_, previewErr := sb.PreviewURL(ctx, 3000)
	for _, c := range []struct {
		op  string
		err error
	}{
		{"Run", runErr},
		{"WriteFiles", sb.WriteFiles(ctx, []agentbox.File{{Path: "f.txt", Data: []byte("x")}})},
		{"Open", openErr},
		{"List", listErr},
		{"StartProcess", startErr},
		{"PreviewURL", previewErr},
		{"SetLifetime", sb.SetLifetime(ctx, time.Minute)},
	} {
		if !errors.Is(c.err, agentbox.ErrSandboxGone) {
			t.Errorf("%s after the sandbox died: %v, want an error matching agentbox.ErrSandboxGone", c.op, c.err)
		}
	}
	if _, err := e2b.Connect(ctx, sb.ID(), srv.Config()); !errors.Is(err, agentbox.ErrSandboxGone) {
		t.Errorf("Connect to a dead sandbox: %v, want an error matching agentbox.ErrSandboxGone", err)
	}
	if err := sb.Close(ctx); err != nil {
		t.Errorf("Close of a dead sandbox (DELETE answers 404): %v, want nil", err)
	}
	if st := srv.Stats(); st.Died != 1 || st.Alive != 0 {
		t.Errorf("the fake counts %+v, want 1 died and none alive", st)
	}
}

// TestMissingFilesAndProcesses checks the errors of what does not exist.
func TestMissingFilesAndProcesses(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	ctx := t.Context()
	if _, err := sb.Open(ctx, "."); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a directory: %v, want an error (400) that is not fs.ErrNotExist", err)
	}
	if err := sb.StopProcess(ctx, "4194304"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StopProcess of a pid that runs nothing: %v, want fs.ErrNotExist", err)
	}
	// A process a command left behind is not one envd started: StopProcess
	// leaves it alone.
	var out strings.Builder
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: "nohup sleep 300 >/dev/null 2>&1 & echo $!", Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	left := strings.TrimSpace(out.String())
	if err := sb.StopProcess(ctx, left); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StopProcess of a process envd did not start: %v, want fs.ErrNotExist", err)
	}
	if stat, err := os.ReadFile("/proc/" + left + "/stat"); err != nil || strings.Contains(string(stat), ") T ") {
		t.Errorf("the process left behind is %q, %v; want it untouched: running, not stopped", stat, err)
	}
	syscall.Kill(atoi(left), syscall.SIGKILL)
	if _, err := sb.Run(ctx, agentbox.Command{Cmd: "true", Dir: "no/such/dir"}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Run in a missing Dir: %v, want envd's invalid_argument error", err)
	}
	for _, files := range [][]agentbox.File{
		{{Path: "a"}, {Path: "./a"}}, // one path twice
		{{Path: ""}},
		{{Path: "dir/"}},
	} {
		if err := sb.WriteFiles(ctx, files); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("WriteFiles(%+v): %v, want fs.ErrInvalid", files, err)
		}
	}
	started := len(srv.Commands())
	for _, env := range []map[string]string{{"": "x"}, {"A=B": "x"}, {"A": "x\x00y"}} {
		_, runErr := sb.Run(ctx, agentbox.Command{Cmd: "true", Env: env})
		_, startErr := sb.StartProcess(ctx, agentbox.Command{Cmd: "true", Env: env})
		if runErr == nil || startErr == nil || !strings.Contains(runErr.Error(), "invalid environment variable") {
			t.Errorf("Run and StartProcess with Env %q: %v, %v; want an invalid environment variable error", env, runErr, startErr)
		}
	}
	if n := len(srv.Commands()) - started; n != 0 {
		t.Errorf("%d commands with bad variables reached envd, want none", n)
	}
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "d/x", Data: nil}}); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFiles(ctx, []agentbox.File{{Path: "d", Data: []byte("x")}}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("WriteFiles over a directory: %v, want envd's 400", err)
	}
}

// TestAccessTokenRequired checks that envd refuses a client without the
// sandbox's access token, and that it is reported as an auth error.
func TestAccessTokenRequired(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	// Debug mode with the fake's address as envd's: no control plane, so no
	// access token.
	noToken, err := e2b.Connect(t.Context(), sb.ID(), e2b.Config{Debug: true, SandboxURL: srv.URL(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer noToken.Close(t.Context())
	if _, err := noToken.Run(t.Context(), agentbox.Command{Cmd: "true"}); !errors.Is(err, e2b.ErrAuth) {
		t.Errorf("Run without the access token: %v, want an error matching e2b.ErrAuth", err)
	}
	if err := noToken.WriteFiles(t.Context(), []agentbox.File{{Path: "f", Data: nil}}); !errors.Is(err, e2b.ErrAuth) {
		t.Errorf("WriteFiles without the access token: %v, want an error matching e2b.ErrAuth", err)
	}
}

// TestUnreachable points the control plane and envd at a port nothing
// listens on: errors with no status that say what failed.
func TestUnreachable(t *testing.T) {
	ln := closedAddress(t)
	_, err := e2b.New(t.Context(), e2b.Config{APIKey: "e2b_unused_key_000000", APIURL: "http://" + ln})
	var e *e2b.Error
	if !errors.As(err, &e) || e.StatusCode != 0 || e.Op != "create sandbox" || !strings.Contains(err.Error(), "refused") {
		t.Errorf("New with an unreachable control plane: %v, want an *e2b.Error with no status saying the connection was refused", err)
	}
	sb, err := e2b.Connect(t.Context(), "abc", e2b.Config{Debug: true, SandboxURL: "http://" + ln})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(t.Context())
	_, openErr := sb.Open(t.Context(), "f")
	_, runErr := sb.Run(t.Context(), agentbox.Command{Cmd: "true"})
	for _, err := range []error{openErr, runErr, sb.WriteFiles(t.Context(), []agentbox.File{{Path: "f"}})} {
		if err == nil || !strings.Contains(err.Error(), "refused") || errors.Is(err, agentbox.ErrSandboxGone) {
			t.Errorf("with envd unreachable: %v, want a connection error (not a dead sandbox: there is no edge to say so)", err)
		}
	}
}

// closedAddress returns a loopback address that nothing listens on.
func closedAddress(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestCloseRetriesAFailedKill has E2B fail the kill: Close reports it, the
// sandbox is closed for use, and a second Close kills it.
func TestCloseRetriesAFailedKill(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb, err := e2b.New(t.Context(), srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	srv.FailKills(http.StatusInternalServerError, 1)
	var e *e2b.Error
	if err := sb.Close(t.Context()); !errors.As(err, &e) || e.StatusCode != 500 {
		t.Errorf("Close when E2B fails the kill: %v, want its 500", err)
	}
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "true"}); !errors.Is(err, agentbox.ErrClosed) {
		t.Errorf("Run after a Close whose kill failed: %v, want agentbox.ErrClosed", err)
	}
	if err := sb.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := sb.Close(t.Context()); err != nil {
		t.Errorf("third Close: %v", err)
	}
	if st := srv.Stats(); st.Alive != 0 || st.Killed != 1 {
		t.Errorf("the fake counts %+v, want the sandbox killed by the second Close", st)
	}
}

// TestMissingTemplate checks that creating from a template that does not
// exist is a clear error, not a sandbox gone, and that a pool gives up on it.
func TestMissingTemplate(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{Templates: []string{"base"}})
	cfg := srv.Config()
	cfg.Template = "no-such-template"
	_, err := e2b.New(t.Context(), cfg)
	var e *e2b.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusNotFound || errors.Is(err, agentbox.ErrSandboxGone) || !strings.Contains(err.Error(), "no-such-template") {
		t.Errorf("New from a missing template: %v, want a 404 naming the template that is not agentbox.ErrSandboxGone", err)
	}
	pool := e2b.NewPool(cfg, 1)
	defer pool.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := pool.Get(ctx); !errors.As(err, &e) || e.StatusCode != http.StatusNotFound {
		t.Errorf("Get from a pool of a missing template: %v, want its 404 at once", err)
	}
	newSandbox(t, srv.Config()) // base exists
}

// TestSecretsNeverInErrorFields has the control plane echo the API key, and
// envd the access token, into every field of their error bodies: no field
// of the errors, nor any error they wrap, may show either, however printed.
func TestSecretsNeverInErrorFields(t *testing.T) {
	const key = "e2b_echoed_key_0123456789abcdef"
	const token = "envd_echoed_token_0123456789abcdef"
	echo := func(header string, codeField string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			v := r.Header.Get(header)
			body, _ := json.Marshal(map[string]any{codeField: v, "message": "who is " + v + "?"})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write(body)
		}
	}
	var errs []error
	for _, codeField := range []string{"code", "error_code"} {
		control := httptest.NewServer(echo("X-API-Key", codeField))
		cfg := e2b.Config{APIKey: key, APIURL: control.URL}
		_, newErr := e2b.New(t.Context(), cfg)
		_, listErr := e2b.List(t.Context(), cfg, nil)
		_, connErr := e2b.Connect(t.Context(), "abc", cfg)
		control.Close()
		errs = append(errs, newErr, listErr, connErr)
	}
	// A control plane that hands out the token, and an envd that echoes it.
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sandboxID":"sbx1","templateID":"base","clientID":"c","envdVersion":"0.6.13","envdAccessToken":%q}`, token)
	}))
	defer control.Close()
	envd := httptest.NewServer(echo("X-Access-Token", "code"))
	defer envd.Close()
	sb, err := e2b.New(t.Context(), e2b.Config{APIKey: key, APIURL: control.URL, SandboxURL: envd.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(t.Context())
	_, openErr := sb.Open(t.Context(), "f")
	_, runErr := sb.Run(t.Context(), agentbox.Command{Cmd: "true"})
	_, listErr := sb.List(t.Context(), ".")
	errs = append(errs, openErr, runErr, listErr, sb.WriteFiles(t.Context(), []agentbox.File{{Path: "f"}}))
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d: no error from a server answering 403", i)
			continue
		}
		if !errors.Is(err, e2b.ErrAuth) {
			t.Errorf("call %d: %v does not match e2b.ErrAuth", i, err)
		}
		for _, s := range errorTexts(err) {
			if strings.Contains(s, key) || strings.Contains(s, token) {
				t.Errorf("call %d: a secret is shown: %s", i, s)
			}
		}
	}
	if s := openErr.Error(); !strings.Contains(s, "who is [redacted]?") {
		t.Errorf("Open: %q, want envd's message with the token redacted", s)
	}
}

// errorTexts returns err and every error it wraps as %v, %+v, %#v and JSON
// print them.
func errorTexts(err error) []string {
	var texts []string
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		data, _ := json.Marshal(err)
		texts = append(texts, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), string(data))
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return texts
}
