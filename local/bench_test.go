package local_test

import (
	"context"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/internal/testkit"
	"github.com/agentbox/agentbox/local"
)

// hugeOutput is what BenchmarkHugeOutput's command writes: 1 GiB.
const hugeOutput = 1 << 30

// BenchmarkHugeOutput runs, through the agent, a command in a local sandbox
// that writes 1 GiB to stdout, with a consumer that receives every
// ToolOutput. Reported: the peak heap above what was in use before
// (peak-heap-MiB, the target being at most 64 MB) and the output's rate (MiB/s).
func BenchmarkHugeOutput(b *testing.B) {
	sb, err := local.New(context.Background(), local.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(context.Background())
	var peak uint64
	for b.Loop() {
		provider := agentboxtest.NewProvider(
			agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "big", Name: "run_command", Args: `{"command":"head -c 1073741824 /dev/zero | tr '\\0' x"}`}}},
			agentboxtest.Reply("done"),
		)
		agent := agentbox.New(provider, agentbox.Options{Sandbox: sb})
		before := testkit.HeapNow()
		stop := testkit.PeakHeap()
		streamed := 0
		for ev := range agent.Run(context.Background(), "go") {
			switch ev := ev.(type) {
			case agentbox.ToolOutput:
				streamed += len(ev.Text)
			case agentbox.ToolResult:
				if ev.Err != nil {
					b.Fatal(ev.Err)
				}
			case agentbox.Done:
				if ev.Err != nil {
					b.Fatal(ev.Err)
				}
			}
		}
		high := stop()
		peak = max(peak, high-min(before, high))
		if streamed != hugeOutput {
			b.Fatalf("streamed %d bytes, want %d", streamed, hugeOutput)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(hugeOutput)*float64(b.N)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
}
