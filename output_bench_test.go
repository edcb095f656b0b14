package agentbox_test

import (
	"context"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// BenchmarkOutputByteWrites measures what a tool that writes its output one
// byte at a time costs: 1 MiB per op, consumed as ToolOutput events. It
// reports the events per MiB; allocs/op and B/op are per MiB too.
func BenchmarkOutputByteWrites(b *testing.B) {
	const size = 1 << 20
	one := []byte{'x'}
	writer := agentbox.NewTool("write", "Write bytes.", func(ctx context.Context, env *agentbox.Env, _ struct{}) (string, error) {
		w := env.Stdout()
		for range size {
			w.Write(one)
		}
		return "ok", nil
	})
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		p := agentboxtest.NewProvider(calls(call("c1", "write", `{}`)), agentboxtest.Step{Text: []string{"done"}})
		n := 0
		for ev := range agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{writer}}).Run(context.Background(), "go") {
			if o, ok := ev.(agentbox.ToolOutput); ok {
				events++
				n += len(o.Text)
			}
		}
		if n != size {
			b.Fatalf("got %d bytes of output, want %d", n, size)
		}
	}
	b.ReportMetric(float64(events)/float64(b.N), "events/MiB")
}
