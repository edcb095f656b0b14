package uistream_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// aiSDK returns the folder whose node_modules holds the AI SDK's "ai"
// package, the client code of AI SDK 5+'s useChat, from AI_SDK_DIR.
func aiSDK(t *testing.T) string { return nodePackage(t, "AI_SDK_DIR", "ai@7.0.173") }

// aiSDK4 returns the folder whose node_modules holds @ai-sdk/ui-utils
// 1.2.11, the client code of AI SDK 4's useChat, from AI_SDK4_DIR.
func aiSDK4(t *testing.T) string { return nodePackage(t, "AI_SDK4_DIR", "@ai-sdk/ui-utils@1.2.11") }

// node runs a client script of testdata/client with the environment
// variable env set to dir, and returns what it prints.
func node(t *testing.T, env, dir, script string, args ...string) []byte {
	t.Helper()
	// The scripts take seconds: a hang is cut short, its output and errors
	// shown.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"testdata/client/" + script}, args...)...)
	cmd.Env = append(os.Environ(), env+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v (context: %v)\n%s\nstderr: %s", script, err, ctx.Err(), out, stderr.String())
	}
	return out
}

// nodePackage returns the folder, named by the environment variable env,
// whose node_modules holds pkg; .ci/run installs it. Elsewhere, the test
// that needs it is skipped when env is not set or node is missing.
func nodePackage(t *testing.T, env, pkg string) string {
	t.Helper()
	dir := os.Getenv(env)
	_, nodeErr := exec.LookPath("node")
	switch {
	case dir != "" && nodeErr == nil:
		return dir
	case os.Getenv("CI") != "":
		t.Fatalf("%s is %q and node: %v; .ci/run installs Node.js and %s for this test", env, dir, nodeErr, pkg)
	}
	t.Skipf("%s is not set: to check the streams with the client, run `npm install --prefix DIR %s` and set %s=DIR (needs Node.js)", env, pkg, env)
	return ""
}

// uiMessage is the message the AI SDK's client builds from a stream.
type sdkMessage struct {
	ID       string         `json:"id"`
	Role     string         `json:"role"`
	Metadata map[string]any `json:"metadata"`
	Parts    []struct {
		Type       string `json:"type"`
		Text       string `json:"text"`
		State      string `json:"state"`
		ToolCallID string `json:"toolCallId"`
		Input      any    `json:"input"`
		Output     any    `json:"output"`
		ErrorText  string `json:"errorText"`
		Data       struct {
			URL string `json:"url"`
		} `json:"data"`
	} `json:"parts"`
}

// TestTheAISDKReadsTheStreams reads the golden streams with the AI SDK's
// own client code (chunk schema validation and message assembly, as useChat
// does) and checks the messages it builds.
func TestTheAISDKReadsTheStreams(t *testing.T) {
	dir := aiSDK(t)
	files, _ := filepath.Glob("testdata/*.golden")
	out := node(t, "AI_SDK_DIR", dir, "read.mjs", files...)
	var results []struct {
		File    string
		Message *sdkMessage
		Errors  []struct{ Name, Message string }
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != len(files) || len(files) < 3 {
		t.Fatalf("read %d streams of %d", len(results), len(files))
	}
	for _, r := range results {
		name := filepath.Base(r.File)
		var errs []string
		for _, e := range r.Errors {
			if msg := e.Name + ": " + e.Message; len(msg) > 300 {
				errs = append(errs, msg[:300]+"…")
			} else {
				errs = append(errs, msg)
			}
		}
		m := r.Message
		if m == nil || m.ID != "msg-1" {
			t.Errorf("%s: no message (errors %v)", name, errs)
			continue
		}
		var summary []string
		for _, p := range m.Parts {
			s := p.Type
			switch {
			case p.Type == "text" || p.Type == "reasoning":
				s += "=" + p.Text + "/" + p.State
			case strings.HasPrefix(p.Type, "tool-"):
				s += "/" + p.State
			case p.Type == "data-preview":
				s += "=" + p.Data.URL
			}
			summary = append(summary, s)
		}
		got := strings.Join(summary, " ")
		want := map[string]string{
			"scripted.golden": "step-start reasoning=The user wants a page./done text=I'll write it./done tool-write_file/output-available " +
				"step-start text=Checking./done tool-run_command/output-available " +
				"step-start tool-start_process/output-available tool-read_file/output-error data-preview=http://127.0.0.1:8080 " +
				"step-start text=Done: open the preview./done",
			"failed.golden": "step-start text=Part of an answer/done",
			"warned.golden": "step-start text=Hi./done",
			"approval.golden": "step-start tool-write_file/output-available " +
				"tool-run_command/approval-requested tool-run_command/approval-requested",
		}[name]
		if got != want {
			t.Errorf("%s: the SDK built\n%s\nwant\n%s", name, got, want)
		}
		wantErrs := map[string]string{"failed.golden": "Error: openrouter: 429 rate limited for some/model: wait, or add a fallback model"}[name]
		if strings.Join(errs, "; ") != wantErrs {
			t.Errorf("%s: the SDK reported %q, want %q", name, errs, wantErrs)
		}
		for _, p := range m.Parts {
			// The invalid call, a tool-input-error: the text the model wrote.
			if p.ToolCallID == "call_bad" && (p.Input != `{"path":` || !strings.Contains(p.ErrorText, "invalid arguments")) {
				t.Errorf("%s: the invalid call's part has input %#v, errorText %q", name, p.Input, p.ErrorText)
			}
		}
		if m.Metadata["reason"] == nil {
			t.Errorf("%s: no metadata from the finish chunk: %v", name, m.Metadata)
		}
	}
}
