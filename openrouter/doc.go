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
// # The wire
//
// Requests are built and sent by openai-go (its client carries the key, the
// base URL and the attribution headers), but from explicit options only:
// OPENAI_* variables in the environment change nothing. Its retries are off,
// since each retry here is reported.
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
