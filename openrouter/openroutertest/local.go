package openroutertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// A Kind is the kind of server a [Server] plays: OpenRouter (the zero
// value), or a local model server with its quirks. Set Server.Kind before
// the first request.
type Kind string

// The kinds of servers a Server plays. The local ones differ from
// OpenRouter in what is measured of the real servers (their sources, as of
// 2026): they have no /key (404), list their models in their own shape,
// answer an unknown model in their own way, put no cost in usage, and send
// usage only when the request asks for it (stream_options.include_usage),
// but for llama.cpp's server, which always does. Streams made by
// [FromStep] are sent in their form; recorded bodies are sent as they are.
const (
	// OpenRouter is OpenRouter's API: /key, its model list, usage with a
	// cost in every stream, tool calls streamed in pieces.
	OpenRouter Kind = ""
	// Ollama is Ollama's OpenAI-compatible API (/v1): models listed with a
	// tag ("llama3.2:latest") and found without it, a 404 for others, no
	// key checked, reasoning as "reasoning", each tool call whole in one
	// chunk, the finish reason in a chunk of its own.
	Ollama Kind = "ollama"
	// VLLM is vLLM's OpenAI-compatible server: models listed with root,
	// parent and max_model_len, a 404 in its own shape ({"object":"error",
	// ...}) for others, reasoning as "reasoning_content", each tool call
	// whole in one chunk.
	VLLM Kind = "vllm"
	// LlamaCpp is llama.cpp's server (llama-server) with one model: listed
	// with owned_by "llamacpp", meta and an Ollama-style "models" array,
	// and used whatever model a request names; reasoning as
	// "reasoning_content", usage always sent, each tool call whole in one
	// chunk.
	LlamaCpp Kind = "llamacpp"
)

// serveLocal answers the requests of a local kind of server, other than
// chat completions that find their model.
func (s *Server) serveLocal(w http.ResponseWriter, r *http.Request, kind Kind, key string, models []string, body []byte) (handled bool) {
	if key != "" && kind != Ollama && r.Header.Get("Authorization") != "Bearer "+key {
		if kind == VLLM {
			writeJSON(w, http.StatusUnauthorized, `{"error":"Unauthorized"}`)
		} else {
			writeJSON(w, http.StatusUnauthorized, `{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}`)
		}
		return true
	}
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		writeJSON(w, http.StatusOK, modelList(kind, models))
		return true
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat/completions"):
		var req struct {
			Model string `json:"model"`
		}
		json.Unmarshal(body, &req)
		if len(models) == 0 || kind == LlamaCpp || slices.Contains(models, req.Model) ||
			(kind == Ollama && slices.Contains(models, req.Model+":latest")) {
			return false
		}
		name, _ := json.Marshal(req.Model)
		if kind == VLLM {
			msg, _ := json.Marshal(fmt.Sprintf("The model `%s` does not exist.", req.Model))
			writeJSON(w, http.StatusNotFound, `{"object":"error","message":`+string(msg)+`,"type":"NotFoundError","param":null,"code":404}`)
		} else {
			msg, _ := json.Marshal(fmt.Sprintf("model %s not found, try pulling it first", name))
			writeJSON(w, http.StatusNotFound, `{"error":{"message":`+string(msg)+`,"type":"api_error","param":null,"code":null}}`)
		}
		return true
	case r.Method == http.MethodPost:
		return false
	}
	// No /key, nor anything else.
	if kind == VLLM {
		writeJSON(w, http.StatusNotFound, `{"detail":"Not Found"}`)
	} else {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("404 page not found"))
	}
	return true
}

// modelList returns GET /models as kind answers it.
func modelList(kind Kind, models []string) string {
	const created = 1767225600
	var data []map[string]any
	for _, m := range models {
		entry := map[string]any{"id": m, "object": "model", "created": created}
		switch kind {
		case Ollama:
			entry["owned_by"] = "library"
		case VLLM:
			entry["owned_by"] = "vllm"
			entry["root"] = m
			entry["parent"] = nil
			entry["max_model_len"] = 32768
			entry["permission"] = []any{map[string]any{"id": "modelperm-1", "object": "model_permission", "allow_sampling": true}}
		case LlamaCpp:
			entry["owned_by"] = "llamacpp"
			entry["meta"] = map[string]any{"vocab_type": 2, "n_vocab": 128256, "n_ctx_train": 131072, "n_embd": 3072, "n_params": 3212749888, "size": 2019373056}
		}
		data = append(data, entry)
	}
	list := map[string]any{"object": "list", "data": data} // Ollama's data is null with no model
	if kind == LlamaCpp {
		var ms []map[string]any
		for _, m := range models {
			ms = append(ms, map[string]any{"name": m, "model": m, "type": "model", "capabilities": []string{"completion"}})
		}
		list["models"] = ms
	}
	out, _ := json.Marshal(list)
	return string(out)
}

// localEvents returns the events of step as kind streams them, with usage
// when the request asked for it (or always, for llama.cpp's server).
func localEvents(kind Kind, step agentboxtest.Step, body []byte) []string {
	var req struct {
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	json.Unmarshal(body, &req)
	withUsage := kind == LlamaCpp || (req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
	reasoningKey := "reasoning_content"
	if kind == Ollama {
		reasoningKey = "reasoning"
	}
	chunk := func(delta map[string]any, finish any) string {
		data, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-local", "object": "chat.completion.chunk", "created": 1767225600, "model": "local/model",
			"system_fingerprint": "fp_" + string(kind),
			"choices":            []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		})
		return string(data)
	}
	var (
		events []string
		calls  []map[string]any // whole, by index
		usage  *agentbox.Usage
		first  = true
	)
	role := func(delta map[string]any) map[string]any {
		if first {
			delta["role"] = "assistant"
			first = false
		}
		return delta
	}
	for _, c := range step.Chunks() {
		if c.Reasoning != "" {
			events = append(events, chunk(role(map[string]any{"content": "", reasoningKey: c.Reasoning}), nil))
		}
		if c.Text != "" {
			events = append(events, chunk(role(map[string]any{"content": c.Text}), nil))
		}
		for _, d := range c.ToolCalls {
			for len(calls) <= d.Index {
				calls = append(calls, map[string]any{"index": len(calls), "type": "function", "function": map[string]any{"name": "", "arguments": ""}})
			}
			call, fn := calls[d.Index], calls[d.Index]["function"].(map[string]any)
			if d.ID != "" {
				call["id"] = d.ID
			}
			if d.Name != "" {
				fn["name"] = d.Name
			}
			fn["arguments"] = fn["arguments"].(string) + d.Arguments
		}
		if c.FinishReason != "" {
			if len(calls) > 0 {
				events = append(events, chunk(role(map[string]any{"content": nil, "tool_calls": calls}), nil))
				calls = nil
			}
			events = append(events, chunk(map[string]any{}, string(c.FinishReason)))
		}
		if c.Usage != nil {
			usage = c.Usage
		}
	}
	if usage != nil && withUsage {
		data, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-local", "object": "chat.completion.chunk", "created": 1767225600, "model": "local/model",
			"choices": []any{},
			"usage": map[string]any{ // no cost: nothing is paid for
				"prompt_tokens":     usage.PromptTokens,
				"completion_tokens": usage.CompletionTokens,
				"total_tokens":      usage.TotalTokens(),
			},
		})
		events = append(events, string(data))
	}
	return append(events, "[DONE]")
}
