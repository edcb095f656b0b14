package local_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/local"
)

// TestProcessOutputOfRealProcesses reads the output of real background
// processes with process_output: a server that prints, then prints more
// once a file appears, then crashes; and one that floods.
func TestProcessOutputOfRealProcesses(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			needBubblewrap(t, iso)
			const server = `echo listening; until [ -e go1 ]; do sleep 0.05; done; echo "TypeError: boom" >&2; until [ -e go2 ]; do sleep 0.05; done; echo bye; exit 3`
			const flood = `head -c 3000000 /dev/zero | tr '\0' a; echo; echo THE END`
			read := func(id, process string) agentboxtest.Step {
				return agentboxtest.Step{Calls: []agentboxtest.Call{{ID: id, Name: "process_output", Args: fmt.Sprintf(`{"id":%q,"wait_seconds":10}`, process)}}}
			}
			touch := func(id, name string) agentboxtest.Step {
				return agentboxtest.Step{Calls: []agentboxtest.Call{{ID: id, Name: "write_file", Args: fmt.Sprintf(`{"files":[{"path":%q,"content":""}]}`, name)}}}
			}
			provider := agentboxtest.NewProvider(
				agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "s", Name: "start_process", Args: fmt.Sprintf(`{"command":%q}`, server)}}},
				read("first", "p1"),
				touch("t1", "go1"),
				read("second", "p1"),
				touch("t2", "go2"),
				read("exited", "p1"),
				agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "f", Name: "start_process", Args: fmt.Sprintf(`{"command":%q}`, flood)}}},
				read("flood", "p2"),
				read("unknown", "p7"),
				agentboxtest.Reply("done"),
			)
			agent := agentbox.New(provider, agentbox.Options{Open: local.Opener(local.Config{Isolation: iso})})
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			results := map[string]agentbox.ToolResult{}
			var done agentbox.Done
			for ev := range agent.Run(ctx, "go") {
				switch ev := ev.(type) {
				case agentbox.ToolResult:
					results[ev.ID] = ev
				case agentbox.Done:
					done = ev
				}
			}
			if done.Err != nil {
				t.Fatalf("Done = %v, %v", done.Reason, done.Err)
			}
			for id, want := range map[string][]string{
				"first":  {"Process p1 is running.", "since it started:\nlistening\n"},
				"second": {"Process p1 is running.", "since the last read:\nTypeError: boom\n"},
				"exited": {"Process p1 has exited with code 3.", "since the last read:\nbye\n"},
				"flood":  {"Process p2 has exited with code 0.", "earlier bytes were not kept", "a\nTHE END\n"},
			} {
				r := results[id]
				for _, w := range want {
					if r.Err != nil || !strings.Contains(r.Output, w) {
						t.Errorf("%s = %q, %v; want it to hold %q", id, capped(r.Output), r.Err, w)
					}
				}
				if id != "first" && strings.Contains(r.Output, "listening") {
					t.Errorf("%s = %q: output read before came again", id, capped(r.Output))
				}
			}
			if r := results["flood"]; len(r.Output) > 16<<10 {
				t.Errorf("process_output of 3 MB of output returned %d bytes", len(r.Output))
			}
			if r := results["unknown"]; r.Err == nil || !strings.Contains(r.Err.Error(), "p1, p2") {
				t.Errorf("process_output of an unknown process = %q, %v; want an error naming p1 and p2", r.Output, r.Err)
			}
		})
	}
}

func capped(s string) string {
	if len(s) > 300 {
		return s[:150] + "…" + s[len(s)-150:]
	}
	return s
}
