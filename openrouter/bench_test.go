package openrouter_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// benchTokens is the number of tokens a benchmark streams per operation.
const benchTokens = 100_000

// benchServer serves a chat completion of benchTokens one-token chunks.
func benchServer(b *testing.B) *httptest.Server {
	var body bytes.Buffer
	const chunk = `data: {"id":"gen-bench","object":"chat.completion.chunk","created":1760000000,"model":"bench/model","provider":"Bench","choices":[{"index":0,"delta":{"role":"assistant","content":"tok "},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}` + "\n\n"
	for range benchTokens {
		body.WriteString(chunk)
	}
	body.WriteString(`data: {"id":"gen-bench","object":"chat.completion.chunk","created":1760000000,"model":"bench/model","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop","native_finish_reason":"stop"}]}` + "\n\n")
	body.WriteString(`data: {"id":"gen-bench","object":"chat.completion.chunk","created":1760000000,"model":"bench/model","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":100000,"total_tokens":100010,"cost":0.1}}` + "\n\n")
	body.WriteString("data: [DONE]\n\n")
	data := body.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(data)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// measure runs stream b.N times and reports tokens per second and bytes
// allocated per token.
func measure(b *testing.B, stream func() int) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tokens := 0
	for b.Loop() {
		if n := stream(); n != benchTokens {
			b.Fatalf("streamed %d tokens, want %d", n, benchTokens)
		}
		tokens += benchTokens
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(tokens), "B/token")
}

// BenchmarkStream streams 100k tokens end to end: through this provider and
// the Agent to a consumer of events, and, for comparison, through a plain
// openai-go streaming loop, from the same server.
func BenchmarkStream(b *testing.B) {
	srv := benchServer(b)
	b.Run("agentbox", func(b *testing.B) {
		p, err := openrouter.New(openrouter.Config{APIKey: testKey, BaseURL: srv.URL, Models: []string{"bench/model"}})
		if err != nil {
			b.Fatal(err)
		}
		agent := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{}})
		measure(b, func() int {
			n := 0
			for ev := range agent.Run(context.Background(), "Stream.") {
				switch ev := ev.(type) {
				case agentbox.Token:
					n++
				case agentbox.Done:
					if ev.Err != nil {
						b.Fatal(ev.Err)
					}
				}
			}
			return n
		})
	})
	b.Run("openai-go", func(b *testing.B) {
		client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(testKey))
		measure(b, func() int {
			stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
				Model:    "bench/model",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream.")},
			})
			defer stream.Close()
			var text strings.Builder
			n := 0
			for stream.Next() {
				c := stream.Current()
				if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
					text.WriteString(c.Choices[0].Delta.Content)
					n++
				}
			}
			if err := stream.Err(); err != nil {
				b.Fatal(err)
			}
			return n
		})
	})
}
