package uistream_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/uistream"
)

// margin is what the tests of hostile clients allow, past the timeout they
// check, for the run to be cancelled and the handler to let the chat go,
// with the race detector on.
const margin = 3 * time.Second

// smallBuffer is the size of the socket buffers of the tests' stalled
// connections, so that a stream fills them early.
const smallBuffer = 16 << 10

// smallBufferServer serves h with a small send buffer on every connection.
func smallBufferServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && s == http.StateNew {
			tc.SetWriteBuffer(smallBuffer)
		}
	}
	srv.Start()
	return srv
}

// rawRequest is the HTTP/1.1 text of a chat request with body.
func rawRequest(body string) string {
	return "POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// stalledClient sends a chat request to srv and reads nothing of the
// answer; its receive buffer is small. The caller closes the connection.
func stalledClient(t *testing.T, srv *httptest.Server, body string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetReadBuffer(smallBuffer)
	if _, err := io.WriteString(conn, rawRequest(body)); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return conn
}

// flood is a model response of 8 MiB of text, far more than the socket
// buffers hold, after which the model hangs until the run is cancelled: a
// run that streams it ends only when cancelled.
func flood() agentboxtest.Step {
	piece := strings.Repeat("x", 4<<10)
	text := make([]string, 2048)
	for i := range text {
		text[i] = piece
	}
	return agentboxtest.Step{Text: text, Hang: true, FailAfter: len(text)}
}

// waitTool is a tool that tells entered when it starts and returns when
// release is closed, or the run is cancelled.
func waitTool(entered chan<- struct{}, release <-chan struct{}) agentbox.Tool {
	return agentbox.NewTool("wait", "waits", func(ctx context.Context, env *agentbox.Env, _ struct{}) (string, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return "ok", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
}

// untilServed posts body to h until the answer is not status, or bound has
// passed since start, and returns the last answer and when it came. A
// request it makes is cancelled after 10 s.
func untilServed(t *testing.T, h http.Handler, body string, status int, start time.Time, bound time.Duration) (int, string, time.Duration) {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/chat", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		cancel()
		code, out := rec.Code, rec.Body.String()
		took := time.Since(start)
		if code != status || took > bound {
			return code, out, took
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSessions waits until h has n sessions: the requests sent have taken
// their chats.
func waitSessions(t *testing.T, h *uistream.Handler, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); h.Sessions() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, want %d", h.Sessions(), n)
		}
	}
}

// TestAStalledReaderLosesItsTurn sends a chat request over TCP and then
// reads nothing, while the model streams 8 MiB of text and then hangs until
// cancelled. A write to the client must miss its deadline and end the turn
// as a disconnect does: within WriteTimeout (200 ms) plus margin of the
// request, the chat takes the next message (it is not 409), in the same
// session and sandbox. The handler lets a chat go only once its run's
// events have ended, and this run ends only when cancelled.
func TestAStalledReaderLosesItsTurn(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	var opened sandboxes
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"app.txt","content":"kept"}]}`}}},
		flood(),
		agentboxtest.Reply("next"),
	)
	h := uistream.New(agentbox.New(p, agentbox.Options{Open: opened.open}), uistream.Options{WriteTimeout: writeTimeout})
	defer h.Close(context.Background())
	srv := smallBufferServer(h)
	defer srv.Close()

	start := time.Now()
	conn := stalledClient(t, srv, chatBody("a", "write it"))
	defer conn.Close()
	waitSessions(t, h, 1)
	code, body, took := untilServed(t, h, chatBody("a", "write it", "go on"), http.StatusConflict, start, writeTimeout+margin)
	if code != 200 || !strings.Contains(body, "next") {
		t.Fatalf("the chat of a client that stopped reading, %v after its request: %d, want it served within %v:\n%.300s", took, code, writeTimeout+margin, body)
	}
	t.Logf("the chat was free again %v after the stalled request", took)
	if made := opened.all(); len(made) != 1 || h.Sessions() != 1 {
		t.Fatalf("%d sandboxes and %d sessions, want the chat's one of each", len(made), h.Sessions())
	} else if data, ok := made[0].File("app.txt"); !ok || string(data) != "kept" {
		t.Errorf("the chat's sandbox lost app.txt: %q %v", data, ok)
	}

	// The client got part of the stream, then the server hung up.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(conn)
	if len(got) >= 8<<20 || strings.Contains(string(got), "[DONE]") {
		t.Errorf("the stalled client can still read %d bytes, the whole stream: the test did not stall it", len(got))
	}
}

// TestALongStreamIsNotCut reads, steadily, a stream that lasts 3 times
// WriteTimeout (200 ms), served with ReadTimeout as short, the handler's and
// the server's: the write deadline is per write, and the read deadline ends
// with the body, so the stream is whole.
func TestALongStreamIsNotCut(t *testing.T) {
	const writeTimeout, readTimeout = 200 * time.Millisecond, 200 * time.Millisecond
	text := make([]string, 30)
	for i := range text {
		text[i] = fmt.Sprint(i, " ")
	}
	p := agentboxtest.NewProvider(agentboxtest.Step{Text: text, ChunkDelay: 3 * writeTimeout / time.Duration(len(text))})
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{WriteTimeout: writeTimeout, ReadTimeout: readTimeout})
	defer h.Close(context.Background())
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	defer srv.Close()
	start := time.Now()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(chatBody("a", "count")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil || took < 3*writeTimeout {
		t.Fatalf("the stream took %v (%v), want over %v", took, err, 3*writeTimeout)
	}
	chunks(t, string(out))
	if !strings.Contains(string(out), `"finishReason":"stop"`) || !strings.Contains(string(out), `"delta":"29 "`) {
		t.Errorf("a stream of %v to a reading client was cut:\n%s", took, out)
	}
}

// TestASlowBodyIsCutOff sends the headers of a chat request with a body of
// 1 MiB, then the body a byte every 10 ms. Within ReadTimeout (300 ms) plus
// margin of the headers, it must get 408 and its connection closed, and
// neither the model nor a session must have seen it.
func TestASlowBodyIsCutOff(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	p := agentboxtest.NewProvider(agentboxtest.Reply("no"))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{ReadTimeout: readTimeout})
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()

	body := chatBody("a", "hi")
	body += strings.Repeat(" ", 1<<20-len(body))
	req := rawRequest(body)
	headers := req[:len(req)-len(body)]
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, headers); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var dribbling sync.WaitGroup
	dribbling.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := range len(body) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := io.WriteString(conn, body[i:i+1]); err != nil {
				return
			}
		}
	})
	defer dribbling.Wait()
	defer close(stop)

	conn.SetReadDeadline(start.Add(readTimeout + margin))
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no answer %v after the headers of a body sent a byte every 10 ms: %v; want 408 within %v", time.Since(start), err, readTimeout+margin)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(msg), "in time") {
		t.Errorf("a body sent a byte every 10 ms: %s %s, want 408", resp.Status, msg)
	}
	// The server closes while the client may still be sending: the close
	// shows as EOF or as a reset.
	if _, err := r.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after the 408, reading the connection: %v, want it closed (EOF or reset)", err)
	}
	if took := time.Since(start); took > readTimeout+margin {
		t.Errorf("cut off after %v, want within %v", took, readTimeout+margin)
	}
	if n := len(p.Requests()); n != 0 || h.Sessions() != 0 {
		t.Errorf("the slow request reached the model %d times and made %d sessions", n, h.Sessions())
	}
}

// TestMoreChatsThanMaxSessions starts 12 chats at once against MaxSessions
// 4, their runs held in a tool: exactly 4 are served and 8 get 503. Once the
// 4 runs end, a new chat is served at once, though IdleTimeout is an hour:
// in the place of one of the 4, which the others keep.
func TestMoreChatsThanMaxSessions(t *testing.T) {
	const (
		maxSessions = 4
		chats       = 3 * maxSessions
	)
	entered, release := make(chan struct{}, chats), make(chan struct{})
	var steps []agentboxtest.Step
	for i := range maxSessions {
		steps = append(steps, agentboxtest.Step{Calls: []agentboxtest.Call{{ID: fmt.Sprint("w", i), Name: "wait", Args: `{}`}}})
	}
	for range maxSessions {
		steps = append(steps, agentboxtest.Reply("done"))
	}
	p := agentboxtest.NewProvider(append(steps, agentboxtest.Reply("new"))...)
	h := uistream.New(agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{waitTool(entered, release)}}),
		uistream.Options{MaxSessions: maxSessions, IdleTimeout: time.Hour})
	defer h.Close(context.Background())

	type answer struct {
		code int
		body string
	}
	answers := make(chan answer, chats)
	var clients sync.WaitGroup
	for i := range chats {
		clients.Go(func() {
			code, body := post(t, h, chatBody(fmt.Sprint("chat-", i), "wait"))
			answers <- answer{code, body}
		})
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
		clients.Wait()
	}()
	timeout := time.After(10 * time.Second)
	for range maxSessions {
		select {
		case <-entered:
		case <-timeout:
			t.Fatal("fewer runs than MaxSessions started")
		}
	}
	for range chats - maxSessions {
		select {
		case a := <-answers:
			if a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "too many chats") {
				t.Errorf("a chat beyond MaxSessions: %d %s, want 503", a.code, a.body)
			}
		case <-timeout:
			t.Fatalf("fewer chats than %d refused", chats-maxSessions)
		}
	}
	if n := h.Sessions(); n != maxSessions {
		t.Errorf("%d sessions, want %d", n, maxSessions)
	}
	released = true
	close(release)
	clients.Wait()
	for range maxSessions {
		a := <-answers
		chunks(t, a.body)
		if a.code != 200 || !strings.Contains(a.body, `"finishReason":"stop"`) {
			t.Errorf("a served chat: %d, want a finished stream:\n%s", a.code, a.body)
		}
	}

	if code, body := post(t, h, chatBody("new", "hi")); code != 200 || !strings.Contains(body, "new") {
		t.Fatalf("a new chat after the others ended: %d %s, want it served", code, body)
	}
	if n := h.Sessions(); n != maxSessions {
		t.Errorf("%d sessions, want %d: the new chat's and 3 of the others'", n, maxSessions)
	}
}

// TestStalledReadersDoNotHoldEveryChat fills MaxSessions (2) with clients
// that stop reading while their models stream 8 MiB: a new chat gets 503,
// and is served within WriteTimeout (200 ms) plus margin of the stalled
// requests, once they have lost their turns, in the place of one of their
// chats (IdleTimeout is an hour).
func TestStalledReadersDoNotHoldEveryChat(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	p := agentboxtest.NewProvider(flood(), flood(), agentboxtest.Reply("new"))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{MaxSessions: 2, WriteTimeout: writeTimeout, IdleTimeout: time.Hour})
	srv := smallBufferServer(h)
	defer srv.Close()
	defer h.Close(context.Background()) // first: the stalled chats' turns run on for a resume

	start := time.Now()
	for _, id := range []string{"a", "b"} {
		conn := stalledClient(t, srv, chatBody(id, "flood"))
		defer conn.Close()
	}
	waitSessions(t, h, 2)
	if code, body := post(t, h, chatBody("new", "hi")); code != http.StatusServiceUnavailable && time.Since(start) < writeTimeout {
		t.Errorf("a new chat while the stalled ones hold MaxSessions: %d %s, want 503", code, body)
	}
	bound := writeTimeout + margin
	code, body, took := untilServed(t, h, chatBody("new", "hi"), http.StatusServiceUnavailable, start, bound)
	if code != 200 || !strings.Contains(body, "new") {
		t.Fatalf("a new chat %v after 2 stalled ones filled MaxSessions: %d %s, want it served within %v", took, code, body, bound)
	}
}

// TestOneChatHammered posts 32 requests to one chat at once, while its run
// is held in a tool: exactly one is served, the 31 others get 409 at once
// (within 10 s, not after the run), and afterwards the chat has the one
// turn: the next message is served with that turn's 4 messages before it.
func TestOneChatHammered(t *testing.T) {
	const n = 32
	entered, release := make(chan struct{}, n), make(chan struct{})
	p := agentboxtest.NewProvider(
		agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "wait", Args: `{}`}}}, agentboxtest.Reply("done"),
		agentboxtest.Reply("next"),
	)
	h := uistream.New(agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{waitTool(entered, release)}}), uistream.Options{})
	defer h.Close(context.Background())

	type answer struct {
		code int
		body string
	}
	answers := make(chan answer, n)
	begin := make(chan struct{})
	var clients sync.WaitGroup
	for range n {
		clients.Go(func() {
			<-begin
			code, body := post(t, h, chatBody("a", "wait"))
			answers <- answer{code, body}
		})
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
		clients.Wait()
	}()
	close(begin)
	timeout := time.After(10 * time.Second)
	for range n - 1 {
		select {
		case a := <-answers:
			if a.code != http.StatusConflict || !strings.Contains(a.body, "still running") {
				t.Errorf("a request while the chat's turn runs: %d %s, want 409", a.code, a.body)
			}
		case <-timeout:
			t.Fatalf("fewer than %d requests refused while one ran", n-1)
		}
	}
	select {
	case <-entered:
	case <-timeout:
		t.Fatal("the served request's run did not start")
	}
	released = true
	close(release)
	clients.Wait()
	a := <-answers
	chunks(t, a.body)
	if a.code != 200 || !strings.Contains(a.body, "done") {
		t.Fatalf("the served request: %d, want a finished stream:\n%s", a.code, a.body)
	}
	if len(entered) != 0 {
		t.Errorf("the tool ran %d more times", len(entered))
	}

	if code, body := post(t, h, chatBody("a", "wait", "again")); code != 200 || !strings.Contains(body, "next") {
		t.Fatalf("the next message: %d %s", code, body)
	}
	reqs := p.Requests()
	if len(reqs) != 3 || len(reqs[2].Messages) != 5 || h.Sessions() != 1 {
		t.Errorf("%d model requests, the last with %d messages, %d sessions; want 3, its turn's 4 and the new one, 1 session",
			len(reqs), len(reqs[len(reqs)-1].Messages), h.Sessions())
	}
}

// TestWithoutDeadlines serves through a ResponseWriter that takes no
// deadlines: the handler logs it once and streams all the same.
func TestWithoutDeadlines(t *testing.T) {
	var log strings.Builder
	p := agentboxtest.NewProvider(agentboxtest.Reply("one"), agentboxtest.Reply("two"))
	h := uistream.New(agentbox.New(p, agentbox.Options{}), uistream.Options{Logger: newTextLogger(&log)})
	defer h.Close(context.Background())
	for i, text := range []string{"one", "two"} {
		if code, body := post(t, h, chatBody(fmt.Sprint(i), "hi")); code != 200 || !strings.Contains(body, text) {
			t.Fatalf("%d %s", code, body)
		}
	}
	if got := strings.Count(log.String(), "takes no deadlines"); got != 1 {
		t.Errorf("the log says %d times that there are no deadlines, want once:\n%s", got, log.String())
	}
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
