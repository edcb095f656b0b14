package agentbox_test

import (
	"context"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// BenchmarkRunTokens measures the agent's own cost per streamed token: a
// scripted response of 100k text chunks, consumed as Token events.
func BenchmarkRunTokens(b *testing.B) {
	const tokens = 100_000
	chunks := make([]agentbox.Chunk, tokens, tokens+1)
	for i := range chunks {
		chunks[i] = agentbox.Chunk{Text: " token"}
	}
	chunks = append(chunks, agentbox.Chunk{FinishReason: agentbox.FinishStop})
	b.ReportAllocs()
	for b.Loop() {
		p := agentboxtest.NewProvider(agentboxtest.Step{Raw: chunks})
		n := 0
		for ev := range agentbox.New(p, agentbox.Options{}).Run(context.Background(), "go") {
			if _, ok := ev.(agentbox.Token); ok {
				n++
			}
		}
		if n != tokens {
			b.Fatalf("got %d tokens", n)
		}
	}
	b.ReportMetric(float64(tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
