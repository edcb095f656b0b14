package e2b

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/internal/api"
)

// requestTimeout bounds each call to the control plane, as in the official
// SDKs.
const requestTimeout = time.Minute

// Backoff of retried creates.
const (
	retryDelay    = 500 * time.Millisecond
	maxRetryDelay = 10 * time.Second
)

// control is a client of E2B's control plane (the REST API).
type control struct {
	cfg    Config
	client *api.ClientWithResponses
}

func newControl(cfg Config) (*control, error) {
	if cfg.APIKey == "" {
		return nil, &Error{Op: "configure", Message: "no API key: set Config.APIKey or E2B_API_KEY", Kind: agentbox.KindAuth}
	}
	// The key goes only to the control plane, never where it redirects.
	hc, err := originClient(cfg.httpClient(), cfg.apiURL(), http.Header{"X-Api-Key": {cfg.APIKey}})
	if err != nil {
		return nil, err
	}
	hc.Transport = &cappedAnswers{next: hc.Transport, max: maxControlAnswer}
	client, err := api.NewClientWithResponses(cfg.apiURL(),
		api.WithHTTPClient(hc),
		api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("User-Agent", userAgent)
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("e2b: control plane client: %w", err)
	}
	return &control{cfg: cfg, client: client}, nil
}

// create creates a sandbox; with retry, it retries while E2B is out of
// capacity for the account (429) or for everyone (503).
func (c *control) create(ctx context.Context, retry bool) (api.Sandbox, error) {
	body := api.NewSandbox{
		TemplateID:          c.cfg.template(),
		Timeout:             ptr(seconds(c.cfg.lifetime())),
		Secure:              ptr(!c.cfg.Insecure),
		AllowInternetAccess: ptr(!c.cfg.NoInternet),
	}
	if c.cfg.AutoPause {
		body.AutoPause = ptr(true) // left out otherwise: E2B's default, kill
	}
	if len(c.cfg.Metadata) > 0 {
		m := api.SandboxMetadata(c.cfg.Metadata)
		body.Metadata = &m
	}
	if len(c.cfg.Env) > 0 {
		e := api.EnvVars(c.cfg.Env)
		body.EnvVars = &e
	}
	for attempt := 0; ; attempt++ {
		info, err := c.createOnce(ctx, body)
		var e *Error
		if err == nil || !retry || !errors.As(err, &e) || (e.StatusCode != http.StatusTooManyRequests && e.StatusCode != http.StatusServiceUnavailable) {
			return info, err
		}
		d := min(retryDelay<<min(attempt, 20), maxRetryDelay)
		t := time.NewTimer(d/2 + rand.N(d/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return api.Sandbox{}, fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		}
	}
}

// createOnce asks E2B for a sandbox. E2B goes on creating a sandbox whose
// request was given up, so the request is not cancelled with ctx: when ctx
// ends first, createOnce returns at once, and the sandbox the request
// creates is killed as soon as the answer comes.
func (c *control) createOnce(ctx context.Context, body api.NewSandbox) (api.Sandbox, error) {
	const op = "create sandbox"
	if err := ctx.Err(); err != nil {
		return api.Sandbox{}, fmt.Errorf("e2b: %s: %w", op, err)
	}
	type result struct {
		info api.Sandbox
		err  error
	}
	results := make(chan result)
	abandoned := make(chan struct{})
	go func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		defer cancel()
		var r result
		resp, err := c.client.PostSandboxesWithResponse(rctx, body)
		switch {
		case err != nil:
			r.err = c.transportError(ctx, op, err) // ctx: the request's own timeout is E2B's failure
		case resp.JSON201 == nil:
			r.err = statusError(op, resp.StatusCode(), resp.Body, account, c.cfg.APIKey)
		default:
			r.info = *resp.JSON201
		}
		select {
		case results <- r:
		case <-abandoned:
			if r.err == nil {
				kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
				defer cancel()
				c.kill(kctx, r.info.SandboxID) // a failure leaves it to its lifetime
			}
		}
	}()
	select {
	case r := <-results:
		return r.info, r.err
	case <-ctx.Done():
		close(abandoned)
		return api.Sandbox{}, fmt.Errorf("e2b: %s: %w", op, ctx.Err())
	}
}

// connect connects to a sandbox, resuming it if it is paused, and sets its
// lifetime.
func (c *control) connect(ctx context.Context, id string) (api.Sandbox, error) {
	info, _, err := c.resume(ctx, id, c.cfg.lifetime())
	return info, err
}

// resume connects to sandbox id, which resumes it if it is paused (E2B
// answers 201 then, 200 when it was running), and makes it live at least d
// from now: connecting only extends a lifetime.
func (c *control) resume(ctx context.Context, id string, d time.Duration) (api.Sandbox, bool, error) {
	op := "connect to sandbox " + id
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.client.PostSandboxesSandboxIDConnectWithResponse(rctx, id, api.ConnectSandbox{Timeout: seconds(d)})
	if err != nil {
		return api.Sandbox{}, false, c.transportError(ctx, op, err)
	}
	switch {
	case resp.JSON200 != nil:
		return *resp.JSON200, false, nil
	case resp.JSON201 != nil:
		return *resp.JSON201, true, nil
	}
	return api.Sandbox{}, false, statusError(op, resp.StatusCode(), resp.Body, controlPlane, c.cfg.APIKey)
}

// pause pauses sandbox id, with its memory; one already paused (409) is not
// an error.
func (c *control) pause(ctx context.Context, id string) error {
	op := "pause sandbox " + id
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.client.PostSandboxesSandboxIDPauseWithResponse(rctx, id, api.SandboxPauseRequest{Memory: ptr(true)})
	if err != nil {
		return c.transportError(ctx, op, err)
	}
	if s := resp.StatusCode(); s != http.StatusNoContent && s != http.StatusConflict {
		return statusError(op, s, resp.Body, controlPlane, c.cfg.APIKey)
	}
	return nil
}

// state returns the state of sandbox id: running or paused.
func (c *control) state(ctx context.Context, id string) (api.SandboxState, error) {
	op := "get sandbox " + id
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.client.GetSandboxesSandboxIDWithResponse(rctx, id)
	if err != nil {
		return "", c.transportError(ctx, op, err)
	}
	if resp.JSON200 == nil {
		return "", statusError(op, resp.StatusCode(), resp.Body, controlPlane, c.cfg.APIKey)
	}
	return resp.JSON200.State, nil
}

// fork makes n sandboxes from a snapshot of the running sandbox id, each
// living d. E2B answers one result per fork: a sandbox, or why that fork did
// not start; those are returned as the error, with the forks that started.
func (c *control) fork(ctx context.Context, id string, n int, d time.Duration) ([]api.Sandbox, error) {
	op := "fork sandbox " + id
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.client.PostSandboxesSandboxIDForkWithResponse(rctx, id, api.SandboxForkRequest{
		Count:   ptr(int32(n)),
		Timeout: ptr(seconds(d)),
	})
	if err != nil {
		return nil, c.transportError(ctx, op, err)
	}
	if resp.JSON201 == nil {
		return nil, statusError(op, resp.StatusCode(), resp.Body, controlPlane, c.cfg.APIKey)
	}
	var forks []api.Sandbox
	var errs []error
	for i, r := range *resp.JSON201 {
		switch {
		case r.Sandbox != nil:
			forks = append(forks, *r.Sandbox)
		case r.Error != nil:
			e := &Error{Op: fmt.Sprintf("%s: fork %d", op, i+1), StatusCode: int(r.Error.Code), Message: redact(r.Error.Message, c.cfg.APIKey)}
			switch r.Error.Code {
			case http.StatusUnauthorized, http.StatusForbidden:
				e.Kind = agentbox.KindAuth
			case http.StatusTooManyRequests:
				e.Kind = agentbox.KindRateLimited
			default:
				if r.Error.Code >= 500 {
					e.Kind = agentbox.KindUpstream
				}
			}
			errs = append(errs, e)
		default:
			errs = append(errs, &Error{Op: fmt.Sprintf("%s: fork %d", op, i+1), Message: "E2B answered neither a sandbox nor an error"})
		}
	}
	if len(forks)+len(errs) != n {
		errs = append(errs, &Error{Op: op, StatusCode: resp.StatusCode(), Message: fmt.Sprintf("E2B answered %d results for %d forks", len(forks)+len(errs), n)})
	}
	return forks, errors.Join(errs...)
}

// setLifetime makes sandbox id live d from now.
func (c *control) setLifetime(ctx context.Context, id string, d time.Duration) error {
	op := "set lifetime of sandbox " + id
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.client.PostSandboxesSandboxIDTimeoutWithResponse(rctx, id, api.SandboxTimeoutRequest{Timeout: seconds(d)})
	if err != nil {
		return c.transportError(ctx, op, err)
	}
	if resp.StatusCode() != http.StatusNoContent {
		return statusError(op, resp.StatusCode(), resp.Body, controlPlane, c.cfg.APIKey)
	}
	return nil
}

// kill kills sandbox id; one already gone (404) is not an error.
func (c *control) kill(ctx context.Context, id string) error {
	op := "kill sandbox " + id
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.client.DeleteSandboxesSandboxIDWithResponse(rctx, id)
	if err != nil {
		return c.transportError(ctx, op, err)
	}
	if s := resp.StatusCode(); s != http.StatusNoContent && s != http.StatusNotFound && s != http.StatusOK {
		return statusError(op, s, resp.Body, controlPlane, c.cfg.APIKey)
	}
	return nil
}

// list lists the running and paused sandboxes with the given metadata.
func (c *control) list(ctx context.Context, metadata map[string]string) ([]Info, error) {
	const op = "list sandboxes"
	params := api.GetV2SandboxesParams{
		State: &[]api.SandboxState{api.Running, api.Paused},
		Limit: ptr[api.PaginationLimit](100),
	}
	if len(metadata) > 0 {
		q := url.Values{}
		for k, v := range metadata {
			q.Set(k, v)
		}
		params.Metadata = ptr(q.Encode())
	}
	var all []Info
	for {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		resp, err := c.client.GetV2SandboxesWithResponse(rctx, &params)
		cancel()
		if err != nil {
			return nil, c.transportError(ctx, op, err)
		}
		if resp.JSON200 == nil {
			return nil, statusError(op, resp.StatusCode(), resp.Body, account, c.cfg.APIKey)
		}
		for _, l := range *resp.JSON200 {
			all = append(all, infoOf(l))
		}
		next := resp.HTTPResponse.Header.Get("X-Next-Token")
		if next == "" || len(*resp.JSON200) == 0 {
			return all, nil
		}
		params.NextToken = &next
	}
}

// transportError reports a request that got no answer: the caller's ctx's
// error when it is done, else what went wrong (a request that ran past
// requestTimeout included).
func (c *control) transportError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("e2b: %s: %w", op, ctx.Err())
	}
	return transportError(op, err, c.cfg.APIKey)
}

func ptr[T any](v T) *T { return &v }

// maxControlAnswer is the largest answer read from the control plane, whose
// answers are small JSON documents (lists come in pages).
const maxControlAnswer = 16 << 20

// cappedAnswers reads at most max bytes of each answer's body: past it, the
// read fails, rather than taking all memory.
type cappedAnswers struct {
	next http.RoundTripper
	max  int64
}

func (c *cappedAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err == nil {
		resp.Body = &cappedBody{ReadCloser: resp.Body, left: c.max}
	}
	return resp, err
}

// CloseIdleConnections closes the idle connections of the transport below,
// for [http.Client.CloseIdleConnections].
func (c *cappedAnswers) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// A cappedBody fails once more than left bytes are read.
type cappedBody struct {
	io.ReadCloser
	left int64
}

var errAnswerTooLarge = fmt.Errorf("the control plane's answer is larger than %d MiB", maxControlAnswer>>20)

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n == 0 && err != nil {
			return 0, err // the end, or a failure, right at the limit
		}
		return 0, errAnswerTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
