package openrouter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/agentbox/agentbox"
)

// Check asks the server, before any run, whether the key works (GET /key)
// and whether the configured models exist (GET /models), and returns the
// precise error when not: auth for a bad key, model not found for a missing
// model. It works with servers that are not OpenRouter: one without /key
// (OpenAI, Ollama, vLLM, llama.cpp's server) skips that part, and one
// without /models skips the other. See [Provider.Models] for how a model
// is found in the list.
func (p *Provider) Check(ctx context.Context) error {
	if status, body, err := p.get(ctx, "key"); err != nil {
		return err
	} else if status >= 400 && !absent(status) {
		return p.finish(statusError(&http.Response{StatusCode: status, Header: http.Header{}}, body, ""))
	}
	if len(p.cfg.Models) == 0 {
		return nil
	}
	list, err := p.list(ctx)
	if err != nil || list == nil {
		return err
	}
	for _, m := range p.cfg.Models {
		if list.serves(m) {
			continue
		}
		e := &agentbox.ProviderError{
			Provider: name,
			Kind:     agentbox.KindModelNotFound,
			Message:  "no such model",
			Model:    m,
			Hint:     "check the model ID at https://openrouter.ai/models",
		}
		if !p.openRouter {
			e.Hint = list.hint(p.base.JoinPath("models").String())
		}
		return p.finish(e)
	}
	return nil
}

// Models returns the IDs of the models the server lists (GET /models), in
// its order: OpenRouter's catalogue, or what a local server has (Ollama's
// pulled models, vLLM's served model names, llama.cpp's loaded model and
// its aliases). It returns nil, and no error, for a server without
// /models.
func (p *Provider) Models(ctx context.Context) ([]string, error) {
	list, err := p.list(ctx)
	if err != nil || list == nil {
		return nil, err
	}
	return list.ids(), nil
}

// absent reports whether status says that an endpoint does not exist, as
// servers other than OpenRouter answer for /key (and some for /models).
func absent(status int) bool {
	switch status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	}
	return false
}

// list returns the server's model list, or nil when it has none.
func (p *Provider) list(ctx context.Context) (*modelList, error) {
	status, body, err := p.get(ctx, "models")
	if err != nil {
		return nil, err
	}
	if absent(status) {
		return nil, nil
	}
	if status >= 400 {
		return nil, p.finish(statusError(&http.Response{StatusCode: status, Header: http.Header{}}, body, ""))
	}
	var list modelList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%s: the model list is not JSON: %w", p.name, err)
	}
	return &list, nil
}

// modelList is the answer to GET /models, in the shapes servers send:
//
//   - OpenRouter: {"data":[{"id","name",...}]}
//   - OpenAI, and Ollama's /v1/models: {"object":"list","data":[{"id","object":"model","created","owned_by"}]}
//     (Ollama's data is null when no model is pulled, and its IDs carry a tag: "llama3.2:latest")
//   - vLLM: the same, with "root", "parent" and "max_model_len"
//   - llama.cpp's server: the same with "owned_by":"llamacpp" and "meta", one entry (the model it
//     serves, whatever model a request names), and in later versions an Ollama-style "models"
//     array beside it; in router mode, an entry per model with "aliases" and "status"
type modelList struct {
	Data []struct {
		ID      string          `json:"id"`
		OwnedBy string          `json:"owned_by"`
		Aliases []string        `json:"aliases"`
		Status  json.RawMessage `json:"status"`
	} `json:"data"`
	Models []struct {
		Name  string `json:"name"`
		Model string `json:"model"`
	} `json:"models"`
}

// ids returns the IDs listed, each once, aliases after their model.
func (l *modelList) ids() []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, m := range l.Data {
		add(m.ID)
		for _, a := range m.Aliases {
			add(a)
		}
	}
	for _, m := range l.Models {
		add(m.Name)
		add(m.Model)
	}
	return ids
}

// anyName reports whether the server answers with its one model whatever
// model a request names: llama.cpp's server with a single model (not in
// router mode, whose entries have a status).
func (l *modelList) anyName() bool {
	return len(l.Data) == 1 && l.Data[0].OwnedBy == "llamacpp" && len(l.Data[0].Status) == 0
}

// serves reports whether a request for model m would find it: listed by its
// ID or an alias, or, as Ollama resolves names, without its tag when the
// list has it tagged ":latest".
func (l *modelList) serves(m string) bool {
	if l.anyName() {
		return true
	}
	ids := l.ids()
	if slices.Contains(ids, m) {
		return true
	}
	if !strings.Contains(m[strings.LastIndex(m, "/")+1:], ":") {
		return slices.Contains(ids, m+":latest")
	}
	return false
}

// hint says what the server has, for an error about a model it lacks.
func (l *modelList) hint(url string) string {
	ids := l.ids()
	switch {
	case len(ids) == 0:
		return "the server lists no model at " + url + ": load or pull one first (e.g. ollama pull llama3.2)"
	case len(ids) > 10:
		return fmt.Sprintf("the server has %d models, listed at %s: %s, …", len(ids), url, strings.Join(ids[:10], ", "))
	}
	return "the server has " + strings.Join(ids, ", ")
}

// get sends GET path and returns the status and the body.
func (p *Provider) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := p.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := p.do(ctx, req, "")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, p.finish(transportError("", err))
	}
	return resp.StatusCode, body, nil
}
