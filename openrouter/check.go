package openrouter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/agentbox/agentbox"
)

// Check asks the server, before any run, whether the key works (GET /key)
// and whether the configured models exist (GET /models), and returns the
// precise error when not: auth for a bad key, model not found for a missing
// model. A server without /key (not OpenRouter) skips that part.
func (p *Provider) Check(ctx context.Context) error {
	if status, body, err := p.get(ctx, "key"); err != nil {
		return err
	} else if status >= 400 && status != http.StatusNotFound {
		return redact(statusError(&http.Response{StatusCode: status, Header: http.Header{}}, body, ""), p.cfg.APIKey)
	}
	if len(p.cfg.Models) == 0 {
		return nil
	}
	status, body, err := p.get(ctx, "models")
	if err != nil {
		return err
	}
	if status >= 400 {
		return redact(statusError(&http.Response{StatusCode: status, Header: http.Header{}}, body, ""), p.cfg.APIKey)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("openrouter: the model list is not JSON: %w", err)
	}
	ids := make([]string, len(list.Data))
	for i, m := range list.Data {
		ids[i] = m.ID
	}
	for _, m := range p.cfg.Models {
		if !slices.Contains(ids, m) {
			return &agentbox.ProviderError{
				Provider: name,
				Kind:     agentbox.KindModelNotFound,
				Message:  "no such model",
				Model:    m,
				Hint:     "check the model ID at https://openrouter.ai/models",
			}
		}
	}
	return nil
}

// get sends GET path and returns the status and the body.
func (p *Provider) get(ctx context.Context, path string) (int, []byte, error) {
	var resp *http.Response
	err := p.client.Get(ctx, path, nil, &resp)
	if resp == nil || refusedRedirect(err) {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, redact(transportError("", err), p.cfg.APIKey)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, redact(transportError("", err), p.cfg.APIKey)
	}
	return resp.StatusCode, body, nil
}
