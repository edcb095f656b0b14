package e2b_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// createLatency is about what E2B takes to create a sandbox.
const createLatency = 1500 * time.Millisecond

// BenchmarkTimeToFirstTool measures, with sandboxes that take 1.5 s to
// create and a model that answers at once with a tool call, the time from
// Run to the first tool result: with a sandbox created for the run, and with
// one from a warm pool. Reported as s/first-tool (the pool refills between
// runs, off the clock).
func BenchmarkTimeToFirstTool(b *testing.B) {
	b.Run("create", func(b *testing.B) {
		srv := e2btest.NewServer(b, e2btest.Options{CreateLatency: createLatency})
		benchmarkFirstTool(b, e2b.Opener(srv.Config()), func() {})
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
		benchmarkFirstTool(b, pool.Opener(), warm)
	})
}

func benchmarkFirstTool(b *testing.B, open agentbox.Opener, between func()) {
	var total time.Duration
	for b.Loop() {
		provider := agentboxtest.NewProvider(
			agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "run_command", Args: `{"command":"true"}`}}},
			agentboxtest.Reply("done"),
		)
		agent := agentbox.New(provider, agentbox.Options{Open: open})
		start := time.Now()
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
		between()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/first-tool")
}
