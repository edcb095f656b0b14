package openrouter

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/internal/sse"
)

// A Provider streams chat completions from OpenRouter, or from any
// OpenAI-compatible server. It is safe for concurrent use.
type Provider struct {
	cfg        Config
	client     *http.Client // cfg.HTTPClient, refusing redirects to other origins
	base       *url.URL     // cfg.BaseURL, parsed
	openRouter bool         // base is OpenRouter's API
	name       string       // how errors name the provider
}

var _ agentbox.Provider = (*Provider)(nil)

// New returns a provider with cfg. It fails without an API key, unless
// BaseURL points at another server (a local model server may need none).
func New(cfg Config) (*Provider, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.APIKey == "" && cfg.BaseURL == DefaultBaseURL {
		return nil, errors.New("openrouter: no API key: set OPENROUTER_API_KEY or Config.APIKey (get one at https://openrouter.ai/settings/keys)")
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 2
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 500 * time.Millisecond
	}
	if cfg.MaxRetryDelay <= 0 {
		cfg.MaxRetryDelay = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	cfg.Models = slices.Clone(cfg.Models)
	hc, err := originClient(cfg.HTTPClient, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("openrouter: bad BaseURL %q: want an http or https URL such as %s", cfg.BaseURL, DefaultBaseURL)
	}
	return &Provider{
		cfg:        cfg,
		client:     hc,
		base:       base,
		openRouter: base.Host == "openrouter.ai",
		name:       cmp.Or(cfg.Name, name),
	}, nil
}

// userAgent is the User-Agent of every request.
const userAgent = "agentbox-openrouter/1"

// newRequest returns a request to path, relative to the base URL, with the
// key (for the base URL's origin only: see originClient) and the
// attribution headers. Nothing comes from the environment.
func (p *Provider) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base.JoinPath(path).String(), r)
	if err != nil {
		return nil, fmt.Errorf("openrouter: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", userAgent)
	if p.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.cfg.APIKey)
	}
	if p.cfg.Referer != "" {
		req.Header.Set("HTTP-Referer", p.cfg.Referer)
	}
	if p.cfg.Title != "" {
		req.Header.Set("X-Title", p.cfg.Title)
	}
	return req, nil
}

// do sends req. A response is returned only with a nil error; a request that
// got none (a refused redirect among them) fails with a ProviderError, or
// with ctx's error once ctx is done.
func (p *Provider) do(ctx context.Context, req *http.Request, model string) (*http.Response, error) {
	resp, err := p.client.Do(req)
	if err != nil {
		if resp != nil { // a refused redirect: its body is closed
			resp.Body.Close()
		}
		if ctx.Err() != nil && !refusedRedirect(err) {
			return nil, ctx.Err()
		}
		return nil, p.finish(transportError(model, err))
	}
	return resp, nil
}

// finish makes e this provider's: named as Config.Name says, the key
// redacted from every field.
func (p *Provider) finish(e *agentbox.ProviderError) *agentbox.ProviderError {
	e.Provider = p.name
	return redact(e, p.cfg.APIKey)
}

// defaultHTTPClient bounds connecting and waiting for headers, not streams.
func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute, // a model may think long before its first byte
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// String describes the provider without its key.
func (p *Provider) String() string {
	return fmt.Sprintf("openrouter provider %s, models %v", p.cfg.BaseURL, p.cfg.Models)
}

// GoString is String: the key stays out of %#v too.
func (p *Provider) GoString() string { return p.String() }

// Name is the provider's name: "openrouter", or Config.Name.
func (p *Provider) Name() string { return p.name }

// models returns the models to try for a request for model, in order.
func (p *Provider) models(model string) []string {
	var ms []string
	if model != "" {
		ms = append(ms, model)
	}
	for _, m := range p.cfg.Models {
		if !slices.Contains(ms, m) {
			ms = append(ms, m)
		}
	}
	return ms
}

// Stream sends req and streams the response. Before the first piece of the
// response arrives, retryable failures are retried and failing models fall
// back to the next of Config.Models, each reported as a Chunk with a Warning.
// See the package documentation for the errors.
func (p *Provider) Stream(ctx context.Context, req *agentbox.Request) iter.Seq2[agentbox.Chunk, error] {
	return func(yield func(agentbox.Chunk, error) bool) {
		models := p.models(req.Model)
		if len(models) == 0 {
			yield(agentbox.Chunk{}, fmt.Errorf("%s: no model: set Request.Model, Config.Models or OPENROUTER_MODEL", p.name))
			return
		}
		var last *agentbox.ProviderError
		for i, model := range models {
			if i > 0 {
				w := warning{fmt.Errorf("%s: falling back to %s: %w", p.name, model, last), agentbox.ErrFallingBack}
				if !yield(agentbox.Chunk{Warning: w}, nil) {
					return
				}
			}
			started, err := p.streamModel(ctx, req, models, i, yield)
			if err == nil || started {
				return
			}
			if ctx.Err() != nil {
				yield(agentbox.Chunk{}, ctx.Err())
				return
			}
			var pe *agentbox.ProviderError
			if !errors.As(err, &pe) || !fallsBack(pe, models[i+1:]) {
				yield(agentbox.Chunk{}, err)
				return
			}
			last = pe
		}
	}
}

// fallsBack reports whether a request that failed with e should go on to the
// next of models: yes for a missing or unavailable model, a rate limit that
// outlasted the retries, a failing provider; for no credits only when a free
// model is left.
func fallsBack(e *agentbox.ProviderError, next []string) bool {
	if len(next) == 0 {
		return false
	}
	switch e.Kind {
	case agentbox.KindModelNotFound, agentbox.KindRateLimited, agentbox.KindQuotaExhausted,
		agentbox.KindUpstream, agentbox.KindTimeout, agentbox.KindTruncated, agentbox.KindMidStream:
		return true
	case agentbox.KindNoCredits:
		return slices.ContainsFunc(next, func(m string) bool { return strings.HasSuffix(m, ":free") })
	}
	return false
}

// streamModel streams the response of models[i], retrying before the first
// chunk. It returns whether a chunk was yielded (after which nothing is
// retried) and the error that ended it, if any; an error after a chunk was
// yielded has been yielded too.
func (p *Provider) streamModel(ctx context.Context, req *agentbox.Request, models []string, i int, yield func(agentbox.Chunk, error) bool) (started bool, err error) {
	model := models[i]
	body := newChatRequest(req, model)
	body.Provider = p.cfg.Routing
	body.Reasoning = p.cfg.Reasoning
	if p.cfg.ServerFallback && len(models) > i+1 {
		body.Models = models[i:]
	}
	for attempt := 0; ; attempt++ {
		started, err = p.attempt(ctx, body, yield)
		if err == nil || started {
			return started, err
		}
		var pe *agentbox.ProviderError
		if !errors.As(err, &pe) || !pe.Retryable || attempt >= max(p.cfg.MaxRetries, 0) || ctx.Err() != nil {
			return false, err
		}
		delay := p.backoff(attempt, pe.RetryAfter)
		if delay < 0 {
			return false, err // the server asks for a longer wait than allowed
		}
		w := warning{fmt.Errorf("%s: retrying %s in %v (retry %d of %d): %w", p.name, model, delay.Round(time.Millisecond), attempt+1, p.cfg.MaxRetries, pe), agentbox.ErrRetrying}
		if !yield(agentbox.Chunk{Warning: w}, nil) {
			return true, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		}
	}
}

// backoff returns the delay before retry number attempt+1: what the server
// asked for, or an exponential delay with jitter; -1 when the server asks
// for more than MaxRetryDelay.
func (p *Provider) backoff(attempt int, asked time.Duration) time.Duration {
	if asked > p.cfg.MaxRetryDelay {
		return -1
	}
	if asked > 0 {
		return asked
	}
	d := min(p.cfg.RetryDelay<<min(attempt, 20), p.cfg.MaxRetryDelay)
	return d/2 + rand.N(d/2+1)
}

// attempt sends body once and streams its response. It reports whether a
// chunk was yielded; an error after that has been yielded.
func (p *Provider) attempt(ctx context.Context, body *chatRequest, yield func(agentbox.Chunk, error) bool) (started bool, err error) {
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false) // code is full of <, > and &
	if err := enc.Encode(body); err != nil {
		return false, fmt.Errorf("%s: encoding the request: %w", p.name, err)
	}
	req, err := p.newRequest(ctx, http.MethodPost, "chat/completions", data.Bytes())
	if err != nil {
		return false, err
	}
	resp, err := p.do(ctx, req, body.Model)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return false, p.finish(statusError(resp, data, body.Model))
	}
	s := newStreamer(resp.Body, body.Model)
	for {
		c, err := s.next()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			if err == io.EOF {
				return started, nil
			}
			if pe, ok := err.(*agentbox.ProviderError); ok {
				err = p.finish(pe)
			}
			if started {
				yield(agentbox.Chunk{}, err)
			}
			return started, err
		}
		started = true
		if !yield(c, nil) {
			return true, nil
		}
	}
}

// A streamer turns the SSE body of a chat completion into chunks.
type streamer struct {
	d        *sse.Decoder
	model    string
	c        chunk // decoded into again and again
	finished bool  // a finish reason was seen
	details  reasoningDetails
	named    bool // the model that answers was yielded
}

func newStreamer(r io.Reader, model string) *streamer {
	return &streamer{d: sse.NewDecoder(r), model: model}
}

var doneData = []byte("[DONE]")

// next returns the next chunk worth yielding; io.EOF at a proper end, or the
// error that ended the stream.
func (s *streamer) next() (agentbox.Chunk, error) {
	for {
		data, err := s.d.Next()
		if err != nil {
			if err == io.EOF && s.finished {
				return agentbox.Chunk{}, io.EOF
			}
			if err == io.EOF {
				err = nil
			}
			return agentbox.Chunk{}, truncated(s.model, err)
		}
		if bytes.Equal(data, doneData) {
			if !s.finished {
				return agentbox.Chunk{}, truncated(s.model, errors.New("[DONE] before a finish reason"))
			}
			return agentbox.Chunk{}, io.EOF
		}
		// encoding/json leaves alone what a chunk lacks: start from zero,
		// keeping the array of choices.
		clear(s.c.Choices[:cap(s.c.Choices)])
		s.c = chunk{Choices: s.c.Choices[:0], Model: s.c.Model[:0]}
		if err := json.Unmarshal(data, &s.c); err != nil {
			return agentbox.Chunk{}, truncated(s.model, fmt.Errorf("a chunk is not JSON: %w", err))
		}
		if s.c.Error != nil {
			return agentbox.Chunk{}, midStreamError(s.c.Error, s.model)
		}
		var out agentbox.Chunk
		if len(s.c.Choices) > 0 {
			ch := &s.c.Choices[0]
			if ch.Error != nil {
				return agentbox.Chunk{}, midStreamError(ch.Error, s.model)
			}
			if ch.FinishReason == string(agentbox.FinishError) {
				return agentbox.Chunk{}, midStreamError(&wireError{}, s.model)
			}
			out.Text = ch.Delta.Content
			out.Reasoning = cmp.Or(ch.Delta.Reasoning, ch.Delta.ReasoningContent)
			if len(ch.Delta.ReasoningDetails) > 0 {
				s.details.add(ch.Delta.ReasoningDetails)
			}
			if len(ch.Delta.ToolCalls) > 0 {
				out.ToolCalls = make([]agentbox.ToolCallDelta, len(ch.Delta.ToolCalls))
				for i, tc := range ch.Delta.ToolCalls {
					out.ToolCalls[i] = agentbox.ToolCallDelta{Index: tc.Index, ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
				}
			}
			if ch.FinishReason != "" {
				out.FinishReason = agentbox.FinishReason(ch.FinishReason)
				if !s.finished {
					out.ReasoningDetails = s.details.json()
				}
				s.finished = true
			}
		}
		if s.c.Usage != nil {
			out.Usage = s.c.Usage.agentboxUsage()
		}
		if !s.named && len(s.c.Model) > 2 {
			var m string
			if json.Unmarshal(s.c.Model, &m) == nil && m != "" {
				out.Model, s.named = m, true
			}
		}
		if out.Model != "" || out.Text != "" || out.Reasoning != "" || out.ToolCalls != nil || out.FinishReason != "" || out.Usage != nil || out.ReasoningDetails != nil {
			return out, nil
		}
	}
}

// A warning is a problem the provider recovered from: its text and cause
// are err's, and it matches what, agentbox.ErrRetrying or
// agentbox.ErrFallingBack.
type warning struct {
	err  error
	what error
}

func (w warning) Error() string   { return w.err.Error() }
func (w warning) Unwrap() []error { return []error{w.err, w.what} }
