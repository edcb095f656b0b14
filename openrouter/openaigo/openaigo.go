// Package openaigo is an [agentbox.Provider] on a caller's own
// [openai.Client] (github.com/openai/openai-go/v3): requests go out
// through that client, with its base URL, key, headers, middleware and HTTP
// client — OpenAI's API, Azure OpenAI (openai-go's azure package), or any
// OpenAI-compatible server it is configured for.
//
//	client := openai.NewClient(option.WithAPIKey(key)) // or azure.WithEndpoint(...), option.WithMiddleware(...)
//	p, err := openaigo.New(client, openrouter.Config{Models: []string{"gpt-4.1"}})
//
// Everything else is package openrouter's, shared with the provider that
// needs no openai-go: the streamed body is decoded by it (its wire types,
// its SSE decoder, OpenRouter's quirks), failures are the same typed
// [*agentbox.ProviderError]s, and retries before the first token and the
// fallbacks to the next of Config.Models are its own, each reported as a
// warning; the client's own retries are off for these requests, so that
// none goes unreported. Credentials the client sends (Authorization,
// api-key) never appear in errors: they are redacted from error responses
// and streams, as openrouter redacts its key.
//
// Only programs that import this package compile openai-go; package
// openrouter itself needs nothing but the standard library.
package openaigo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/internal/secret"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// A Provider streams chat completions through an openai.Client. It is safe
// for concurrent use.
type Provider struct {
	p      *openrouter.Provider
	models []string
}

var _ agentbox.Provider = (*Provider)(nil)

// placeholder is the base URL the openrouter provider is given: the
// transport sends its requests to the client's base URL instead.
const placeholder = "http://openai-go.client"

// New returns a provider sending its requests through client. cfg is as for
// [openrouter.New] — models and fallbacks, retries, reasoning, attribution
// headers, Name (empty means "openai") — but for APIKey, BaseURL and
// HTTPClient, which are the client's business and must be empty.
func New(client openai.Client, cfg openrouter.Config) (*Provider, error) {
	if cfg.APIKey != "" || cfg.BaseURL != "" || cfg.HTTPClient != nil {
		return nil, errors.New("openaigo: set the key, the base URL and the HTTP client on the openai.Client, not in openrouter.Config")
	}
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	cfg.BaseURL = placeholder
	cfg.HTTPClient = &http.Client{Transport: &transport{client: client}}
	p, err := openrouter.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("openaigo: %w", err)
	}
	return &Provider{p: p, models: cfg.Models}, nil
}

// Stream sends req through the client and streams the response, with the
// retries and fallbacks of package openrouter.
func (p *Provider) Stream(ctx context.Context, req *agentbox.Request) iter.Seq2[agentbox.Chunk, error] {
	return p.p.Stream(ctx, req)
}

// Check asks the client's server whether the configured models exist (GET
// /models), as [openrouter.Provider.Check] does.
func (p *Provider) Check(ctx context.Context) error { return p.p.Check(ctx) }

// Models returns the IDs of the models the client's server lists.
func (p *Provider) Models(ctx context.Context) ([]string, error) { return p.p.Models(ctx) }

// String describes the provider; the client's key is not in it.
func (p *Provider) String() string {
	return fmt.Sprintf("openai-go provider, models %v", p.models)
}

// GoString is String.
func (p *Provider) GoString() string { return p.String() }

// A transport sends the openrouter provider's requests through an
// openai.Client.
type transport struct {
	client openai.Client
}

// forwarded are the headers of the provider's requests that go along; the
// client sets its own credentials, content type and user agent.
var forwarded = []string{"HTTP-Referer", "X-Title", "Accept"}

// RoundTrip sends req through the client, to the same path relative to the
// client's base URL, with no retries of the client's. The response is the
// client's, whatever its status, with the credentials the client sent
// redacted from its body.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	var sent []string // the credentials the client sent
	opts := []option.RequestOption{
		option.WithMaxRetries(0),
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			sent = credentials(r.Header)
			return next(r)
		}),
	}
	for _, h := range forwarded {
		if v := req.Header.Get(h); v != "" {
			opts = append(opts, option.WithHeader(h, v))
		}
	}
	if body != nil {
		opts = append(opts, option.WithRequestBody("application/json", body))
	}
	var resp *http.Response
	path := strings.TrimPrefix(req.URL.Path, "/")
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	err := t.client.Execute(req.Context(), req.Method, path, nil, &resp, opts...)
	if resp == nil {
		if err == nil {
			err = errors.New("openaigo: the client gave no response")
		}
		return nil, secret.HideError(err, sent...)
	}
	// With an error status, err is openai-go's reading of the body, which
	// the provider reads itself: the client puts the body back.
	if len(sent) > 0 {
		secrets := make([][]byte, len(sent))
		for i, s := range sent {
			secrets[i] = []byte(s)
		}
		resp.Body = &redactingBody{r: bufio.NewReaderSize(resp.Body, 64<<10), c: resp.Body, secrets: secrets}
	}
	return resp, nil
}

// credentials returns the secrets in h: the bearer token, and the api-key
// header of Azure OpenAI.
func credentials(h http.Header) []string {
	var out []string
	if v := h.Get("Authorization"); v != "" {
		out = append(out, v)
		if token, ok := strings.CutPrefix(v, "Bearer "); ok && token != "" {
			out = append(out, token)
		}
	}
	if v := h.Get("Api-Key"); v != "" {
		out = append(out, v)
	}
	return out
}

// maxLine bounds the lines a redactingBody puts together: past that, the
// stream is broken (the SSE decoder refuses events a fraction of it long).
const maxLine = 32 << 20

// A redactingBody is a response body with secrets replaced, line by line,
// so that a secret is found whatever the reads that bring it.
type redactingBody struct {
	r       *bufio.Reader
	c       io.Closer
	secrets [][]byte
	long    []byte // a line longer than r's buffer, put together
	pending []byte // what is left of the current line
	err     error  // the error after pending
}

func (b *redactingBody) Read(p []byte) (int, error) {
	if len(b.pending) == 0 && b.err == nil {
		line, err := b.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			b.long = append(b.long[:0], line...)
			for err == bufio.ErrBufferFull && len(b.long) <= maxLine {
				line, err = b.r.ReadSlice('\n')
				b.long = append(b.long, line...)
			}
			if err == bufio.ErrBufferFull {
				err = errors.New("openaigo: a line of the response is too long")
			}
			line = b.long
		}
		b.err = err
		b.pending = hide(line, b.secrets)
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	if len(b.pending) == 0 && b.err != nil {
		return n, b.err
	}
	return n, nil
}

func (b *redactingBody) Close() error { return b.c.Close() }

// hide returns line with secrets replaced by secret.Mark; line itself when
// it holds none.
func hide(line []byte, secrets [][]byte) []byte {
	for _, s := range secrets {
		if bytes.Contains(line, s) {
			line = bytes.ReplaceAll(line, s, []byte(secret.Mark))
		}
	}
	return line
}
