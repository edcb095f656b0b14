package local_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/internal/testkit"
	"github.com/agentbox/agentbox/local"
)

// TestAgentRunsInALocalSandbox runs the agent, with a scripted model, in a
// sandbox its run opens: it writes a file, runs a command, starts a server and
// fetches its preview URL; when the run ends, the server is gone.
func TestAgentRunsInALocalSandbox(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			needBubblewrap(t, iso)
			dir := t.TempDir()
			installServer(t, dir)
			port := testkit.FreePort(t)
			url := fmt.Sprintf("http://127.0.0.1:%d", port)
			fetch := agentbox.NewTool("fetch", "Fetch a URL.", func(ctx context.Context, env *agentbox.Env, in struct {
				URL string `json:"url"`
			}) (string, error) {
				return get(in.URL)
			})
			provider := agentboxtest.NewProvider(
				agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"notes/hello.txt","content":"hello\n"}]}`}}},
				agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "run_command", Args: `{"command":"cat notes/hello.txt; pwd"}`}}},
				agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "s", Name: "start_process", Args: fmt.Sprintf(`{"command":"LOCAL_TEST_SERVE=%d ./server","port":%d}`, port, port)}}},
				agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "f", Name: "fetch", Args: fmt.Sprintf(`{"url":%q}`, url)}}},
				agentboxtest.Reply("done"),
			)
			agent := agentbox.New(provider, agentbox.Options{
				Open:  local.Opener(local.Config{Dir: dir, Isolation: iso}),
				Tools: append(agentbox.BuiltinTools(), fetch),
			})
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
			if done.Err != nil || done.Reason != agentbox.StopCompleted {
				t.Fatalf("Done = %v, %v; results %+v", done.Reason, done.Err, results)
			}
			for id, want := range map[string]string{
				"w": "notes/hello.txt",
				"r": "hello\n" + dir + "\n[exit code 0]",
				"s": "answers at " + url,
				"f": servedText,
			} {
				if r := results[id]; r.Err != nil || !strings.Contains(r.Output, want) {
					t.Errorf("tool call %s (%s) = %q, %v; want it to contain %q", id, r.Name, r.Output, r.Err, want)
				}
			}
			if got, err := os.ReadFile(filepath.Join(dir, "notes", "hello.txt")); err != nil || string(got) != "hello\n" {
				t.Errorf("notes/hello.txt in the kept workspace = %q, %v", got, err)
			}
			if _, err := get(url); err == nil {
				t.Errorf("the server still answers at %s after the run closed its sandbox", url)
			}
		})
	}
}
