package e2b_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/internal/testkit"
)

// TestAgentRunsInAnE2BSandbox runs the agent, with a scripted model, in an
// e2btest sandbox its run creates: it writes files, runs a command, starts a
// server and fetches it at its preview URL; when the run ends, the fake
// counts every sandbox killed.
func TestAgentRunsInAnE2BSandbox(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	port := testkit.FreePort(t)
	url := fmt.Sprintf("https://%d-", port) // then the sandbox ID and the fake's domain
	client := srv.Client()
	// The preview URL is known once start_process has reported it: the loop
	// below hands it to the fetch tool.
	urls := make(chan string, 1)
	fetch := agentbox.NewTool("fetch_preview", "Fetch the preview URL.", func(ctx context.Context, env *agentbox.Env, in struct{}) (string, error) {
		select {
		case u := <-urls:
			return get(ctx, client, u)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	var previewURL string
	provider := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"notes/hello.txt","content":"hello\n"},{"path":"notes/more/deep.txt","content":"deep\n"}]}`}}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "run_command", Args: `{"command":"cat notes/hello.txt notes/more/deep.txt; pwd"}`}}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "s", Name: "start_process", Args: fmt.Sprintf(`{"command":%q,"port":%d}`, serverCommand(t, port), port)}}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "f", Name: "fetch_preview", Args: `{}`}}},
		agentboxtest.Reply("done"),
	)
	agent := agentbox.New(provider, agentbox.Options{
		Open:  e2b.Opener(srv.Config()),
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
			if ev.ID == "s" {
				if i := strings.Index(ev.Output, url); i >= 0 {
					previewURL = strings.Fields(ev.Output[i:])[0]
				}
				urls <- previewURL
			}
		case agentbox.Done:
			done = ev
		}
	}
	if done.Err != nil || done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done = %v, %v; results %+v", done.Reason, done.Err, results)
	}
	ids := srv.Sandboxes()
	st := srv.Stats()
	if st.Created != 1 || st.Killed != 1 || st.Alive != 0 {
		t.Errorf("after the run, the fake counts %+v (alive: %v), want one sandbox created and killed", st, ids)
	}
	for id, want := range map[string]string{
		"w": "notes/hello.txt",
		"r": "hello\ndeep\n",
		"s": url,
		"f": servedText,
	} {
		if r := results[id]; r.Err != nil || !strings.Contains(r.Output, want) {
			t.Errorf("tool call %s (%s) = %q, %v; want it to contain %q", id, r.Name, r.Output, r.Err, want)
		}
	}
	if !strings.HasSuffix(strings.TrimRight(previewURL, "/."), "."+e2btest.Domain) {
		t.Errorf("preview URL %q, want https://%d-{id}.%s", previewURL, port, e2btest.Domain)
	}
	if _, err := get(ctx, client, previewURL); err == nil {
		t.Errorf("the server still answers at %s after the run killed its sandbox", previewURL)
	}
}

// get fetches url and returns its body; a status other than 200 is an
// error.
func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body), nil
}
