package e2b_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/openrouter"
)

const (
	// createLatency is about what E2B takes to create a sandbox.
	createLatency = 1500 * time.Millisecond
	// modelLatency is a model's time to its first chunk, in the time to
	// first tool benchmark.
	modelLatency = time.Second
)

// BenchmarkTimeToFirstTool measures, with sandboxes that take 1.5 s to
// create and a model that takes 1.0 s to answer with a tool call, the time
// from the start to the first tool result: opening the sandbox and then
// asking the model (sequential), agentbox opening it together with the first
// request (agentbox), and agentbox with a sandbox from a warm pool (pool).
// Reported as s/first-tool; the pool refills between runs, off the clock.
func BenchmarkTimeToFirstTool(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		srv := e2btest.NewServer(b, e2btest.Options{CreateLatency: createLatency})
		benchmarkFirstTool(b, func(ctx context.Context) (agentbox.Options, func(), error) {
			sb, err := e2b.New(ctx, srv.Config())
			if err != nil {
				return agentbox.Options{}, nil, err
			}
			return agentbox.Options{Sandbox: sb}, func() { sb.Close(context.Background()) }, nil
		}, func() {})
	})
	b.Run("agentbox", func(b *testing.B) {
		srv := e2btest.NewServer(b, e2btest.Options{CreateLatency: createLatency})
		benchmarkFirstTool(b, opener(e2b.Opener(srv.Config())), func() {})
	})
	b.Run("pool", func(b *testing.B) {
		srv := e2btest.NewServer(b, e2btest.Options{CreateLatency: createLatency})
		pool := e2b.NewPool(srv.Config(), 1)
		defer pool.Close(context.Background())
		created := 1
		warm := func() { // wait until the pool has its sandbox again
			for srv.Stats().Created < created {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // from its creation to the pool
			created++
		}
		warm()
		benchmarkFirstTool(b, opener(pool.Opener()), warm)
	})
}

// opener gives the agent options that open sandboxes with open.
func opener(open agentbox.Opener) func(context.Context) (agentbox.Options, func(), error) {
	return func(context.Context) (agentbox.Options, func(), error) {
		return agentbox.Options{Open: open}, func() {}, nil
	}
}

// benchmarkFirstTool times, from before setup to the first ToolResult, runs
// of an agent with the options setup returns; between runs off the clock.
func benchmarkFirstTool(b *testing.B, setup func(context.Context) (agentbox.Options, func(), error), between func()) {
	var total time.Duration
	for b.Loop() {
		provider := agentboxtest.NewProvider(
			agentboxtest.Step{Delay: modelLatency, Calls: []agentboxtest.Call{{ID: "r", Name: "run_command", Args: `{"command":"true"}`}}},
			agentboxtest.Reply("done"),
		)
		start := time.Now()
		opts, cleanup, err := setup(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		agent := agentbox.New(provider, opts)
		for ev := range agent.Run(context.Background(), "go") {
			switch ev := ev.(type) {
			case agentbox.ToolResult:
				total += time.Since(start)
				if ev.Err != nil {
					b.Fatal(ev.Err)
				}
			case agentbox.Done:
				if ev.Err != nil {
					b.Fatal(ev.Err)
				}
			}
		}
		b.StopTimer()
		cleanup()
		between()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/first-tool")
}

// BenchmarkTimeToFirstToken measures the time from the start of a run to
// its first token when the run opens an E2B sandbox that takes 1.5 s to
// create, against the time from the start of the provider's stream to its
// first chunk, alone. The model is the OpenRouter provider on a local
// server that answers at once. Reported in ms: agent-ms, provider-ms and
// their difference, overhead-ms.
func BenchmarkTimeToFirstToken(b *testing.B) {
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, chunk := range []string{
			`{"id":"gen-1","object":"chat.completion.chunk","model":"bench/model","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}`,
			`{"id":"gen-1","object":"chat.completion.chunk","model":"bench/model","choices":[{"index":0,"delta":{"content":"."},"finish_reason":"stop"}]}`,
			`[DONE]`,
		} {
			fmt.Fprintf(w, "data: %s\n\n", chunk)
		}
	}))
	defer model.Close()
	provider, err := openrouter.New(openrouter.Config{APIKey: "sk-or-v1-bench", BaseURL: model.URL, Models: []string{"bench/model"}})
	if err != nil {
		b.Fatal(err)
	}
	srv := e2btest.NewServer(b, e2btest.Options{CreateLatency: createLatency})
	agent := agentbox.New(provider, agentbox.Options{Open: e2b.Opener(srv.Config())})
	req := &agentbox.Request{Messages: []agentbox.Message{{Role: agentbox.RoleUser, Content: "Hi"}}}
	var agentTime, providerTime time.Duration
	for b.Loop() {
		start := time.Now()
		for chunk, err := range provider.Stream(context.Background(), req) {
			if err != nil {
				b.Fatal(err)
			}
			if chunk.Text != "" {
				providerTime += time.Since(start)
				break
			}
		}
		start = time.Now()
		first := true
		for ev := range agent.Run(context.Background(), "Hi") {
			switch ev := ev.(type) {
			case agentbox.Token:
				if first {
					agentTime += time.Since(start)
					first = false
				}
			case agentbox.Done:
				if ev.Err != nil {
					b.Fatal(ev.Err)
				}
			}
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(agentTime), "agent-ms")
	b.ReportMetric(ms(providerTime), "provider-ms")
	b.ReportMetric(ms(agentTime-providerTime), "overhead-ms")
}
