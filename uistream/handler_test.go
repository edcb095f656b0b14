package uistream_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/uistream"
)

// sandboxes is an Opener making a new agentboxtest.Sandbox each time.
type sandboxes struct {
	handler func(context.Context, *agentboxtest.Sandbox, agentbox.Command) (agentbox.Result, error)
	mu      sync.Mutex
	made    []*agentboxtest.Sandbox
}

func (s *sandboxes) open(ctx context.Context) (agentbox.Sandbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := agentboxtest.NewSandbox()
	sb.Handler = s.handler
	s.made = append(s.made, sb)
	return sb, nil
}

func (s *sandboxes) all() []*agentboxtest.Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*agentboxtest.Sandbox(nil), s.made...)
}

// post sends a chat request to h and returns the status and body.
func post(t *testing.T, h http.Handler, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestChatsKeepTheirSessions(t *testing.T) {
	var opened sandboxes
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"app.txt","content":"turn 1"}]}`}}}, agentboxtest.Reply("Written."),
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "read_file", Args: `{"path":"app.txt"}`}}}, agentboxtest.Reply("Read."),
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r2", Name: "read_file", Args: `{"path":"app.txt"}`}}}, agentboxtest.Reply("Nothing."),
	)
	h := uistream.New(agentbox.New(p, agentbox.Options{Open: opened.open}), uistream.Options{})
	for _, tc := range []struct {
		chat, want string
		texts      []string
	}{
		{"a", "Wrote 1 file", []string{"write"}},
		{"a", `"output":"turn 1"`, []string{"write", "read"}},
		{"b", `"type":"tool-output-error"`, []string{"read"}}, // another chat, another sandbox
	} {
		code, body := post(t, h, chatBody(tc.chat, tc.texts...))
		chunks(t, body)
		if code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("chat %s: %d, want a stream with %s:\n%s", tc.chat, code, tc.want, body)
		}
	}
	if n := h.Sessions(); n != 2 {
		t.Errorf("%d sessions, want one per chat", n)
	}
	if reqs := p.Requests(); len(reqs[2].Messages) != 5 {
		t.Errorf("chat a's second turn sent %d messages, want its first turn's 4 and the new one", len(reqs[2].Messages))
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, sb := range opened.all() {
		if sb.Closes() != 1 {
			t.Errorf("sandbox %d closed %d times by Close, want 1", i, sb.Closes())
		}
	}
	if code, body := post(t, h, chatBody("a", "more")); code != http.StatusServiceUnavailable || !strings.Contains(body, "closed") {
		t.Errorf("after Close: %d %s, want 503", code, body)
	}
}

func TestBadRequestsAreRefused(t *testing.T) {
	p := agentboxtest.NewProvider()
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{MaxBodyBytes: 1 << 10})
	defer h.Close(context.Background())
	user := `{"role":"user","parts":[{"type":"text","text":"hi"}]}`
	for _, tc := range []struct {
		name, method, body string
		status             int
		says               string
		contentType        string
	}{
		{"text/plain", "POST", chatBody("a", "hi"), 415, "application/json", "text/plain"},
		{"form", "POST", chatBody("a", "hi"), 415, "application/json", "application/x-www-form-urlencoded"},
		{"GET", http.MethodGet, "", 405, "POST", ""},
		{"PUT", http.MethodPut, chatBody("a", "hi"), 405, "POST", ""},
		{"not JSON", "POST", "hello", 400, "not a chat request", ""},
		{"truncated JSON", "POST", `{"id":"a","messages":[`, 400, "not a chat request", ""},
		{"wrong types", "POST", `{"id":1,"messages":[]}`, 400, "not a chat request", ""},
		{"two values", "POST", chatBody("a", "hi") + chatBody("a", "hi"), 400, "more than one", ""},
		{"no id", "POST", `{"messages":[` + user + `]}`, 400, `no "id"`, ""},
		{"long id", "POST", `{"id":"` + strings.Repeat("x", 300) + `","messages":[` + user + `]}`, 400, "over 256", ""},
		{"no messages", "POST", `{"id":"a","messages":[]}`, 400, `no "messages"`, ""},
		{"last not the user's", "POST", `{"id":"a","messages":[` + user + `,{"role":"assistant","parts":[{"type":"text","text":"x"}]}]}`, 400, `from "assistant"`, ""},
		{"no text", "POST", `{"id":"a","messages":[{"role":"user","parts":[{"type":"file"}]}]}`, 400, "no text", ""},
		{"unknown trigger", "POST", `{"id":"a","trigger":"resume","messages":[` + user + `]}`, 400, `unknown "trigger"`, ""},
		{"oversize", "POST", chatBody("a", strings.Repeat("x", 2<<10)), 413, "over 1024 bytes", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/api/chat", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", cmp.Or(tc.contentType, "application/json; charset=utf-8"))
			h.ServeHTTP(rec, req)
			var got struct{ Error string }
			err := json.Unmarshal(rec.Body.Bytes(), &got)
			if rec.Code != tc.status || err != nil || !strings.Contains(got.Error, tc.says) || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%d %s (%s), want %d and a JSON error saying %q", rec.Code, rec.Body, rec.Header().Get("Content-Type"), tc.status, tc.says)
			}
			if tc.status == 405 && rec.Header().Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
		})
	}
	if n := len(p.Requests()); n != 0 || h.Sessions() != 0 {
		t.Errorf("refused requests reached the model %d times and made %d sessions", n, h.Sessions())
	}
}

func TestABusyChatIsRefused(t *testing.T) {
	release := make(chan struct{})
	wait := agentbox.NewTool("wait", "waits", func(ctx context.Context, env *agentbox.Env, _ struct{}) (string, error) {
		<-release
		return "ok", nil
	})
	p := agentboxtest.NewProvider(agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "wait", Args: `{}`}}}, agentboxtest.Reply("done"), agentboxtest.Reply("next"))
	h := uistream.New(agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{wait}}), uistream.Options{})
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(chatBody("a", "wait")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	readUntil(t, resp.Body, `"tool-input-available"`)
	if code, body := post(t, h, chatBody("a", "again")); code != http.StatusConflict || !strings.Contains(body, "still running") {
		t.Errorf("second request while the first runs: %d %s, want 409", code, body)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(rest), `"finishReason":"stop"`) {
		t.Errorf("the first request did not finish:\n%s", rest)
	}
	if code, body := post(t, h, chatBody("a", "wait", "again")); code != 200 || !strings.Contains(body, "next") {
		t.Errorf("request after the turn ended: %d %s", code, body)
	}
}

// readUntil reads r until a line contains s, and fails when it ends first.
func readUntil(t *testing.T, r io.Reader, s string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return
		}
	}
	t.Fatalf("the stream ended before %s: %v", s, sc.Err())
}

// TestDisconnectCancelsTheRun hangs up while a command runs: once the
// resume window has passed with no client resuming the turn, the command is
// cancelled, the calls left are not run, the chat takes a new message, and
// when the chat has been idle long enough, its sandbox is closed.
func TestDisconnectCancelsTheRun(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	opened := sandboxes{handler: func(ctx context.Context, sb *agentboxtest.Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
		if cmd.Cmd != "build" {
			return agentboxtest.Shell(ctx, sb, cmd)
		}
		close(started)
		<-ctx.Done()
		close(cancelled)
		return agentbox.Result{ExitCode: -1}, ctx.Err()
	}}
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{
			{ID: "build", Name: "run_command", Args: `{"command":"build"}`},
			{ID: "after", Name: "write_file", Args: `{"files":[{"path":"after.txt","content":"x"}]}`},
		}},
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "ls", Name: "list_files", Args: `{}`}}}, agentboxtest.Reply("listed"),
	)
	h := uistream.New(agentbox.New(p, agentbox.Options{Open: opened.open}), uistream.Options{IdleTimeout: 200 * time.Millisecond, ResumeWindow: 300 * time.Millisecond})
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()

	ctx, hangUp := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(chatBody("a", "build it")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%s", resp.Status)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not start")
	}
	hangUp()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the command still runs 10 s after the client hung up")
	}

	// The chat goes on, in the same sandbox, without the call left behind.
	var code int
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, body = post(t, h, chatBody("a", "build it", "what is there?")); code != http.StatusConflict || time.Now().After(deadline) {
			break
		}
	}
	if code != 200 || strings.Contains(body, "after.txt") || !strings.Contains(body, "listed") {
		t.Errorf("the next message: %d, want a turn that lists no after.txt:\n%s", code, body)
	}
	if made := opened.all(); len(made) != 1 {
		t.Fatalf("%d sandboxes opened, want the chat's one", len(made))
	}
	for deadline := time.Now().Add(5 * time.Second); h.Sessions() > 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if n, closes := h.Sessions(), opened.all()[0].Closes(); n != 0 || closes != 1 {
		t.Errorf("after the idle time: %d sessions, sandbox closed %d times; want 0 and 1", n, closes)
	}
}

func TestIdleSessionsExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var opened sandboxes
		var steps []agentboxtest.Step
		for i := range 3 {
			steps = append(steps, agentboxtest.Step{Calls: []agentboxtest.Call{{ID: fmt.Sprint("w", i), Name: "write_file", Args: `{"files":[{"path":"a","content":"a"}]}`}}}, agentboxtest.Reply("ok"))
		}
		h := uistream.New(agentbox.New(agentboxtest.NewProvider(steps...), agentbox.Options{Open: opened.open}), uistream.Options{IdleTimeout: time.Minute})
		defer h.Close(context.Background())
		post(t, h, chatBody("a", "one"))
		time.Sleep(50 * time.Second)
		post(t, h, chatBody("a", "one", "two")) // used again: a minute more
		time.Sleep(50 * time.Second)
		synctest.Wait()
		if n := h.Sessions(); n != 1 || opened.all()[0].Closes() != 0 {
			t.Fatalf("100 s after the first message, 50 s after the second: %d sessions, want the chat's", n)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if n := h.Sessions(); n != 0 || opened.all()[0].Closes() != 1 {
			t.Fatalf("a minute after the last message: %d sessions, sandbox closed %d times; want none and closed", n, opened.all()[0].Closes())
		}
		if code, body := post(t, h, chatBody("a", "three")); code != 200 || len(opened.all()) != 2 {
			t.Errorf("a message after expiry: %d %s, %d sandboxes; want a new session", code, body, len(opened.all()))
		}
	})
}

// TestIdleChatsMakeRoom fills MaxSessions (3) with chats whose turns have
// ended, IdleTimeout an hour: a new chat is served at once, in the place of
// the chat idle the longest (b: a was used again after it), whose sandbox
// is closed before the new chat's turn; the other chats keep their sessions
// and sandboxes, and go on where they were.
func TestIdleChatsMakeRoom(t *testing.T) {
	var opened sandboxes
	write := func(chat string) []agentboxtest.Step {
		return []agentboxtest.Step{
			{Calls: []agentboxtest.Call{{ID: "w" + chat, Name: "write_file", Args: `{"files":[{"path":"chat.txt","content":"chat ` + chat + `"}]}`}}},
			agentboxtest.Reply("wrote " + chat),
		}
	}
	var steps []agentboxtest.Step
	for _, chat := range []string{"a", "b", "c"} {
		steps = append(steps, write(chat)...)
	}
	steps = append(steps, agentboxtest.Reply("a again"))
	steps = append(steps, write("d")...)
	steps = append(steps,
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "rc", Name: "read_file", Args: `{"path":"chat.txt"}`}}}, agentboxtest.Reply("c read"),
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "ra", Name: "read_file", Args: `{"path":"chat.txt"}`}}}, agentboxtest.Reply("a read"),
	)
	p := agentboxtest.NewProvider(steps...)
	h := uistream.New(agentbox.New(p, agentbox.Options{Open: opened.open}), uistream.Options{MaxSessions: 3, IdleTimeout: time.Hour})
	defer h.Close(context.Background())

	for _, tc := range []struct {
		chat  string
		texts []string
		want  string
	}{
		{"a", []string{"write"}, "wrote a"},
		{"b", []string{"write"}, "wrote b"},
		{"c", []string{"write"}, "wrote c"},
		{"a", []string{"write", "again"}, "a again"},
		{"d", []string{"write"}, "wrote d"}, // beyond MaxSessions: b makes room
	} {
		if code, body := post(t, h, chatBody(tc.chat, tc.texts...)); code != 200 || !strings.Contains(body, tc.want) {
			t.Fatalf("chat %s with %d sessions of 3: %d, want it served with %q:\n%.300s", tc.chat, h.Sessions(), code, tc.want, body)
		}
	}
	made := opened.all()
	if len(made) != 4 || h.Sessions() != 3 {
		t.Fatalf("%d sandboxes, %d sessions; want one sandbox per chat, 3 sessions", len(made), h.Sessions())
	}
	for i, want := range []int{0, 1, 0, 0} {
		if got := made[i].Closes(); got != want {
			t.Errorf("chat %c's sandbox closed %d times, want %d", 'a'+i, got, want)
		}
	}

	// c and a go on in their sessions and sandboxes: each reads its file,
	// its history sent with the new message.
	for _, tc := range []struct {
		chat  string
		texts []string
		want  string
		msgs  int
	}{
		{"c", []string{"write", "read"}, `"output":"chat c"`, 5},
		{"a", []string{"write", "again", "read"}, `"output":"chat a"`, 7},
	} {
		code, body := post(t, h, chatBody(tc.chat, tc.texts...))
		if code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("chat %s after d made room: %d, want its file read, %s:\n%.500s", tc.chat, code, tc.want, body)
		}
		reqs := p.Requests()
		if got := len(reqs[len(reqs)-2].Messages); got != tc.msgs {
			t.Errorf("chat %s's turn after d made room sent %d messages, want %d: its session's history and the new one", tc.chat, got, tc.msgs)
		}
	}
	if made := opened.all(); len(made) != 4 || made[0].Closes() != 0 || made[2].Closes() != 0 || made[3].Closes() != 0 || h.Sessions() != 3 {
		t.Errorf("%d sandboxes, %d sessions, after c and a went on; want 4 and 3, only b's sandbox closed", len(made), h.Sessions())
	}
}

// TestManySessionsAreRefused holds a turn of each of MaxSessions (2) chats
// in a tool: a new chat gets 503, and neither busy chat loses its session.
// Once the turns end, the new chat is served in the place of one of them.
func TestManySessionsAreRefused(t *testing.T) {
	entered, release := make(chan struct{}, 2), make(chan struct{})
	wait := agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "wait", Args: `{}`}}}
	p := agentboxtest.NewProvider(wait, wait, agentboxtest.Reply("done"), agentboxtest.Reply("done"), agentboxtest.Reply("new"))
	h := uistream.New(agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{waitTool(entered, release)}}),
		uistream.Options{MaxSessions: 2, IdleTimeout: time.Hour})
	defer h.Close(context.Background())
	var clients sync.WaitGroup
	codes := make(chan int, 2)
	for _, chat := range []string{"x", "y"} {
		clients.Go(func() {
			code, _ := post(t, h, chatBody(chat, "wait"))
			codes <- code
		})
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
		clients.Wait()
	}()
	for range 2 {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the 2 turns did not start")
		}
	}
	if code, body := post(t, h, chatBody("z", "hi")); code != http.StatusServiceUnavailable || !strings.Contains(body, "too many chats") {
		t.Errorf("a new chat while MaxSessions chats run turns: %d %s, want 503", code, body)
	}
	if n := h.Sessions(); n != 2 {
		t.Errorf("%d sessions, want the 2 busy chats'", n)
	}
	released = true
	close(release)
	clients.Wait()
	for range 2 {
		if code := <-codes; code != 200 {
			t.Errorf("a busy chat's request: %d, want 200", code)
		}
	}
	if code, body := post(t, h, chatBody("z", "hi")); code != 200 || !strings.Contains(body, "new") {
		t.Errorf("the new chat once the turns ended: %d %s, want it served", code, body)
	}
	if n := h.Sessions(); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
}

func TestANewChatStartsFromTheClientsHistory(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("Paris."))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{})
	defer h.Close(context.Background())
	body := `{"id":"old","trigger":"submit-message","messages":[
		{"id":"1","role":"user","parts":[{"type":"text","text":"Capital of France?"}]},
		{"id":"2","role":"assistant","parts":[{"type":"step-start"},{"type":"reasoning","text":"easy"},{"type":"text","text":"Paris"},{"type":"tool-x","toolCallId":"c"}]},
		{"id":"3","role":"system","parts":[{"type":"text","text":"ignore"}]},
		{"id":"4","role":"user","parts":[{"type":"text","text":"Sure?"}]}]}`
	if code, out := post(t, h, body); code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	want := []agentbox.Message{{Role: agentbox.RoleUser, Content: "Capital of France?"}, {Role: agentbox.RoleAssistant, Content: "Paris"}, {Role: agentbox.RoleUser, Content: "Sure?"}}
	if got := p.Requests()[0].Messages; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the model got %v, want %v", got, want)
	}
}

func TestRegenerateRunsTheLastMessageAgain(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("Bad."), agentboxtest.Reply("Good."))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{})
	defer h.Close(context.Background())
	post(t, h, chatBody("a", "Answer well."))
	regen := strings.Replace(chatBody("a", "Answer well."), "submit-message", "regenerate-message", 1)
	if code, body := post(t, h, regen); code != 200 || !strings.Contains(body, "Good.") {
		t.Fatalf("regenerate: %d %s", code, body)
	}
	if got := p.Requests()[1].Messages; len(got) != 1 || got[0].Content != "Answer well." {
		t.Errorf("the regenerated turn sent %v, want the user's message alone", got)
	}
}

func TestSessionKeysKeepUsersApart(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("1"), agentboxtest.Reply("2"), agentboxtest.Reply("3"))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{
		SessionKey: func(r *http.Request, chatID string) string { return r.Header.Get("X-User") + "/" + chatID },
	})
	defer h.Close(context.Background())
	for i, user := range []string{"ann", "bob", "ann"} {
		texts := []string{"hi", "again"}[:1+i/2]
		req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(chatBody("same-id", texts...)))
		req.Header.Set("X-User", user)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", user, rec.Code, rec.Body)
		}
	}
	reqs := p.Requests()
	if h.Sessions() != 2 || len(reqs[1].Messages) != 1 || len(reqs[2].Messages) != 3 {
		t.Errorf("%d sessions; bob's turn sent %d messages, ann's second %d; want 2 sessions, bob's own, ann's continued",
			h.Sessions(), len(reqs[1].Messages), len(reqs[2].Messages))
	}
}

// TestGoingBack sends what a client sends when its user regenerates an
// answer or edits a message, to a chat with a session and to one without.
func TestGoingBack(t *testing.T) {
	user := func(text string) string {
		return `{"role":"user","parts":[{"type":"text","text":"` + text + `"}]}`
	}
	answer := `{"role":"assistant","parts":[{"type":"text","text":"…"}]}`
	body := func(trigger string, msgs ...string) string {
		return `{"id":"c","trigger":"` + trigger + `","messages":[` + strings.Join(msgs, ",") + `]}`
	}
	p := agentboxtest.NewProvider(agentboxtest.Reply("1"), agentboxtest.Reply("2"), agentboxtest.Reply("3"), agentboxtest.Reply("4"), agentboxtest.Reply("5"))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{})
	defer h.Close(context.Background())
	for i, b := range []string{
		body("submit-message", user("U1")),
		body("submit-message", user("U1"), answer, user("U2")),
		body("regenerate-message", user("U1"), answer, user("U2")), // the last answer again
		body("submit-message", user("U1 edited")),                  // the first message edited
	} {
		if code, out := post(t, h, b); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, out)
		}
	}
	var got []string
	for _, r := range p.Requests() {
		var texts []string
		for _, m := range r.Messages {
			texts = append(texts, m.Content)
		}
		got = append(got, strings.Join(texts, " "))
	}
	want := []string{"U1", "U1 1 U2", "U1 1 U2", "U1 edited"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the model got %q, want %q", got, want)
	}

	// A chat the handler has no session for (the server restarted).
	h2 := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{})
	defer h2.Close(context.Background())
	if code, out := post(t, h2, body("regenerate-message", user("U1"), answer, user("U2"))); code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	if r := p.Requests()[4].Messages; len(r) != 3 || r[2].Content != "U2" {
		t.Errorf("regenerating in a new session sent %v, want the client's history and U2", r)
	}
}

// TestAChatIsFreeOnceDoneArrives sends each next message as soon as the
// stream's "[DONE]" arrives, without reading to the end of the response: the
// chat is free by then, 20 times out of 20.
func TestAChatIsFreeOnceDoneArrives(t *testing.T) {
	var steps []agentboxtest.Step
	for i := range 21 {
		steps = append(steps, agentboxtest.Reply(fmt.Sprint("answer ", i)))
	}
	h := uistream.New(agentbox.New(agentboxtest.NewProvider(steps...), agentbox.Options{}), uistream.Options{})
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()
	texts := []string{"go"}
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(chatBody("a", texts...)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		readUntil(t, resp.Body, "[DONE]")
		texts = append(texts, "again")
		next, err := http.Post(srv.URL, "application/json", strings.NewReader(chatBody("a", texts...)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if next.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(next.Body)
			next.Body.Close()
			t.Fatalf("message %d, sent once [DONE] arrived: %d %s", i+2, next.StatusCode, body)
		}
		resp = next
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestTheSandboxOfAChat finds a chat's sandbox by its id, through the
// session key, as a page showing the chat's files does: none before the
// chat's first turn has opened one, nor for another user's key.
func TestTheSandboxOfAChat(t *testing.T) {
	var opened sandboxes
	p := agentboxtest.NewProvider(agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"app.txt","content":"x"}]}`}}}, agentboxtest.Reply("Written."))
	user := func(r *http.Request) string { return r.Header.Get("X-User") }
	h := uistream.New(agentbox.New(p, agentbox.Options{Open: opened.open}), uistream.Options{
		SessionKey: func(r *http.Request, chatID string) string { return user(r) + "/" + chatID },
	})
	defer h.Close(context.Background())
	as := func(name string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-User", name)
		return r
	}
	if sb := h.Sandbox(as("ann"), "a"); sb != nil {
		t.Fatalf("a chat with no session has sandbox %v", sb)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(chatBody("a", "write")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User", "ann")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	made := opened.all()
	if sb := h.Sandbox(as("ann"), "a"); len(made) != 1 || sb != agentbox.Sandbox(made[0]) {
		t.Errorf("ann's chat a has sandbox %v, want the one its turn opened (%d opened)", sb, len(made))
	}
	if sb := h.Sandbox(as("bob"), "a"); sb != nil {
		t.Errorf("bob reaches ann's sandbox through her chat's id")
	}
}
