package uistream_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/uistream"
)

// blockingRun is a turn that says something, runs a command that waits
// until release is closed (or the run is cancelled, which cancelled then
// reports), and answers "built".
func blockingRun() (steps []agentboxtest.Step, opened *sandboxes, started, release, cancelled chan struct{}) {
	started, release, cancelled = make(chan struct{}), make(chan struct{}), make(chan struct{})
	opened = &sandboxes{handler: func(ctx context.Context, sb *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		if cmd.Cmd != "build" {
			return agentboxtest.Shell(ctx, sb, cmd)
		}
		close(started)
		select {
		case <-release:
			return agentbox.Result{}, nil
		case <-ctx.Done():
			close(cancelled)
			return agentbox.Result{ExitCode: -1}, ctx.Err()
		}
	}}
	steps = []agentboxtest.Step{
		{Text: []string{"Building it. "}, Calls: []agentboxtest.Call{{ID: "build", Name: "run_command", Args: `{"command":"build"}`}}},
		agentboxtest.Reply("built"),
	}
	return steps, opened, started, release, cancelled
}

// startTurn posts a chat message to srv and returns once the command of
// blockingRun has started; hangUp ends the request.
func startTurn(t *testing.T, srv *httptest.Server, id string, started <-chan struct{}) (hangUp func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/chat", strings.NewReader(chatBody(id, "build it")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("POST: %s", resp.Status)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not start")
	}
	return func() {
		cancel()
		resp.Body.Close()
	}
}

// get sends a GET to srv at path and returns the response, its body unread.
func get(t *testing.T, srv *httptest.Server, path string) *http.Response {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// newResumeServer serves a handler for steps, mounted at /api/chat and
// below, as a page that resumes needs.
func newResumeServer(t *testing.T, steps []agentboxtest.Step, opened *sandboxes, opts uistream.Options) (*uistream.Handler, *httptest.Server) {
	t.Helper()
	h := uistream.New(agentbox.New(agentboxtest.NewProvider(steps...), agentbox.Options{Open: opened.open}), opts)
	mux := http.NewServeMux()
	mux.Handle("/api/chat", h)
	mux.Handle("/api/chat/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Close(context.Background()) // first: a turn left running would hold the server's Close
		srv.Close()
	})
	return h, srv
}

// TestAReloadResumesTheTurn hangs up mid-turn, as a page that reloads does,
// and resumes the turn on both routes: each gets the whole stream from its
// start, then the rest as it comes, to its end; the turn was not cancelled.
func TestAReloadResumesTheTurn(t *testing.T) {
	for _, route := range []string{"/api/chat/a/stream", "/api/chat?chatId=a"} {
		t.Run(route, func(t *testing.T) {
			steps, opened, started, release, cancelled := blockingRun()
			_, srv := newResumeServer(t, steps, opened, uistream.Options{ResumeWindow: time.Minute})
			hangUp := startTurn(t, srv, "a", started)
			hangUp()

			resp := get(t, srv, route)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("resume: %s %q, want 200 and the stream", resp.Status, resp.Header.Get("Content-Type"))
			}
			readUntil(t, resp.Body, `"type":"tool-input-available"`) // from the start: the turn's first parts
			close(release)
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`"delta":"built"`, `"type":"finish"`, "data: [DONE]"} {
				if !strings.Contains(string(rest), want) {
					t.Errorf("the resumed stream's rest lacks %s:\n%s", want, rest)
				}
			}
			select {
			case <-cancelled:
				t.Error("the turn was cancelled although a client resumed it")
			default:
			}
			if resp := get(t, srv, route); resp.StatusCode == http.StatusOK && resp.Header.Get("X-Vercel-Ai-Data-Stream") == "" || resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
				t.Errorf("resume after the turn ended: %s, want nothing to resume", resp.Status)
			}
		})
	}
}

// TestAResumeFromTheStartMatchesTheStream resumes while the first client is
// still reading: both get the same bytes.
func TestAResumeFromTheStartMatchesTheStream(t *testing.T) {
	steps, opened, started, release, _ := blockingRun()
	_, srv := newResumeServer(t, steps, opened, uistream.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/chat", strings.NewReader(chatBody("a", "build it")))
	req.Header.Set("Content-Type", "application/json")
	first, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	<-started
	second := get(t, srv, "/api/chat/a/stream")
	if second.StatusCode != 200 {
		t.Fatalf("resume: %s", second.Status)
	}
	close(release)
	a, errA := io.ReadAll(first.Body)
	b, errB := io.ReadAll(second.Body)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if string(a) != string(b) || !strings.HasSuffix(string(a), "data: [DONE]\n\n") {
		t.Errorf("the resumed stream differs from the first client's, or is not whole:\nfirst:\n%s\nresumed:\n%s", a, b)
	}
}

// TestNothingToResume answers nothing to resume for a chat with no turn
// running, and for one whose turn outgrew the replay buffer.
func TestNothingToResume(t *testing.T) {
	steps, opened, started, release, _ := blockingRun()
	_, srv := newResumeServer(t, steps, opened, uistream.Options{MaxReplayBytes: 64})
	if resp := get(t, srv, "/api/chat/nobody/stream"); resp.StatusCode != http.StatusNoContent {
		t.Errorf("AI SDK 5 resume of a chat with no turn: %s, want 204", resp.Status)
	}
	empty := get(t, srv, "/api/chat?chatId=nobody")
	if body, _ := io.ReadAll(empty.Body); empty.StatusCode != http.StatusOK || len(body) != 0 || empty.Header.Get("X-Vercel-Ai-Data-Stream") != "v1" {
		t.Errorf("AI SDK 4 resume of a chat with no turn: %s %q %q, want 200 and an empty data stream", empty.Status, empty.Header, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/chat", strings.NewReader(chatBody("big", "build it")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-started
	if resp := get(t, srv, "/api/chat/big/stream"); resp.StatusCode != http.StatusNoContent {
		t.Errorf("resume of a turn past MaxReplayBytes: %s, want 204", resp.Status)
	}
	close(release)
	io.Copy(io.Discard, resp.Body)
}

// TestANewMessageTakesAnAbandonedTurnsPlace hangs up mid-turn, as a page
// whose user pressed stop does, and sends the next message at once: it is
// served (not 409), and the abandoned turn's command was cancelled.
func TestANewMessageTakesAnAbandonedTurnsPlace(t *testing.T) {
	steps, opened, started, _, cancelled := blockingRun()
	steps = append(steps, agentboxtest.Reply("next")) // the cancelled turn leaves "built" unsaid: the next turn says it
	h, srv := newResumeServer(t, steps, opened, uistream.Options{ResumeWindow: time.Hour})
	hangUp := startTurn(t, srv, "a", started)
	hangUp()
	var code int
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		// The server sees the hang-up a moment later; until then the turn
		// has its client, and the chat is busy.
		if code, body = post(t, h, chatBody("a", "build it", "then what?")); code != http.StatusConflict || time.Now().After(deadline) {
			break
		}
	}
	if code != 200 || !strings.Contains(body, `"type":"finish"`) {
		t.Fatalf("the next message after a hang-up: %d, want it served:\n%s", code, body)
	}
	select {
	case <-cancelled:
	default:
		t.Error("the abandoned turn's command was not cancelled")
	}
}

// TestNoResumeWindow cancels the turn as soon as its client goes, when
// ResumeWindow is negative: nothing is left to resume.
func TestNoResumeWindow(t *testing.T) {
	steps, opened, started, _, cancelled := blockingRun()
	_, srv := newResumeServer(t, steps, opened, uistream.Options{ResumeWindow: -1})
	hangUp := startTurn(t, srv, "a", started)
	hangUp()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the turn runs on 5 s after its client went, with no resume window")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp := get(t, srv, "/api/chat/a/stream")
		if resp.StatusCode == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("resume of a cancelled turn: %s, want 204", resp.Status)
		}
		resp.Body.Close()
	}
}

// attachSignal wraps h, closing attached once a GET is answered 200 after
// armed is set: a resume has attached to the turn.
func attachSignal(h http.Handler, armed *atomic.Bool, attached chan<- struct{}) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && armed.Load() {
			w = &statusSignal{ResponseWriter: w, ok: func() { once.Do(func() { close(attached) }) }}
		}
		h.ServeHTTP(w, r)
	})
}

type statusSignal struct {
	http.ResponseWriter
	ok func()
}

func (w *statusSignal) WriteHeader(status int) {
	w.ResponseWriter.WriteHeader(status)
	if status == http.StatusOK {
		w.ok()
	}
}

func (w *statusSignal) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestTheClientsResume reloads mid-turn and resumes with each client's own
// code: the AI SDK 5+ transport's reconnectToStream, and AI SDK 4's
// callChatApi with requestType "resume" (useChat 1.2's experimental_resume).
// Each builds the whole answer: the tool call with its result, the text
// after it. With no turn running, neither reports an error.
func TestTheClientsResume(t *testing.T) {
	for _, tt := range []struct {
		version, env string
		dir          func(*testing.T) string
		body         string
	}{
		{"v5", "AI_SDK_DIR", aiSDK, chatBody("a", "build it")},
		{"v4", "AI_SDK4_DIR", aiSDK4, boltBody("a", "build it")},
	} {
		t.Run(tt.version, func(t *testing.T) {
			dir := tt.dir(t)
			steps, opened, started, release, cancelled := blockingRun()
			h := uistream.New(agentbox.New(agentboxtest.NewProvider(steps...), agentbox.Options{Open: opened.open}), uistream.Options{ResumeWindow: time.Minute})
			attached := make(chan struct{})
			var armed atomic.Bool
			mux := http.NewServeMux()
			mux.Handle("/api/chat", h)
			mux.Handle("/api/chat/", h)
			srv := httptest.NewServer(attachSignal(mux, &armed, attached))
			t.Cleanup(func() {
				h.Close(context.Background())
				srv.Close()
			})
			resume := func() (out []byte, err error) {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hang is cut short
				defer cancel()
				cmd := exec.CommandContext(ctx, "node", "testdata/client/resume.mjs", tt.version, srv.URL+"/api/chat", "a")
				cmd.Env = append(os.Environ(), tt.env+"="+dir)
				return cmd.Output()
			}
			var result struct {
				Message *struct {
					Content string
					Parts   []struct {
						Type, Text, State string
						ToolInvocation    struct{ State string } `json:"toolInvocation"`
					}
				}
				Finish *struct{ FinishReason string }
				Errors []struct{ Name, Message string }
			}

			out, err := resume()
			if err != nil || json.Unmarshal(out, &result) != nil || len(result.Errors) > 0 || result.Message != nil {
				t.Fatalf("resume with no turn running: %v %s; want no message and no error", err, out)
			}

			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/chat", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("POST: %v %v", resp, err)
			}
			<-started
			armed.Store(true)
			cancel() // the page reloads
			resp.Body.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				out, err = resume()
			}()
			select {
			case <-attached:
			case <-time.After(20 * time.Second):
				t.Fatal("the client did not resume")
			}
			close(release)
			<-done
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			result.Message = nil
			if err := json.Unmarshal(out, &result); err != nil || result.Message == nil || len(result.Errors) > 0 {
				t.Fatalf("the resumed turn: %v %s", err, out)
			}
			var text, call string
			for _, p := range result.Message.Parts {
				switch {
				case p.Type == "text":
					text += p.Text
				case p.Type == "tool-invocation":
					call = p.ToolInvocation.State
				case strings.HasPrefix(p.Type, "tool-"):
					call = p.State
				}
			}
			want := map[string]string{"v5": "output-available", "v4": "result"}[tt.version]
			if !strings.Contains(text, "built") || call != want {
				t.Errorf("the resumed message has text %q and a call in state %q; want built and %s:\n%s", text, call, want, out)
			}
			if tt.version == "v4" && (result.Finish == nil || result.Finish.FinishReason != "stop") {
				t.Errorf("the resumed v4 turn finished %+v, want stop", result.Finish)
			}
			select {
			case <-cancelled:
				t.Error("the turn was cancelled although a client resumed it")
			default:
			}
		})
	}
}

// TestAStalledResumerLosesTheTurn resumes a turn with a client that never
// reads, after the turn's own client hung up: once a write to it has waited
// WriteTimeout, it is gone too, and the turn is cancelled when the resume
// window passes; the chat takes the next message. Many resumers that read
// share the one kept stream.
func TestAStalledResumerLosesTheTurn(t *testing.T) {
	const writeTimeout, window = 200 * time.Millisecond, 300 * time.Millisecond
	steps, opened, started, _, cancelled := blockingRun()
	big := make([]string, 256) // 1 MiB before the command: more than the sockets hold
	for i := range big {
		big[i] = strings.Repeat("y", 4<<10)
	}
	steps[0].Text = big
	steps = append(steps, agentboxtest.Reply("next"))
	h := uistream.New(agentbox.New(agentboxtest.NewProvider(steps...), agentbox.Options{Open: opened.open}),
		uistream.Options{WriteTimeout: writeTimeout, ResumeWindow: window})
	srv := smallBufferServer(h)
	t.Cleanup(func() {
		h.Close(context.Background())
		srv.Close()
	})
	hangUp := startTurn(t, srv, "a", started)
	hangUp()

	readers := make(chan int, 20)
	for range cap(readers) {
		go func() {
			resp, err := http.Get(srv.URL + "/api/chat/a/stream")
			if err != nil {
				readers <- -1
				return
			}
			n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close() // gone, after a MiB of the turn
			readers <- int(n)
		}()
	}
	for range cap(readers) {
		if n := <-readers; n != 1<<20 {
			t.Errorf("a resumer read %d bytes of the turn, want the first MiB", n)
		}
	}
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(smallBuffer)
	io.WriteString(conn, "GET /api/chat/a/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") // and never reads

	select {
	case <-cancelled:
	case <-time.After(writeTimeout + window + margin):
		t.Fatal("a resumer that never reads keeps the turn running")
	}
	code, body, _ := untilServed(t, h, chatBody("a", "build it", "then?"), http.StatusConflict, time.Now(), margin)
	if code != 200 || !strings.Contains(body, `"type":"finish"`) {
		t.Errorf("the next message: %d %.200s", code, body)
	}
}
