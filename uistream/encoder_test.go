package uistream_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/uistream"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// previewSandbox is an agentboxtest sandbox where "serve PORT" pretends to
// start a server on PORT.
func previewSandbox() *agentboxtest.Sandbox {
	sb := agentboxtest.NewSandbox()
	sb.Handler = func(ctx context.Context, s *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		if port, ok := strings.CutPrefix(cmd.Cmd, "serve "); ok {
			s.Listen(8080, "http://127.0.0.1:"+port)
			<-ctx.Done()
			return agentbox.Result{ExitCode: -1}, nil
		}
		return agentboxtest.Shell(ctx, s, cmd)
	}
	return sb
}

// scriptedRun is a run with reasoning, text, streamed tool input, command
// output, a failing command, a preview, a malformed call and a final answer.
func scriptedRun() []agentboxtest.Step {
	return []agentboxtest.Step{
		{
			Reasoning: []string{"The user wants ", "a page."},
			Text:      []string{"I'll write ", "it."},
			Calls:     []agentboxtest.Call{{ID: "call_write", Name: "write_file", Args: `{"files":[{"path":"index.html","content":"<h1>Hi</h1>\n"}]}`, Split: 24}},
			Usage:     &agentbox.Usage{PromptTokens: 1200, CompletionTokens: 40},
		},
		{
			Text:  []string{"Checking."},
			Calls: []agentboxtest.Call{{ID: "call_check", Name: "run_command", Args: `{"command":"cat index.html; echo oops >&2; exit 3"}`}},
			Usage: &agentbox.Usage{PromptTokens: 1300, CompletionTokens: 20},
		},
		{
			Calls: []agentboxtest.Call{
				{ID: "call_serve", Name: "start_process", Args: `{"command":"serve 8080","port":8080}`},
				{ID: "call_bad", Name: "read_file", Args: `{"path":`},
			},
			Usage: &agentbox.Usage{PromptTokens: 1400, CompletionTokens: 30},
		},
		{
			Text:  []string{"Done: ", "open the preview."},
			Usage: &agentbox.Usage{PromptTokens: 1500, CompletionTokens: 10, Cost: 0.0125},
		},
	}
}

// chatBody is the request a client sends for the user's messages texts, in
// order, with an answer between each two.
func chatBody(id string, texts ...string) string {
	var msgs []string
	for i, text := range texts {
		if i > 0 {
			msgs = append(msgs, `{"id":"a`+fmt.Sprint(i)+`","role":"assistant","parts":[{"type":"text","text":"…"}]}`)
		}
		msgs = append(msgs, `{"id":"u`+fmt.Sprint(i+1)+`","role":"user","parts":[{"type":"text","text":`+quote(text)+`}]}`)
	}
	return `{"id":"` + id + `","messages":[` + strings.Join(msgs, ",") + `],"trigger":"submit-message"}`
}

func quote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return `"` + b.String() + `"`
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("stream differs from %s (-want +got):\n%s", path, diff)
	}
}

func TestGoldenStreams(t *testing.T) {
	goldenStreams(t, chatBody, "", map[string]string{
		"Content-Type":                  "text/event-stream",
		"Cache-Control":                 "no-cache",
		"X-Vercel-Ai-Ui-Message-Stream": "v1",
		"X-Accel-Buffering":             "no",
	}, func(t *testing.T, body string) { chunks(t, body) })
}

// goldenStreams serves the golden runs to a request that body makes, and
// compares each response with testdata/{dir}{name}: its headers with
// header, its stream checked by check.
func goldenStreams(t *testing.T, body func(id string, texts ...string) string, dir string, header map[string]string, check func(*testing.T, string)) {
	for _, tc := range []struct {
		name  string
		steps []agentboxtest.Step
	}{
		{"scripted.golden", scriptedRun()},
		{"failed.golden", []agentboxtest.Step{{
			Text: []string{"Part of an answer"}, FailAfter: 1,
			Err: &agentbox.ProviderError{Provider: "openrouter", Kind: agentbox.KindRateLimited, StatusCode: 429, Message: "rate limited", Model: "some/model", Hint: "wait, or add a fallback model"},
		}}},
		{"warned.golden", []agentboxtest.Step{{Warnings: []error{errors.New("openrouter: 429 for some/model: falling back to other/model")}, Text: []string{"Hi."}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := previewSandbox()
			defer sb.Close(context.Background())
			agent := agentbox.New(agentboxtest.NewProvider(tc.steps...), agentbox.Options{Sandbox: sb})
			h := uistream.New(agent, uistream.Options{MessageID: func() string { return "msg-1" }})
			defer h.Close(context.Background())
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body("chat-1", "Make a page")))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			for k, v := range header {
				if h := resp.Header.Get(k); h != v {
					t.Errorf("header %s = %q, want %q", k, h, v)
				}
			}
			check(t, string(got))
			golden(t, dir+tc.name, string(got))
		})
	}
}

// TestEncoderKeepsOrder feeds events in orders a run does not make: a
// result without a start, input after it is available, a second Done.
func TestEncoderKeepsOrder(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewEncoder(&b, "m")
	for _, ev := range []agentbox.Event{
		agentbox.Error{Err: errors.New("retrying")},
		agentbox.Token{Step: 1, Text: "a"},
		agentbox.Token{Step: 1, Text: "b", Reasoning: true},
		agentbox.Token{Step: 1, Text: "c"},
		agentbox.ToolResult{Step: 1, ID: "x", Name: "t", Output: "Error: bad", Err: errors.New("bad")},
		agentbox.ToolInput{Step: 1, ID: "x", Name: "t", Delta: "{}"},
		agentbox.ToolInput{Step: 2, ID: "y", Name: "t", Delta: "{not"},
		agentbox.ToolInput{Step: 2, ID: "y", Name: "t", Delta: " json"},
		agentbox.ToolStart{Step: 2, ID: "y", Name: "t", Args: []byte("{not json")},
		agentbox.ToolInput{Step: 2, ID: "y", Name: "t", Delta: "late"},
		agentbox.ToolResult{Step: 2, ID: "y", Name: "t", Output: "ok"},
		agentbox.ToolResult{Step: 2, ID: "y", Name: "t", Output: "again"},
		agentbox.ToolStart{Step: 2, ID: "u", Name: "nope", Args: []byte(`{"a":1}`)},
		agentbox.ToolResult{Step: 2, ID: "u", Name: "nope", Output: "Error: unknown tool", Err: fmt.Errorf("%w %q", agentbox.ErrUnknownTool, "nope")},
		agentbox.ToolResult{Step: 2, ID: "u", Name: "nope", Output: "again", Err: agentbox.ErrUnknownTool},
		agentbox.Error{Err: errors.New("boom"), Fatal: true},
		agentbox.Done{Reason: agentbox.StopError, Err: errors.New("boom"), Steps: 2, Elapsed: time.Second},
		agentbox.Token{Step: 3, Text: "late"},
	} {
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	}
	cs := chunks(t, b.String())
	want := []string{"start", "data-warning", "start-step", "text-start", "text-delta", "text-end",
		"reasoning-start", "reasoning-delta", "reasoning-end", "text-start", "text-delta", "text-end",
		"tool-input-start", "tool-input-available", "tool-output-error",
		"finish-step", "start-step", "tool-input-start", "tool-input-delta", "tool-input-delta", "tool-input-available", "tool-output-available",
		"tool-input-start", "tool-input-available", "tool-input-error",
		"finish-step", "error", "finish"}
	if diff := cmp.Diff(want, types(cs)); diff != "" {
		t.Errorf("chunk types (-want +got):\n%s", diff)
	}
	available := find(cs, "tool-input-available")
	if in := available[0]["input"]; in != "" {
		t.Errorf("a call with no input sent as input %#v, want \"\"", in)
	}
	if in := available[1]["input"]; in != "{not json" {
		t.Errorf("invalid arguments sent as input %#v, want their text", in)
	}
	ie := find(cs, "tool-input-error")[0]
	if fmt.Sprint(ie["input"]) != "map[a:1]" || ie["toolName"] != "nope" || ie["errorText"] != "Error: unknown tool" {
		t.Errorf("the call of an unknown tool: %v", ie)
	}
}

// TestInvalidCallsAreInputErrors: a call whose arguments are not JSON gets
// tool-input-error, as the AI SDK's server sends, with the text the model
// wrote as input, and no tool-input-available before.
func TestInvalidCallsAreInputErrors(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewEncoder(&b, "m")
	err := fmt.Errorf("%w: not valid JSON (unexpected end of JSON input): {\"path\":", agentbox.ErrInvalidArguments)
	for _, ev := range []agentbox.Event{
		agentbox.ToolInput{Step: 1, ID: "bad", Name: "read_file", Delta: `{"pa`},
		agentbox.ToolInput{Step: 1, ID: "bad", Name: "read_file", Delta: `th":`},
		agentbox.ToolInput{Step: 1, ID: "ok", Name: "read_file", Delta: `{"path":"a"}`},
		agentbox.ToolStart{Step: 1, ID: "bad", Name: "read_file"},
		agentbox.ToolResult{Step: 1, ID: "bad", Name: "read_file", Output: "Error: " + err.Error(), Err: err},
		agentbox.ToolStart{Step: 1, ID: "ok", Name: "read_file", Args: []byte(`{"path":"a"}`)},
		agentbox.ToolResult{Step: 1, ID: "ok", Name: "read_file", Output: "Error: no such file", Err: errors.New("no such file")},
		agentbox.Done{Reason: agentbox.StopCompleted},
	} {
		enc.Encode(ev)
	}
	cs := chunks(t, b.String())
	var got []string
	for _, c := range cs {
		if id, _ := c["toolCallId"].(string); id != "" {
			got = append(got, id+" "+c["type"].(string))
		}
	}
	want := []string{"bad tool-input-start", "bad tool-input-delta", "bad tool-input-delta", "ok tool-input-start", "ok tool-input-delta",
		"bad tool-input-error", "ok tool-input-available", "ok tool-output-error"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}
	ie := find(cs, "tool-input-error")[0]
	if ie["input"] != `{"path":` || ie["toolName"] != "read_file" || ie["errorText"] != "Error: "+err.Error() {
		t.Errorf("tool-input-error %v", ie)
	}
}

func TestEncoderFail(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewEncoder(&b, "m")
	enc.Encode(agentbox.Token{Step: 1, Text: "a"})
	if err := enc.Fail(errors.New("the sandbox could not open")); err != nil {
		t.Fatal(err)
	}
	enc.Fail(errors.New("again"))
	cs := chunks(t, b.String())
	if diff := cmp.Diff([]string{"start", "start-step", "text-start", "text-delta", "text-end", "finish-step", "error", "finish"}, types(cs)); diff != "" {
		t.Errorf("chunk types (-want +got):\n%s", diff)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n--; w.n < 0 {
		return 0, errors.New("connection reset")
	}
	return len(p), nil
}

// TestEncoderWriteError: each encoder reports a failed write, and the same
// error for every Encode after it.
func TestEncoderWriteError(t *testing.T) {
	for name, enc := range map[string]interface{ Encode(agentbox.Event) error }{
		"UI message stream": uistream.NewEncoder(&failingWriter{n: 1}, "m"),
		"data stream":       uistream.NewDataStreamEncoder(&failingWriter{n: 1}, "m"),
	} {
		if err := enc.Encode(agentbox.Token{Step: 1, Text: "a"}); err != nil {
			t.Fatal(name, err)
		}
		err := enc.Encode(agentbox.Token{Step: 1, Text: "b"})
		if err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Fatalf("%s: Encode on a broken writer: %v", name, err)
		}
		if again := enc.Encode(agentbox.Done{}); again != err {
			t.Errorf("%s: Encode after a write error: %v, want the first error again", name, again)
		}
	}
}

// TestHugeOutputIsCapped streams 8 MB of command output through the
// handler: the client gets the first MaxToolOutput bytes and a note, and
// the model's capped result.
func TestHugeOutputIsCapped(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	sb.Handler = func(ctx context.Context, s *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		line := []byte(strings.Repeat("é", 50) + "\n") // 101 bytes: cuts fall inside characters
		for range 8 << 20 / len(line) {
			cmd.Stdout.Write(line)
		}
		return agentbox.Result{}, nil
	}
	p := agentboxtest.NewProvider(agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "big", Name: "run_command", Args: `{"command":"yes"}`}}}, agentboxtest.Reply("ok"))
	h := uistream.New(agentbox.New(p, agentbox.Options{Sandbox: sb}), uistream.Options{MaxToolOutput: 100_000})
	defer h.Close(context.Background())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(chatBody("a", "go")))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if len(body) > 400_000 {
		t.Errorf("the stream is %d bytes for 100,000 bytes of output shown", len(body))
	}
	cs := chunks(t, body)
	shown, notes := 0, 0
	for _, c := range find(cs, "data-tool-output") {
		text := c["data"].(map[string]any)["text"].(string)
		if strings.Contains(text, "bytes of output not shown") {
			notes++
			continue
		}
		if !utf8.ValidString(text) {
			t.Fatalf("output cut inside a character: %q", text[len(text)-4:])
		}
		shown += len(text)
	}
	total := 8 << 20 / 101 * 101
	if shown > 100_000 || shown < 99_990 || notes != 1 || !strings.Contains(body, fmt.Sprintf("[%d bytes of output not shown]", total-shown)) {
		t.Errorf("%d bytes shown, %d notes; want 100,000 and one note of the %d left out", shown, notes, total-shown)
	}
	if out := find(cs, "tool-output-available"); len(out) != 1 || len(out[0]["output"].(string)) > 16<<10 {
		t.Errorf("the tool's result: %v", out)
	}
}

// TestEncoderRegressions: an empty token wrote a text-delta without its
// delta, and arguments with invalid UTF-8 went out as they were.
func TestEncoderRegressions(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewEncoder(&b, "m")
	for _, ev := range []agentbox.Event{
		agentbox.Token{Step: 1, Text: ""},
		agentbox.Token{Step: 1, Text: "", Reasoning: true},
		agentbox.ToolStart{Step: 1, ID: "c", Name: "t", Args: []byte("{\"a\":\"\xff\"}")},
		agentbox.Done{Reason: agentbox.StopCompleted},
	} {
		enc.Encode(ev)
	}
	if !utf8.Valid(b.Bytes()) || strings.Contains(b.String(), "-delta") {
		t.Errorf("stream:\n%q", b.String())
	}
	if in := find(chunks(t, b.String()), "tool-input-available")[0]["input"]; fmt.Sprint(in) != "map[a:\uFFFD]" {
		t.Errorf("input %v, want the invalid byte replaced", in)
	}
}
