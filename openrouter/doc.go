// Package openrouter is an [agentbox.Provider] for OpenRouter and any other
// OpenAI-compatible chat completions server, a local model server too.
//
//	p, err := openrouter.New(openrouter.FromEnv()) // OPENROUTER_API_KEY, OPENROUTER_BASE_URL, OPENROUTER_MODEL
//	if err == nil {
//		err = p.Check(ctx) // is the key good, do the models exist?
//	}
//
// # Errors
//
// Every failure is an [*agentbox.ProviderError] whose Kind says what
// happened and whose Error is one line saying what to do, e.g.
//
//	openrouter: 402 This request requires more credits... for anthropic/claude-sonnet-4.5: add credits at https://openrouter.ai/settings/credits, lower max tokens, or use a :free model
//
// 401 is auth, 402 no credits, 403 moderation, 400 with an unknown model and
// 404 model not found, 408 timeout, 429 rate limited (or quota exhausted for
// a daily cap, which retrying cannot fix), 5xx upstream; errors inside a
// stream are mid-stream, and a stream that ends without a finish reason is
// truncated. The API key never appears in an error (in no field, Metadata
// included, nor in the errors it wraps), nor in String output.
//
// # The key's origin
//
// The key is sent only to the origin of BaseURL: its scheme, host and port.
// net/http keeps the Authorization header on redirects to another port, a
// subdomain or from https to http, so a redirect to any other origin is
// refused, whatever the CheckRedirect of Config.HTTPClient, and nothing is
// sent there: not the key, not the conversation. It fails at once, with no
// retry nor fallback, naming the origin redirected to. Config.HTTPClient
// itself is left as it is.
//
// # Retries and fallbacks
//
// Until the first piece of a response arrives, a retryable failure (429,
// 408, 5xx, a dropped connection, an error or a cut at the very start of the
// stream) is retried, after the delay the server asked for (Retry-After,
// retry-after-ms) or an exponential one with jitter, capped. When retries
// run out, or the model is missing or unavailable, the next of Config.Models
// is asked; no credits moves on only to a ":free" model, and a bad key stops
// at once. Each retry and fallback reaches the caller as a Chunk with a
// Warning, which the agent reports as a non-fatal Error event. Nothing is
// retried once a piece of the response was streamed.
//
// # Local model servers
//
// A BaseURL alone, with no key, talks to a model server on this machine (or
// any OpenAI-compatible server); Name names it in errors:
//
//	// Ollama (ollama serve; ollama pull llama3.2): "llama3.2" finds "llama3.2:latest"
//	openrouter.New(openrouter.Config{BaseURL: "http://localhost:11434/v1", Models: []string{"llama3.2"}, Name: "ollama"})
//	// vLLM (vllm serve Qwen/Qwen3-8B): the model is its served name
//	openrouter.New(openrouter.Config{BaseURL: "http://localhost:8000/v1", Models: []string{"Qwen/Qwen3-8B"}, Name: "vllm"})
//	// llama.cpp's server (llama-server -hf ggml-org/gemma-3-4b-it-GGUF --jinja): any name is its model
//	openrouter.New(openrouter.Config{BaseURL: "http://localhost:8080/v1", Models: []string{"gemma-3"}, Name: "llama.cpp"})
//
// or, from the environment, OPENROUTER_BASE_URL=http://localhost:11434/v1
// and OPENROUTER_MODEL=llama3.2 with no OPENROUTER_API_KEY. Check works with
// them: they have no /key, and their model lists (GET /models) come in
// their own shapes — OpenAI's {"object":"list","data":[{"id",...}]},
// Ollama's with tagged IDs (and "data": null when nothing is pulled), vLLM's
// with max_model_len, llama.cpp's with "meta" and a "models" array, or in
// router mode "aliases" — and a model missing from them is an error that
// says which models the server has. [Provider.Models] lists them. Requests
// ask for usage (stream_options.include_usage), which Ollama and vLLM send
// only when asked; it has no cost. Tool calls that arrive whole in one
// chunk, reasoning named reasoning_content (llama.cpp, vLLM, DeepSeek),
// and their error bodies ({"object":"error",...} from vLLM, {"error":"..."}
// or {"detail":"..."} elsewhere) are understood. A server started with a key
// (vllm serve --api-key, llama-server --api-key) gets it as Config.APIKey.
// openroutertest's Server plays each of them (Server.Kind).
//
// # The wire
//
// Requests are built and sent with net/http alone: the key, the base URL
// and the attribution headers come from Config only, and nothing from the
// environment (OPENAI_* variables change nothing). Package openaigo
// (openrouter/openaigo) sends the same requests through a caller's own
// openai-go client instead; only programs that import it compile openai-go.
//
// The streamed body is decoded here rather than by openai-go's stream
// decoder and accumulator, because those get OpenRouter wrong: the decoder
// ends the stream on any chunk with an "error" key, even "error": null, and
// misses errors inside a choice and bodies cut short without [DONE]; the
// accumulator lets a later chunk's null finish reason erase the real one and
// drops chunks whose id changes. Decoding here also costs far less: about
// 0.4 KB allocated per streamed token through the whole Agent, against
// about 8.7 KB for a plain openai-go loop, at nearly 4 times its speed
// (BenchmarkStream).
//
// The decoder handles what OpenRouter streams send: keep-alive comments and
// CRLF framing; tool-call deltas keyed by index, with the id and name only
// in the first; a usage chunk that repeats the choice with a null finish
// reason; reasoning text and reasoning_details, whose pieces are merged and
// sent back on the assistant turn that made tool calls.
//
// Package openroutertest is a fake OpenRouter for tests.
package openrouter
