package openaigo_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openaigo"
)

// BenchmarkStream streams 100k one-token chunks through an openai.Client
// and the Agent to a consumer of events, as openrouter's BenchmarkStream
// does without openai-go.
func BenchmarkStream(b *testing.B) {
	const tokens = 100_000
	var body bytes.Buffer
	for range tokens {
		body.WriteString(`data: {"id":"gen-bench","object":"chat.completion.chunk","model":"bench/model","choices":[{"index":0,"delta":{"role":"assistant","content":"tok "},"finish_reason":null}]}` + "\n\n")
	}
	body.WriteString(`data: {"id":"gen-bench","object":"chat.completion.chunk","model":"bench/model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(body.Bytes())
	}))
	defer srv.Close()
	p, err := openaigo.New(client(srv.URL), openrouter.Config{Models: []string{"bench/model"}})
	if err != nil {
		b.Fatal(err)
	}
	agent := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{}})
	n := 0
	for b.Loop() {
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
	}
	if n != tokens*b.N {
		b.Fatalf("streamed %d tokens, want %d", n, tokens*b.N)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
}
