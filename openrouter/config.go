package openrouter

import (
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultBaseURL is OpenRouter's API.
const DefaultBaseURL = "https://openrouter.ai/api/v1"

// Config configures a [Provider]. The zero value, with an APIKey, talks to
// OpenRouter with its defaults.
type Config struct {
	// APIKey is sent as a bearer token, to the origin of BaseURL only. It
	// is never printed: not in errors, logs or String output.
	APIKey string
	// BaseURL is the API's address; empty means DefaultBaseURL. Any
	// OpenAI-compatible server works, a local model server too.
	BaseURL string
	// Models are the models to ask, in order: the first is the default, the
	// rest are fallbacks tried when a model is missing, unavailable or rate
	// limited. A Request's Model, when set, comes first instead.
	Models []string
	// ServerFallback also sends the fallbacks as OpenRouter's "models"
	// parameter, so that OpenRouter itself falls back within one request.
	ServerFallback bool
	// Routing sets OpenRouter's provider routing preferences.
	Routing *Routing
	// Reasoning asks reasoning models to think, and to show it.
	Reasoning *Reasoning
	// Referer and Title identify the app to OpenRouter (HTTP-Referer and
	// X-Title headers).
	Referer, Title string
	// Name is how errors and warnings name the provider (ProviderError's
	// Provider, and the start of their text); empty means "openrouter".
	// E.g. "ollama" for a local Ollama.
	Name string
	// HTTPClient sends the requests; nil means a client with no overall
	// timeout (streams last), dial and header timeouts. It is not
	// modified: a copy of it refuses redirects to other origins.
	HTTPClient *http.Client
	// MaxRetries is how many times a request is retried, on one model, after
	// a retryable failure (429, 5xx, a dropped connection) before its first
	// token; 0 means 2, a negative number none.
	MaxRetries int
	// RetryDelay is the first delay between retries, doubled each time, with
	// jitter; 0 means 500ms. MaxRetryDelay caps every delay, a server's
	// Retry-After included; 0 means 30s. A longer Retry-After moves on to the
	// next model instead.
	RetryDelay, MaxRetryDelay time.Duration
}

// Routing is OpenRouter's provider routing preferences ("provider").
type Routing struct {
	Order             []string `json:"order,omitempty"`
	Only              []string `json:"only,omitempty"`
	Ignore            []string `json:"ignore,omitempty"`
	AllowFallbacks    *bool    `json:"allow_fallbacks,omitempty"`
	RequireParameters bool     `json:"require_parameters,omitempty"`
	DataCollection    string   `json:"data_collection,omitempty"` // "allow" or "deny"
	Sort              string   `json:"sort,omitempty"`            // "price", "throughput" or "latency"
}

// Reasoning is OpenRouter's reasoning parameter: Effort or MaxTokens.
type Reasoning struct {
	Effort    string `json:"effort,omitempty"` // "low", "medium" or "high"
	MaxTokens int    `json:"max_tokens,omitempty"`
	Exclude   bool   `json:"exclude,omitempty"` // think, but do not stream the reasoning
}

// FromEnv returns the Config that the environment describes:
// OPENROUTER_API_KEY, OPENROUTER_BASE_URL and OPENROUTER_MODEL (models
// separated by commas, the first the default).
func FromEnv() Config {
	cfg := Config{
		APIKey:  os.Getenv("OPENROUTER_API_KEY"),
		BaseURL: os.Getenv("OPENROUTER_BASE_URL"),
	}
	for m := range strings.SplitSeq(os.Getenv("OPENROUTER_MODEL"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			cfg.Models = append(cfg.Models, m)
		}
	}
	return cfg
}
