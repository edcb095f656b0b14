package uistream_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// aiSDK returns the folder whose node_modules holds the AI SDK's "ai"
// package, from AI_SDK_DIR; .ci/run installs it. Elsewhere, the test that
// needs it is skipped when it is not set.
func aiSDK(t *testing.T) string {
	dir := os.Getenv("AI_SDK_DIR")
	_, nodeErr := exec.LookPath("node")
	switch {
	case dir != "" && nodeErr == nil:
		return dir
	case os.Getenv("CI") != "":
		t.Fatalf("AI_SDK_DIR is %q and node: %v; .ci/run installs Node.js and the ai package for this test", dir, nodeErr)
	}
	t.Skip("AI_SDK_DIR is not set: to check the streams with the AI SDK's client, run " +
		"`npm install --prefix DIR ai@7.0.173` and set AI_SDK_DIR=DIR (needs Node.js)")
	return ""
}

// uiMessage is the message the AI SDK's client builds from a stream.
type sdkMessage struct {
	ID       string         `json:"id"`
	Metadata map[string]any `json:"metadata"`
	Parts    []struct {
		Type       string `json:"type"`
		Text       string `json:"text"`
		State      string `json:"state"`
		ToolCallID string `json:"toolCallId"`
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
	cmd := exec.Command("node", append([]string{"testdata/client/read.mjs"}, files...)...)
	cmd.Env = append(os.Environ(), "AI_SDK_DIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
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
		}[name]
		if got != want {
			t.Errorf("%s: the SDK built\n%s\nwant\n%s", name, got, want)
		}
		wantErrs := map[string]string{"failed.golden": "Error: openrouter: 429 rate limited for some/model: wait, or add a fallback model"}[name]
		if strings.Join(errs, "; ") != wantErrs {
			t.Errorf("%s: the SDK reported %q, want %q", name, errs, wantErrs)
		}
		if m.Metadata["reason"] == nil {
			t.Errorf("%s: no metadata from the finish chunk: %v", name, m.Metadata)
		}
	}
}
