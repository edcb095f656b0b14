package openrouter

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/internal/secret"
)

// name is how errors name this provider.
const name = "openrouter"

// statusError returns the error of a response with an error status and body.
func statusError(resp *http.Response, body []byte, model string) *agentbox.ProviderError {
	w := bodyError(body)
	if w.Message == "" {
		w.Message = strings.TrimSpace(string(body))
		if len(w.Message) > 200 || w.Message == "" || json.Valid(body) {
			w.Message = http.StatusText(resp.StatusCode)
		}
	}
	e := &agentbox.ProviderError{
		Provider:   name,
		StatusCode: resp.StatusCode,
		Code:       errorCode(&w),
		Message:    w.Message,
		Model:      model,
		Metadata:   w.Metadata,
		RetryAfter: retryAfter(resp.Header, &w),
	}
	classify(e, &w)
	return e
}

// bodyError returns the error an error response's body holds, in the shape
// OpenRouter, OpenAI, Ollama and llama.cpp send ({"error":{...}}), older
// vLLM ({"object":"error","message":...}), Ollama's native API
// ({"error":"..."}) or FastAPI ({"detail":"..."}); its Message is empty when
// the body holds none of them.
func bodyError(body []byte) wireError {
	var wrapper struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &wrapper) == nil && len(wrapper.Error) > 0 {
		var w wireError
		if json.Unmarshal(wrapper.Error, &w) == nil && (w.Message != "" || len(w.Code) > 0 || w.Availability != nil) {
			return w
		}
		var text string
		if json.Unmarshal(wrapper.Error, &text) == nil {
			return wireError{Message: text}
		}
	}
	var top struct {
		wireError
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &top) != nil {
		return wireError{}
	}
	if top.Message != "" {
		return top.wireError
	}
	var detail string
	if json.Unmarshal(top.Detail, &detail) == nil {
		return wireError{Message: detail}
	}
	return wireError{}
}

// classify sets the kind, whether to retry and the hint of e, an error with
// a status.
func classify(e *agentbox.ProviderError, w *wireError) {
	availability := ""
	if w.Availability != nil {
		availability = w.Availability.Code
	}
	switch status := e.StatusCode; {
	case status == 400 && (availability == "model_not_found" || strings.Contains(e.Message, "not a valid model") || modelMissing(e.Message)):
		e.Kind, e.Hint = agentbox.KindModelNotFound, "check the model ID at https://openrouter.ai/models, or use another model"
	case status == 400:
		e.Kind, e.Hint = agentbox.KindBadRequest, "the request was refused as malformed: check the model's parameters (tools, max tokens, reasoning)"
	case status == 401:
		e.Kind, e.Hint = agentbox.KindAuth, "the API key is missing, wrong or disabled: check OPENROUTER_API_KEY (keys start with sk-or-)"
	case status == 402:
		e.Kind, e.Hint = agentbox.KindNoCredits, "add credits at https://openrouter.ai/settings/credits, lower max tokens, or use a :free model"
	case status == 403:
		e.Kind, e.Hint = agentbox.KindModeration, "the input was flagged by moderation: rephrase it, or use another model"
	case status == 404:
		e.Kind, e.Hint = agentbox.KindModelNotFound, "no provider serves this model for this request (tool use, context length): use another model"
	case status == 408:
		e.Kind, e.Retryable, e.Hint = agentbox.KindTimeout, true, "the request timed out: retry, or use a faster model"
	case status == 429 && e.RetryAfter == 0 && rateLimitReset(w) > 0:
		e.Kind, e.Hint = agentbox.KindQuotaExhausted, "the daily request limit is reached: add credits to raise it, or use another model"
		e.RetryAfter = time.Until(time.UnixMilli(rateLimitReset(w))).Round(time.Second)
	case status == 429:
		e.Kind, e.Retryable, e.Hint = agentbox.KindRateLimited, true, "rate limited: retry later, or use another model"
	case status >= 500:
		e.Kind, e.Retryable, e.Hint = agentbox.KindUpstream, true, "the model's provider failed: retry, or use another model"
	default:
		e.Kind = agentbox.KindUnknown
	}
	if w.Availability != nil && w.Availability.Retryable {
		e.Retryable = true
	}
}

// modelMissing reports whether msg says that the model asked for does not
// exist, as vLLM ("The model `x` does not exist."), Ollama ("model \"x\"
// not found, try pulling it first") and llama.cpp's router ("model not
// found") say it.
func modelMissing(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "model") && (strings.Contains(m, "does not exist") || strings.Contains(m, "not found"))
}

// midStreamError returns the error a chunk reported during the stream.
func midStreamError(w *wireError, model string) *agentbox.ProviderError {
	e := &agentbox.ProviderError{
		Provider: name,
		Kind:     agentbox.KindMidStream,
		Code:     errorCode(w),
		Message:  w.Message,
		Model:    model,
		Metadata: w.Metadata,
		Hint:     "the model's provider failed during the response: retry, or use another model",
	}
	if e.Message == "" {
		e.Message = "the provider reported an error during the stream"
	}
	code, _ := strconv.Atoi(e.Code)
	e.Retryable = code == 0 || code == 408 || code == 429 || code >= 500
	return e
}

// truncated returns the error of a stream that ended without finishing.
func truncated(model string, err error) *agentbox.ProviderError {
	return &agentbox.ProviderError{
		Provider:  name,
		Kind:      agentbox.KindTruncated,
		Message:   "the response ended before it finished",
		Model:     model,
		Retryable: true,
		Hint:      "the connection dropped or the provider gave up: retry",
		Err:       err,
	}
}

// transportError returns the error of a request that got no response.
func transportError(model string, err error) *agentbox.ProviderError {
	var re *redirectError
	if errors.As(err, &re) {
		return &agentbox.ProviderError{
			Provider: name,
			Kind:     agentbox.KindUnknown,
			Message:  re.Error(),
			Model:    model,
			Hint:     "the key is sent to BaseURL's origin only: set BaseURL to the address the API answers at without redirecting",
			Err:      err,
		}
	}
	return &agentbox.ProviderError{
		Provider:  name,
		Kind:      agentbox.KindUpstream,
		Message:   "no response: " + err.Error(),
		Model:     model,
		Retryable: true,
		Hint:      "check the network and the base URL, then retry",
		Err:       err,
	}
}

// refusedRedirect reports whether err is a redirect to another origin,
// refused: net/http then returns the redirect's response too, its body
// closed.
func refusedRedirect(err error) bool {
	var re *redirectError
	return errors.As(err, &re)
}

// errorCode returns the provider's code of w: its code, or the code of its
// availability, or its type.
func errorCode(w *wireError) string {
	code := strings.Trim(string(w.Code), `"`)
	if code == "" || code == "null" {
		code = ""
		if w.Availability != nil {
			code = w.Availability.Code
		}
	}
	if code == "" {
		code = w.ErrorType
	}
	return code
}

// retryAfter returns how long the server asked to wait: retry-after-ms,
// Retry-After (seconds or a date), or the availability's retry_after.
func retryAfter(h http.Header, w *wireError) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			return time.Duration(s * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0)
		}
	}
	if w.Availability != nil && w.Availability.RetryAfter > 0 {
		return time.Duration(w.Availability.RetryAfter * float64(time.Second))
	}
	return 0
}

// rateLimitReset returns the X-RateLimit-Reset (epoch milliseconds) that a
// 429 carries in its metadata's headers, or 0.
func rateLimitReset(w *wireError) int64 {
	headers, _ := w.Metadata["headers"].(map[string]any)
	for k, v := range headers {
		if strings.EqualFold(k, "X-RateLimit-Reset") {
			switch v := v.(type) {
			case string:
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			case float64:
				return int64(v)
			}
		}
	}
	return 0
}

// redact removes key from every field of e: the texts, the metadata at any
// depth (its keys too) and the errors e wraps.
func redact(e *agentbox.ProviderError, key string) *agentbox.ProviderError {
	if key == "" {
		return e
	}
	r := func(s string) string { return secret.Hide(s, key) }
	e.Code = r(e.Code)
	e.Message = r(e.Message)
	e.Model = r(e.Model)
	e.Hint = r(e.Hint)
	if e.Metadata != nil {
		e.Metadata, _ = redactValue(e.Metadata, key).(map[string]any)
	}
	e.Err = secret.HideError(e.Err, key)
	return e
}

// redactValue returns a copy of v, a value decoded from JSON, with key
// removed from its strings and the keys of its objects.
func redactValue(v any, key string) any {
	switch v := v.(type) {
	case string:
		return secret.Hide(v, key)
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[secret.Hide(k, key)] = redactValue(x, key)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = redactValue(x, key)
		}
		return s
	case nil, bool, float64, json.Number:
		return v
	}
	// Not from JSON: keep it only as text.
	return secret.Hide(fmt.Sprint(v), key)
}
