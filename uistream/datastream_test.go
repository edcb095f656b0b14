package uistream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/uistream"
	"github.com/google/go-cmp/cmp"
)

// boltBody is the request bolt.diy's page (useChat 1.2 with
// sendExtraMessageFields) sends for the user's messages texts, in order,
// with an answer between each two.
func boltBody(id string, texts ...string) string {
	var msgs []string
	for i, text := range texts {
		if i > 0 {
			msgs = append(msgs, fmt.Sprintf(`{"id":"a%d","createdAt":"2025-06-01T10:00:0%dZ","role":"assistant","content":"…","parts":[{"type":"step-start"},{"type":"text","text":"…"}],"revisionId":"r%d"}`, i, i, i))
		}
		msgs = append(msgs, fmt.Sprintf(`{"id":"u%d","createdAt":"2025-06-01T10:00:0%dZ","role":"user","content":%s,"parts":[{"type":"text","text":%[3]s}]}`, i+1, i, quote(text)))
	}
	return `{"id":"` + id + `","messages":[` + strings.Join(msgs, ",") + `],"apiKeys":{"OpenRouter":"sk-x"},"files":{},"promptId":"default","contextOptimization":true}`
}

// dsPart is a part of a data stream.
type dsPart struct {
	Code  byte
	Value any
}

// parseDataStream parses a data stream and checks it as AI SDK 4's client
// does (@ai-sdk/ui-utils 1.2.11 parseDataStreamPart and
// processChatResponse), and a little more: every line CODE:JSON in valid
// UTF-8 with a code the client knows and a value of the shape it takes; a
// tool call's deltas after its streaming start and before the call, its
// result after the call; steps balanced; and, when complete, the finish
// message last, after the error part when there is one.
func parseDataStream(body string, complete bool) ([]dsPart, error) {
	if body == "" {
		if complete {
			return nil, errors.New("the stream is empty")
		}
		return nil, nil
	}
	if !strings.HasSuffix(body, "\n") {
		return nil, fmt.Errorf("the stream does not end with a line end: %q", tail(body))
	}
	var out []dsPart
	calls := map[string]string{} // by ID: "streaming", "call" or "result"
	step, failed, finished := false, false, false
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d (%s): %s", i, line, fmt.Sprintf(format, args...))
		}
		if !utf8.ValidString(line) {
			return nil, fail("not valid UTF-8")
		}
		code, text, ok := strings.Cut(line, ":")
		if !ok || len(code) != 1 || !strings.Contains("02389abcdefg", code) {
			return nil, fail("not a part the client reads (codes 0 2 3 8 9 a-g)")
		}
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return nil, fail("%v", err)
		}
		out = append(out, dsPart{code[0], v})
		if finished {
			return nil, fail("a part after the finish message")
		}
		obj, _ := v.(map[string]any)
		str := func(k string) (string, error) {
			s, ok := obj[k].(string)
			if !ok {
				return "", fail("%q is not a string", k)
			}
			return s, nil
		}
		switch code[0] {
		case '0', 'g', '3':
			if _, ok := v.(string); !ok {
				return nil, fail("not a string")
			}
			if !step && code[0] != '3' {
				return nil, fail("text outside a step")
			}
			failed = failed || code[0] == '3'
		case '2', '8':
			if _, ok := v.([]any); !ok {
				return nil, fail("not an array")
			}
		case 'b', 'c', '9', 'a':
			if obj == nil {
				return nil, fail("not an object")
			}
			if !step {
				return nil, fail("a tool part outside a step")
			}
			id, err := str("toolCallId")
			if err != nil {
				return nil, err
			}
			switch code[0] {
			case 'b':
				if _, err := str("toolName"); err != nil {
					return nil, err
				}
				if calls[id] != "" {
					return nil, fail("streaming start of call %q, which is %q", id, calls[id])
				}
				calls[id] = "streaming"
			case 'c':
				if _, err := str("argsTextDelta"); err != nil {
					return nil, err
				}
				if calls[id] != "streaming" {
					return nil, fail("delta of call %q, which is %q", id, calls[id])
				}
			case '9':
				if _, err := str("toolName"); err != nil {
					return nil, err
				}
				if _, ok := obj["args"].(map[string]any); !ok {
					return nil, fail("args not an object")
				}
				if calls[id] != "" && calls[id] != "streaming" {
					return nil, fail("call %q, which is %q", id, calls[id])
				}
				calls[id] = "call"
			case 'a':
				if _, ok := obj["result"]; !ok {
					return nil, fail("no result")
				}
				if calls[id] != "call" {
					return nil, fail("result of call %q, which is %q", id, calls[id])
				}
				calls[id] = "result"
			}
		case 'f':
			if _, err := str("messageId"); err != nil {
				return nil, err
			}
			if step {
				return nil, fail("a step starts inside a step")
			}
			step = true
		case 'e', 'd':
			reason, err := str("finishReason")
			if err != nil {
				return nil, err
			}
			if !strings.Contains(" stop length content-filter tool-calls error other unknown ", " "+reason+" ") {
				return nil, fail("finishReason %q", reason)
			}
			if code[0] == 'e' {
				if !step {
					return nil, fail("finish step outside a step")
				}
				step = false
				break
			}
			if !complete {
				return nil, fail("finish message in a stream still going")
			}
			if step {
				return nil, fail("finish message with a step open")
			}
			if failed != (reason == "error") {
				return nil, fail(`finishReason %q after an error part: %v`, reason, failed)
			}
			finished = true
		}
	}
	if complete && !finished {
		return nil, errors.New("the stream does not end with a finish message")
	}
	return out, nil
}

// dsParts parses a complete data stream.
func dsParts(t *testing.T, body string) []dsPart {
	t.Helper()
	ps, err := parseDataStream(body, true)
	if err != nil {
		t.Fatalf("%v\nstream:\n%s", err, body)
	}
	return ps
}

// codes returns the codes of the parts, as a string.
func codes(ps []dsPart) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteByte(p.Code)
	}
	return b.String()
}

func TestGoldenDataStreams(t *testing.T) {
	goldenStreams(t, boltBody, "datastream/", map[string]string{
		"Content-Type":                  "text/plain; charset=utf-8",
		"X-Vercel-Ai-Data-Stream":       "v1",
		"X-Vercel-Ai-Ui-Message-Stream": "",
		"Cache-Control":                 "no-cache",
		"X-Accel-Buffering":             "no",
	}, func(t *testing.T, body string) { dsParts(t, body) })
}

// sdk4Message is the message AI SDK 4's client builds from a stream.
type sdk4Message struct {
	ID          string           `json:"id"`
	Role        string           `json:"role"`
	Content     any              `json:"content"` // a string; bolt.diy's user messages, parts
	Annotations []map[string]any `json:"annotations"`
	Parts       []struct {
		Type           string `json:"type"`
		Text           any    `json:"text"` // a string; bolt.diy's user messages, parts
		Reasoning      string `json:"reasoning"`
		ToolInvocation struct {
			State      string `json:"state"`
			Step       int    `json:"step"`
			ToolCallID string `json:"toolCallId"`
			ToolName   string `json:"toolName"`
			Args       any    `json:"args"`
			Result     any    `json:"result"`
		} `json:"toolInvocation"`
	} `json:"parts"`
}

// summary says what the message's parts are, in order.
func (m *sdk4Message) summary() string {
	var out []string
	for _, p := range m.Parts {
		s := p.Type
		switch p.Type {
		case "text":
			s += "=" + fmt.Sprint(p.Text)
		case "reasoning":
			s += "=" + p.Reasoning
		case "tool-invocation":
			inv := p.ToolInvocation
			s += fmt.Sprintf("/%s/%s/%d", inv.ToolName, inv.State, inv.Step)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

type sdk4Finish struct {
	FinishReason string
	Usage        struct{ PromptTokens, CompletionTokens, TotalTokens float64 }
}

type sdk4Error struct{ Name, Message string }

// TestTheAISDK4ReadsTheDataStreams reads the golden data streams with the
// client code of AI SDK 4's useChat (callChatApi of @ai-sdk/ui-utils
// 1.2.11), and checks the messages it builds.
func TestTheAISDK4ReadsTheDataStreams(t *testing.T) {
	dir := aiSDK4(t)
	files, _ := filepath.Glob("testdata/datastream/*.golden")
	out := node(t, "AI_SDK4_DIR", dir, "read4.mjs", files...)
	var results []struct {
		File    string
		Message *sdk4Message
		Data    []map[string]any
		Finish  *sdk4Finish
		Errors  []sdk4Error
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != len(files) || len(files) < 3 {
		t.Fatalf("read %d streams of %d", len(results), len(files))
	}
	for _, r := range results {
		name := filepath.Base(r.File)
		m := r.Message
		if m == nil || m.ID != "msg-1" || m.Role != "assistant" {
			t.Errorf("%s: no message (errors %v): %+v", name, r.Errors, m)
			continue
		}
		want := map[string]string{
			"scripted.golden": "step-start reasoning=The user wants a page. text=I'll write it. tool-invocation/write_file/result/0 " +
				"step-start text=Checking. tool-invocation/run_command/result/1 " +
				"step-start tool-invocation/start_process/result/2 tool-invocation/read_file/result/2 " +
				"step-start text=Done: open the preview.",
			"failed.golden": "step-start text=Part of an answer",
			"warned.golden": "step-start text=Hi.",
		}[name]
		if got := m.summary(); got != want {
			t.Errorf("%s: the SDK built\n%s\nwant\n%s", name, got, want)
		}
		var errs []string
		for _, e := range r.Errors {
			errs = append(errs, e.Name+": "+e.Message)
		}
		wantErrs := map[string]string{"failed.golden": "Error: openrouter: 429 rate limited for some/model: wait, or add a fallback model"}[name]
		if strings.Join(errs, "; ") != wantErrs {
			t.Errorf("%s: the SDK reported %q, want %q", name, errs, wantErrs)
		}
		var data []string
		for _, d := range r.Data {
			data = append(data, fmt.Sprintf("%v:%v%v", d["type"], d["stream"], d["message"]))
		}
		wantData := map[string]string{
			"scripted.golden": "tool-output:stdout<nil> tool-output:stderr<nil>",
			"warned.golden":   "warning:<nil>openrouter: 429 for some/model: falling back to other/model",
		}[name]
		if got := strings.Join(data, " "); got != wantData {
			t.Errorf("%s: data %s, want %s", name, got, wantData)
		}
		switch name {
		case "scripted.golden":
			if r.Finish == nil || r.Finish.FinishReason != "stop" || r.Finish.Usage.PromptTokens != 5400 || r.Finish.Usage.TotalTokens != 5500 {
				t.Errorf("%s: finish %+v, want stop with the run's usage", name, r.Finish)
			}
			if !strings.Contains(fmt.Sprint(m.Content), "I'll write it.Checking.") {
				t.Errorf("%s: content %q", name, m.Content)
			}
			var ann []string
			for _, a := range m.Annotations {
				ann = append(ann, fmt.Sprint(a["type"]))
			}
			if got := strings.Join(ann, " "); got != "preview usage finish" || m.Annotations[0]["url"] != "http://127.0.0.1:8080" ||
				fmt.Sprint(m.Annotations[1]["value"]) != "map[completionTokens:100 promptTokens:5400 totalTokens:5500]" ||
				m.Annotations[2]["reason"] != "completed" || m.Annotations[2]["steps"] != 4.0 {
				t.Errorf("%s: annotations %v", name, m.Annotations)
			}
			for _, p := range m.Parts {
				inv := p.ToolInvocation
				switch inv.ToolCallID {
				case "call_write":
					if fmt.Sprint(inv.Args) != "map[files:[map[content:<h1>Hi</h1>\n path:index.html]]]" || inv.Result != "Wrote 1 file:\nindex.html (12 bytes)" {
						t.Errorf("%s: the write_file call: %+v", name, inv)
					}
				case "call_bad":
					if fmt.Sprint(inv.Args) != "map[]" || !strings.HasPrefix(fmt.Sprint(inv.Result), "Error: invalid arguments") {
						t.Errorf("%s: the invalid call: %+v", name, inv)
					}
				}
			}
		case "warned.golden":
			if r.Finish == nil || r.Finish.FinishReason != "stop" {
				t.Errorf("%s: finish %+v", name, r.Finish)
			}
		case "failed.golden":
			if r.Finish != nil {
				t.Errorf("%s: a failed turn finished: %+v", name, r.Finish)
			}
		}
	}
}

// TestABoltChat chats with a Handler as bolt.diy's page does, with AI SDK
// 4's client code: a first message whose run writes a file and runs a
// command, then a second, with the first turn's tool invocations in the
// request, to the same Handler (whose session has the chat) and to a new
// one (which has not seen it, as after a restart): the model gets the same
// conversation from both.
func TestABoltChat(t *testing.T) {
	dir := aiSDK4(t)
	steps := []agentboxtest.Step{
		{
			Reasoning: []string{"A page."},
			Text:      []string{"I'll write it."},
			Calls:     []agentboxtest.Call{{ID: "call_write", Name: "write_file", Args: `{"files":[{"path":"index.html","content":"<h1>Hi</h1>\n"}]}`, Split: 10}},
		},
		{Calls: []agentboxtest.Call{{ID: "call_cat", Name: "run_command", Args: `{"command":"cat index.html"}`}}},
		agentboxtest.Reply("Done."),
	}
	pa := agentboxtest.NewProvider(append(steps, agentboxtest.Reply("It says Hi."))...)
	pb := agentboxtest.NewProvider(agentboxtest.Reply("It says Hi."))
	var servers []string
	for _, p := range []*agentboxtest.Provider{pa, pb} {
		sb := agentboxtest.NewSandbox()
		defer sb.Close(context.Background())
		h := uistream.New(agentbox.New(p, agentbox.Options{Sandbox: sb}), uistream.Options{})
		defer h.Close(context.Background())
		srv := httptest.NewServer(h)
		defer srv.Close()
		servers = append(servers, srv.URL+"/api/chat")
	}
	out := node(t, "AI_SDK4_DIR", dir, "read4.mjs", "--chat", "chat-7", servers[0], servers[1], "Make a page", "What does it say?")
	var turns []struct {
		Messages []sdk4Message
		Finish   *sdk4Finish
		Errors   []sdk4Error
	}
	if err := json.Unmarshal(out, &turns); err != nil {
		t.Fatal(err)
	}
	for i, turn := range turns {
		if len(turn.Errors) > 0 || turn.Finish == nil || turn.Finish.FinishReason != "stop" || len(turn.Messages) != 2+2*min(i, 1) {
			t.Fatalf("turn %d: %d messages, finish %+v, errors %v", i, len(turn.Messages), turn.Finish, turn.Errors)
		}
	}
	first := turns[0].Messages[1]
	if got, want := first.summary(), "step-start reasoning=A page. text=I'll write it. tool-invocation/write_file/result/0 "+
		"step-start tool-invocation/run_command/result/1 step-start text=Done."; got != want {
		t.Errorf("the first answer:\n%s\nwant\n%s", got, want)
	}
	for i, turn := range turns[1:] {
		if last := turn.Messages[3]; last.Content != "It says Hi." {
			t.Errorf("the second answer from server %d: %q", i, last.Content)
		}
	}

	// What the model got for the second message: its session's history,
	// and the same rebuilt from the request.
	session := pa.Requests()[3].Messages
	rebuilt := pb.Requests()[0].Messages
	if len(session) != 7 || session[6].Content != "What does it say?" {
		t.Fatalf("the session's turn: %v", session)
	}
	for i := range session {
		session[i].Reasoning = "" // the client cannot give it back
	}
	if diff := cmp.Diff(session, rebuilt); diff != "" {
		t.Errorf("the conversation rebuilt from bolt.diy's request differs from the session's (-session +rebuilt):\n%s", diff)
	}
}

// TestTheProtocolIsTheClients: a request without a trigger whose last
// message has content gets a data stream, any other a UI message stream,
// unless Options.Protocol says which.
func TestTheProtocolIsTheClients(t *testing.T) {
	v5 := chatBody("c", "hi")
	for _, tc := range []struct {
		name     string
		protocol uistream.Protocol
		body     string
		want     string // the stream's Content-Type
	}{
		{"AI SDK 5", "", v5, "text/event-stream"},
		{"AI SDK 4", "", boltBody("c", "hi"), "text/plain; charset=utf-8"},
		{"AI SDK 4, content parts", "", `{"id":"c","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image","image":"data:x"}],"parts":[{"type":"text","text":[{"type":"text","text":"hi"}]}]}]}`, "text/plain; charset=utf-8"},
		{"AI SDK 4, no parts", "", `{"id":"c","messages":[{"role":"user","content":"hi"}]}`, "text/plain; charset=utf-8"},
		{"a trigger and content", "", `{"id":"c","trigger":"submit-message","messages":[{"role":"user","content":"hi","parts":[{"type":"text","text":"hi"}]}]}`, "text/event-stream"},
		{"no trigger, parts only", "", `{"id":"c","messages":[{"role":"user","parts":[{"type":"text","text":"hi"}]}]}`, "text/event-stream"},
		{"content null", "", `{"id":"c","messages":[{"role":"user","content":null,"parts":[{"type":"text","text":"hi"}]}]}`, "text/event-stream"},
		{"forced data stream", uistream.DataStream, v5, "text/plain; charset=utf-8"},
		{"forced UI message stream", uistream.UIMessageStream, boltBody("c", "hi"), "text/event-stream"},
		{"unknown protocol", "v3", boltBody("c", "hi"), "text/plain; charset=utf-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := agentboxtest.NewProvider(agentboxtest.Reply("hello"))
			h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{Protocol: tc.protocol})
			defer h.Close(context.Background())
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.want {
				t.Errorf("Content-Type %q, want %q", got, tc.want)
			}
			if tc.want == "text/event-stream" {
				chunks(t, rec.Body.String())
			} else if ps := dsParts(t, rec.Body.String()); !strings.Contains(codes(ps), "f0e") {
				t.Errorf("parts %s", codes(ps))
			}
			if got := p.Requests()[0].Messages; len(got) != 1 || got[0].Content != "hi" {
				t.Errorf("the model got %v", got)
			}
		})
	}
}

// boltHistory is a chat as bolt.diy keeps it in IndexedDB and sends it
// after a reload: useChat 1.2's messages, with parts and toolInvocations.
const boltHistory = `{"id":"chat-9","apiKeys":{},"files":{},"promptId":"default","contextOptimization":false,"messages":[
 {"id":"u1","role":"user","content":"Make a page","createdAt":"2025-06-01T10:00:00.000Z","parts":[{"type":"text","text":"Make a page"}]},
 {"id":"msg-1","role":"assistant","content":"I'll write it.Done.","createdAt":"2025-06-01T10:00:01.000Z","revisionId":"x",
  "reasoning":"A page.",
  "toolInvocations":[
   {"state":"result","step":0,"toolCallId":"call_write","toolName":"write_file","args":{"files":[{"path":"index.html","content":"<h1>Hi</h1>\n"}]},"result":"Wrote 1 file:\nindex.html (12 bytes)"},
   {"state":"result","step":0,"toolCallId":"call_bad","toolName":"read_file","args":{},"result":"Error: invalid arguments: not valid JSON"},
   {"state":"result","step":1,"toolCallId":"call_cat","toolName":"run_command","args":{"command":"cat index.html"},"result":{"stdout":"<h1>Hi</h1>"}},
   {"state":"call","step":1,"toolCallId":"call_lost","toolName":"run_command","args":{"command":"ls"}}],
  "annotations":[{"type":"usage","value":{"promptTokens":1,"completionTokens":2,"totalTokens":3}}],
  "parts":[{"type":"step-start"},{"type":"reasoning","reasoning":"A page.","details":[{"type":"text","text":"A page."}]},{"type":"text","text":"I'll write it."},
   {"type":"tool-invocation","toolInvocation":{"state":"result","step":0,"toolCallId":"call_write","toolName":"write_file","args":{"files":[{"path":"index.html","content":"<h1>Hi</h1>\n"}]},"result":"Wrote 1 file:\nindex.html (12 bytes)"}},
   {"type":"tool-invocation","toolInvocation":{"state":"result","step":0,"toolCallId":"call_bad","toolName":"read_file","args":{},"result":"Error: invalid arguments: not valid JSON"}},
   {"type":"step-start"},
   {"type":"tool-invocation","toolInvocation":{"state":"result","step":1,"toolCallId":"call_cat","toolName":"run_command","args":{"command":"cat index.html"},"result":{"stdout":"<h1>Hi</h1>"}}},
   {"type":"tool-invocation","toolInvocation":{"state":"call","step":1,"toolCallId":"call_lost","toolName":"run_command","args":{"command":"ls"}}},
   {"type":"step-start"},{"type":"text","text":"Done."}]},
 {"id":"u2","role":"user","content":[{"type":"text","text":"[Model: x]\n\nWhat does it say?"},{"type":"image","image":"data:image/png;base64,AA=="}],"createdAt":"2025-06-01T10:00:02.000Z"}]}`

// boltHistoryWithoutParts is boltHistory as clients before useChat 1.2
// keep it: no parts.
const boltHistoryWithoutParts = `{"id":"chat-9","messages":[
 {"id":"u1","role":"user","content":"Make a page"},
 {"id":"msg-1","role":"assistant","content":"I'll write it.Done.","reasoning":"A page.",
  "toolInvocations":[
   {"state":"result","step":0,"toolCallId":"call_write","toolName":"write_file","args":{"files":[{"path":"index.html","content":"<h1>Hi</h1>\n"}]},"result":"Wrote 1 file:\nindex.html (12 bytes)"},
   {"state":"result","step":0,"toolCallId":"call_bad","toolName":"read_file","args":{},"result":"Error: invalid arguments: not valid JSON"},
   {"state":"result","step":1,"toolCallId":"call_cat","toolName":"run_command","args":{"command":"cat index.html"},"result":{"stdout":"<h1>Hi</h1>"}},
   {"state":"call","step":1,"toolCallId":"call_lost","toolName":"run_command","args":{"command":"ls"}}]},
 {"id":"u2","role":"user","content":"[Model: x]\n\nWhat does it say?"}]}`

// TestHistoryFromAIsdk4Requests starts chats from requests of AI SDK 4
// clients, as after a restart: the model gets their text and their tool
// calls with results, from parts, or from toolInvocations and content when
// the messages have no parts.
func TestHistoryFromAIsdk4Requests(t *testing.T) {
	calls := func(cs ...agentbox.ToolCall) []agentbox.ToolCall { return cs }
	write := agentbox.ToolCall{ID: "call_write", Name: "write_file", Arguments: `{"files":[{"path":"index.html","content":"<h1>Hi</h1>\n"}]}`}
	bad := agentbox.ToolCall{ID: "call_bad", Name: "read_file", Arguments: `{}`}
	cat := agentbox.ToolCall{ID: "call_cat", Name: "run_command", Arguments: `{"command":"cat index.html"}`}
	result := func(c agentbox.ToolCall, content string) agentbox.Message {
		return agentbox.Message{Role: agentbox.RoleTool, ToolCallID: c.ID, Name: c.Name, Content: content}
	}
	user := func(s string) agentbox.Message { return agentbox.Message{Role: agentbox.RoleUser, Content: s} }
	answer := func(s string, cs []agentbox.ToolCall) agentbox.Message {
		return agentbox.Message{Role: agentbox.RoleAssistant, Content: s, ToolCalls: cs}
	}
	wrote, failed, catted := result(write, "Wrote 1 file:\nindex.html (12 bytes)"), result(bad, "Error: invalid arguments: not valid JSON"), result(cat, `{"stdout":"<h1>Hi</h1>"}`)
	for _, tc := range []struct {
		name string
		body string
		want []agentbox.Message
	}{
		{"parts", boltHistory, []agentbox.Message{
			user("Make a page"),
			answer("I'll write it.", calls(write, bad)), wrote, failed,
			answer("", calls(cat)), catted,
			answer("Done.", nil),
			user("[Model: x]\n\nWhat does it say?"),
		}},
		// As useChat 1.2 makes parts of such messages: the calls, then the text.
		{"no parts", boltHistoryWithoutParts, []agentbox.Message{
			user("Make a page"),
			answer("", calls(write, bad, cat)), wrote, failed, catted,
			answer("I'll write it.Done.", nil),
			user("[Model: x]\n\nWhat does it say?"),
		}},
		// The UI message stream's tool parts, of AI SDK 5 and later.
		{"AI SDK 5 tool parts", `{"id":"c","trigger":"submit-message","messages":[
			{"role":"user","parts":[{"type":"text","text":"Make a page"}]},
			{"role":"assistant","parts":[{"type":"step-start"},{"type":"text","text":"I'll write it."},
			 {"type":"tool-write_file","toolCallId":"call_write","state":"output-available","input":{"files":[{"path":"index.html","content":"<h1>Hi</h1>\n"}]},"output":"Wrote 1 file:\nindex.html (12 bytes)"},
			 {"type":"tool-read_file","toolCallId":"call_bad","state":"output-error","input":"{}","errorText":"Error: invalid arguments: not valid JSON"},
			 {"type":"step-start"},
			 {"type":"dynamic-tool","toolName":"run_command","toolCallId":"call_cat","state":"output-available","input":{"command":"cat index.html"},"output":{"stdout":"<h1>Hi</h1>"}},
			 {"type":"tool-run_command","toolCallId":"call_lost","state":"input-available","input":{"command":"ls"}},
			 {"type":"step-start"},{"type":"text","text":"Done."}]},
			{"role":"user","parts":[{"type":"text","text":"[Model: x]\n\nWhat does it say?"}]}]}`, []agentbox.Message{
			user("Make a page"),
			answer("I'll write it.", calls(write, bad)), wrote, failed,
			answer("", calls(cat)), catted,
			answer("Done.", nil),
			user("[Model: x]\n\nWhat does it say?"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := agentboxtest.NewProvider(agentboxtest.Reply("Hi."))
			h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{})
			defer h.Close(context.Background())
			if code, out := post(t, h, tc.body); code != 200 {
				t.Fatalf("%d %s", code, out)
			}
			if diff := cmp.Diff(tc.want, p.Requests()[0].Messages); diff != "" {
				t.Errorf("the model got (-want +got):\n%s", diff)
			}
		})
	}
}

// TestABoltChatGoesBack: bolt.diy's reload (regenerate) sends the history
// up to the last user message again, with no trigger: the session goes back
// to it; a request that is no chat request is refused.
func TestABoltChatGoesBack(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("Bad."), agentboxtest.Reply("Good."), agentboxtest.Reply("Next."))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{})
	defer h.Close(context.Background())
	for i, body := range []string{boltBody("b", "Answer well."), boltBody("b", "Answer well."), boltBody("b", "Answer well.", "More.")} {
		code, out := post(t, h, body)
		if code != 200 {
			t.Fatalf("request %d: %d %s", i, code, out)
		}
		dsParts(t, out)
	}
	var got []string
	for _, r := range p.Requests() {
		var texts []string
		for _, m := range r.Messages {
			texts = append(texts, m.Content)
		}
		got = append(got, strings.Join(texts, " "))
	}
	if want := []string{"Answer well.", "Answer well.", "Answer well. Good. More."}; !cmp.Equal(got, want) {
		t.Errorf("the model got %q, want %q", got, want)
	}
	for _, body := range []string{
		`{"id":"b","messages":[{"role":"user","content":""}]}`,
		`{"id":"b","messages":[{"role":"user","content":[{"type":"image","image":"data:x"}]}]}`,
		`{"id":"b","messages":[{"role":"assistant","content":"hi"}]}`,
	} {
		if code, out := post(t, h, body); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", body, code, out)
		}
	}
}

// TestDataStreamEncoderKeepsOrder feeds events in orders a run does not
// make: a result without a call, input after the call, steps going back, a
// second Done.
func TestDataStreamEncoderKeepsOrder(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewDataStreamEncoder(&b, "m")
	for _, ev := range []agentbox.Event{
		agentbox.Error{Err: errors.New("retrying")},
		agentbox.Token{Step: 1, Text: "a"},
		agentbox.Token{Step: 1, Text: "b", Reasoning: true},
		agentbox.Token{Step: 1, Text: ""},
		agentbox.ToolResult{Step: 1, ID: "x", Name: "t", Output: "Error: bad", Err: errors.New("bad")},
		agentbox.ToolInput{Step: 1, ID: "x", Name: "t", Delta: "{}"},
		agentbox.ToolInput{Step: 2, ID: "y", Name: "t", Delta: "[1"},
		agentbox.ToolStart{Step: 2, ID: "y", Name: "t", Args: []byte("[1")},
		agentbox.ToolInput{Step: 2, ID: "y", Name: "t", Delta: "]"},
		agentbox.ToolStart{Step: 2, ID: "z", Name: "t", Args: []byte("{\"a\":\"\xff\"}")},
		agentbox.ToolResult{Step: 2, ID: "y", Name: "t", Output: "ok"},
		agentbox.ToolResult{Step: 2, ID: "y", Name: "t", Output: "again"},
		agentbox.Token{Step: 1, Text: "back"},
		agentbox.Error{Err: errors.New("boom"), Fatal: true},
		agentbox.Done{Reason: agentbox.StopError, Err: errors.New("boom"), Steps: 2},
		agentbox.Token{Step: 3, Text: "late"},
	} {
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	}
	ps := dsParts(t, b.String())
	if got, want := codes(ps), "2f0g9ae"+"fbc99ae"+"f0e"+"83d"; got != want {
		t.Errorf("parts %s, want %s\n%s", got, want, b.String())
	}
	if args := ps[4].Value.(map[string]any)["args"]; fmt.Sprint(args) != "map[]" {
		t.Errorf("a call with no arguments has args %v", args)
	}
	if args := ps[11].Value.(map[string]any)["args"]; fmt.Sprint(args) != "map[a:\uFFFD]" {
		t.Errorf("args %v, want the invalid byte replaced", args)
	}
	if s := ps[len(ps)-2].Value; s != "boom" {
		t.Errorf("error part %v", s)
	}
}

func TestDataStreamEncoderFail(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewDataStreamEncoder(&b, "m")
	if err := enc.Fail(errors.New("the sandbox could not open")); err != nil {
		t.Fatal(err)
	}
	enc.Fail(errors.New("again"))
	// With no step, no annotations: they would make an empty message.
	if want := "3:\"the sandbox could not open\"\nd:{\"finishReason\":\"error\",\"usage\":{\"promptTokens\":0,\"completionTokens\":0}}\n"; b.String() != want {
		t.Errorf("stream %q, want %q", b.String(), want)
	}
	dsParts(t, b.String())
}

// TestDataStreamOutputIsCapped: a call's output is sent up to
// MaxToolOutput bytes, cut between characters, then a note says how much
// was left out; the result is sent whole.
func TestDataStreamOutputIsCapped(t *testing.T) {
	var b bytes.Buffer
	enc := uistream.NewDataStreamEncoder(&b, "m")
	enc.MaxToolOutput = 10
	for _, ev := range []agentbox.Event{
		agentbox.ToolStart{Step: 1, ID: "c", Name: "run_command", Args: []byte(`{}`)},
		agentbox.ToolOutput{Step: 1, ID: "c", Stream: "stdout", Text: "éééé"},
		agentbox.ToolOutput{Step: 1, ID: "c", Stream: "stdout", Text: "éé"},
		agentbox.ToolOutput{Step: 1, ID: "c", Stream: "stderr", Text: "more"},
		agentbox.ToolResult{Step: 1, ID: "c", Name: "run_command", Output: strings.Repeat("x", 100)},
		agentbox.Done{Reason: agentbox.StopCompleted},
	} {
		enc.Encode(ev)
	}
	var texts []string
	for _, p := range dsParts(t, b.String()) {
		if p.Code == '2' {
			texts = append(texts, p.Value.([]any)[0].(map[string]any)["text"].(string))
		}
		if p.Code == 'a' && len(p.Value.(map[string]any)["result"].(string)) != 100 {
			t.Errorf("result %v, want it whole", p.Value)
		}
	}
	if want := []string{"éééé", "é", "\n[6 bytes of output not shown]\n"}; !cmp.Equal(texts, want) {
		t.Errorf("output %q, want %q", texts, want)
	}
}

// FuzzDataStreamEncoder checks the data streams a DataStreamEncoder writes
// for any sequence of events, as FuzzEncoder does the UI message streams:
// each is one the client accepts (see parseDataStream), still going without
// a Done and complete once the Done or Fail ends it; the text and reasoning
// add up to the tokens'; each call with a ToolResult gets one result, its
// first result's Output; and the finish says "error" exactly when the Done
// had an error, "tool-calls" exactly when it stopped for approvals.
func FuzzDataStreamEncoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'h', 'i', '!', 1, 0, 1, 2, 'o', 'k', 8, 0, 0, 0, 0})
	f.Add([]byte{9, 2, 1, 0, 4, 'r', 'e', 'a', 'd', 3, '{', '"', '}', 3, 1, 0, 0, 1, 1, 'x', 4, 1, 0, 0, 8, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'})
	f.Add([]byte{1, 3, 2, 1, 2, 'w', 'r', 6, 0, 0, 0, 2, 'o', 'k', 0, 2, 0, 1, 'y', 1, 'x', 0, 1, 'z'})
	f.Add([]byte{5, 0, 0, 2, 0xff, 0xfe, 0, 0, 1, 3, 0xe6, 0x97, 0xa5, 0, 3, 1, 1, 0xc3, 3, 2, 0, 0, 2, 2, '[', '1'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzEvents{data: data}
		limit := int(r.byte() % 32)
		var events []agentbox.Event
		for n := 0; len(r.data) > 0 && n < 64; n++ {
			events = append(events, r.event())
		}
		var buf bytes.Buffer
		enc := uistream.NewDataStreamEncoder(&buf, "msg-1")
		enc.MaxToolOutput = limit
		var done *agentbox.Done
		var text, reasoning strings.Builder
		results := map[string]string{}
		for _, ev := range events {
			if err := enc.Encode(ev); err != nil {
				t.Fatal(err)
			}
			if done != nil {
				continue
			}
			switch ev := ev.(type) {
			case agentbox.Done:
				done = &ev
			case agentbox.Token:
				if ev.Reasoning {
					reasoning.WriteString(asJSON(ev.Text))
				} else {
					text.WriteString(asJSON(ev.Text))
				}
			case agentbox.ToolResult:
				if _, ok := results[ev.ID]; !ok {
					results[ev.ID] = asJSON(ev.Output)
				}
			}
		}
		if done == nil {
			if _, err := parseDataStream(buf.String(), false); err != nil {
				t.Fatalf("%v\nevents: %#v\nstream:\n%s", err, events, buf.String())
			}
		}
		ended := buf.Len()
		enc.Fail(errors.New("the run could not go on"))
		if done != nil && buf.Len() != ended {
			t.Fatalf("Fail after the Done wrote %q", buf.String()[ended:])
		}
		ps, err := parseDataStream(buf.String(), true)
		if err != nil {
			t.Fatalf("%v\nevents: %#v\nstream:\n%s", err, events, buf.String())
		}
		var gotText, gotReasoning strings.Builder
		got := map[string][]string{}
		for _, p := range ps {
			switch p.Code {
			case '0':
				gotText.WriteString(p.Value.(string))
			case 'g':
				gotReasoning.WriteString(p.Value.(string))
			case 'a':
				v := p.Value.(map[string]any)
				got[v["toolCallId"].(string)] = append(got[v["toolCallId"].(string)], v["result"].(string))
			}
		}
		if gotText.String() != text.String() || gotReasoning.String() != reasoning.String() {
			t.Errorf("the parts say %q and reasoning %q; the tokens %q and %q", gotText.String(), gotReasoning.String(), text.String(), reasoning.String())
		}
		if !cmp.Equal(len(got), len(results)) {
			t.Errorf("results for %d calls, want %d", len(got), len(results))
		}
		for id, want := range results {
			if g := got[id]; len(g) != 1 || g[0] != want {
				t.Errorf("call %q has results %q, want one, %q", id, g, want)
			}
		}
		finish := ps[len(ps)-1].Value.(map[string]any)
		if wantError := done == nil || done.Err != nil; (finish["finishReason"] == "error") != wantError {
			t.Errorf("finishReason %v after a Done %+v", finish["finishReason"], done)
		}
		if waiting := done != nil && done.Err == nil && done.Reason == agentbox.StopApproval; (finish["finishReason"] == "tool-calls") != waiting {
			t.Errorf("finishReason %v after a Done %+v", finish["finishReason"], done)
		}
	})
}
