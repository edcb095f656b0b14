package faults_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
	"github.com/agentbox/agentbox/uistream"
	"go.uber.org/goleak"
)

// The bounds of TestClientFaults.
const (
	// clientWriteTimeout and clientReadTimeout are the handler's
	// Options.WriteTimeout and ReadTimeout.
	clientWriteTimeout = 200 * time.Millisecond
	clientReadTimeout  = 300 * time.Millisecond
	// clientMargin is what a bound allows past the timeout it is about, for
	// the run to be cancelled and the handler to let the chat go, with the
	// race detector on; and the bound of a refusal (409, 503).
	clientMargin = 3 * time.Second
	// streamBound is the bound of a whole stream: every script a client
	// reads to its end lasts a few seconds at most.
	streamBound = 20 * time.Second
	// clientBudget is the default of -faults.time for TestClientFaults.
	clientBudget = 25 * time.Second
	// socketBuffer is the size of the socket buffers of the handler's
	// connections and of the stalling clients', so that a stream fills them
	// early.
	socketBuffer = 16 << 10
)

// The kinds of client of a chat.
const (
	kindReader    = "reader"     // reads the stream to its end
	kindStaller   = "staller"    // stops reading, the socket open
	kindDropper   = "dropper"    // disconnects at a random point
	kindSlowBody  = "slow body"  // sends its body a byte at a time
	kindHammer    = "hammer"     // several clients post the chat at once
	kindGoingBack = "going back" // regenerates or edits during the turn
)

// TestClientFaults serves the agent (the OpenRouter provider and E2B
// sandboxes, against their fakes) through a uistream.Handler on a loopback
// server, seed after seed, to chats whose clients the seed chooses: readers,
// clients that stop reading with the socket open, clients that disconnect at
// a random point, slow request bodies, several clients posting one chat at
// once, regenerations and edits during a turn, and more chats than
// MaxSessions. Each chat's model answers with its own script. Every request
// must be answered, or its connection closed, within its bound; every chat
// must take a new message within WriteTimeout plus a margin of its clients'
// leaving, and then stream it to its end; after Handler.Close, every
// sandbox created must be killed; no goroutine may be left; nothing may
// panic.
func TestClientFaults(t *testing.T) {
	if *seed != 0 {
		clientFaultRun(t, *seed)
		return
	}
	n, limit := *runs, *budget
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "faults.time" })
	if !set {
		limit = clientBudget
	}
	if *long {
		n, limit = 10_000, 1<<62
	}
	start := time.Now()
	done := 0
	for ; done < n && time.Since(start) < limit; done++ {
		s := *first + uint64(done)
		// Should a goroutine of the run panic, the binary ends: the last
		// line on stderr names the seed.
		fmt.Fprintf(os.Stderr, "faults: clients seed %d\n", s)
		if !t.Run(fmt.Sprint("seed=", s), func(t *testing.T) { clientFaultRun(t, s) }) {
			break
		}
	}
	t.Logf("%d runs in %s", done, time.Since(start).Round(time.Millisecond))
}

// chat is one chat of a run: its plan, chosen by the seed, and what its
// clients saw.
type chat struct {
	id     string
	first  string // its first message, which names it to the model router
	kind   string
	model  *openroutertest.Server
	script []string // what its model answers, for the failure messages

	stallAfter int           // staller: the bytes it reads before it stops
	dropAfter  int           // dropper: the bytes it reads before it hangs up
	dropAt     time.Duration // dropper: or the time
	hammers    int           // hammer: the clients
	edit, stop bool          // going back: by an edit, else regenerating; stopping the first stream first

	mu       sync.Mutex
	left     time.Time // when its clients stopped taking part
	stalled  *stalledConn
	answered []string // the statuses its clients got
}

func (c *chat) String() string {
	var how string
	switch c.kind {
	case kindStaller:
		how = fmt.Sprintf(" after %d B", c.stallAfter)
	case kindDropper:
		how = fmt.Sprintf(" after %d B or %v", c.dropAfter, c.dropAt)
	case kindHammer:
		how = fmt.Sprintf(" by %d clients", c.hammers)
	case kindGoingBack:
		how = map[bool]string{false: " regenerating", true: " editing"}[c.edit] + map[bool]string{false: "", true: ", stopping first"}[c.stop]
	}
	return fmt.Sprintf("%s: %s%s, model %v", c.id, c.kind, how, c.script)
}

// leave records that a client of the chat stopped taking part now.
func (c *chat) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.After(c.left) {
		c.left = now
	}
}

func (c *chat) answer(status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered = append(c.answered, status)
}

// stalledConn is the connection of a client that stopped reading.
type stalledConn struct {
	conn net.Conn
	body io.Reader
	at   time.Time
}

// clientRun is one run of TestClientFaults.
type clientRun struct {
	t      *testing.T
	url    string
	addr   string
	client *http.Client
	plan   string // for the failure messages
}

// errorf reports a failure of the run, with its plan.
func (r *clientRun) errorf(c *chat, format string, args ...any) {
	r.t.Helper()
	r.t.Errorf("%s: %s\nplan: %s", c.id, fmt.Sprintf(format, args...), r.plan)
}

// clientFaultRun serves the chats seed chooses to their clients, once.
//
// The seed fixes the plan of the run: the chats, their clients and their
// models' answers. Timing is the machine's, so a failure may need a few
// replays (-count) to show again.
func clientFaultRun(t *testing.T, seed uint64) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panic: %v\n%s", r, debug.Stack())
		}
		if t.Failed() {
			t.Logf("replay: go test ./internal/faults -run TestClientFaults -faults.seed=%d -count=20 -v", seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 0xc11e))

	chats := make([]*chat, 2+rng.IntN(6))
	maxSessions := 1 + rng.IntN(4)
	idle := []time.Duration{100 * time.Millisecond, time.Hour}[rng.IntN(2)]
	sandboxes, err := e2btest.Start(e2btest.Options{CreateLatency: time.Duration(rng.IntN(40)) * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sandboxes.Close()
	transport := &http.Transport{}
	var models router
	stallers := false
	for i := range chats {
		c := newChat(t, rng, i)
		defer c.model.Close()
		chats[i] = c
		stallers = stallers || c.kind == kindStaller
		p, err := openrouter.New(openrouter.Config{
			APIKey: "sk-or-v1-faults", BaseURL: c.model.URL, Models: []string{"test/model"},
			HTTPClient: &http.Client{Transport: transport},
			MaxRetries: rng.IntN(3) - 1, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, p)
	}
	// A sandbox that fails to open ends its turn, which must not be a
	// staller's: its turn ends only when cancelled.
	failCreates := !stallers && rng.IntN(4) == 0
	if failCreates {
		sandboxes.FailCreates(http.StatusServiceUnavailable, 1)
	}
	cfg := sandboxes.Config()
	agent := agentbox.New(models, agentbox.Options{
		Open:        e2b.Opener(cfg),
		MaxSteps:    4,
		ToolTimeout: 5 * time.Second,
	})
	h := uistream.New(agent, uistream.Options{
		MaxSessions:  maxSessions,
		IdleTimeout:  idle,
		WriteTimeout: clientWriteTimeout,
		ReadTimeout:  clientReadTimeout,
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("the handler panicked: %v\n%s", r, debug.Stack())
				panic(r)
			}
		}()
		h.ServeHTTP(w, req)
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && s == http.StateNew {
			tc.SetWriteBuffer(socketBuffer)
		}
	}
	srv.Start()
	closed := false
	defer func() {
		if !closed {
			h.Close(context.Background())
			srv.CloseClientConnections()
			srv.Close()
		}
	}()
	// The servers' goroutines are theirs; any other left after the run,
	// with the servers up but the handler's closed, is the run's.
	before := goleak.IgnoreCurrent()
	clients := &http.Transport{}
	r := &clientRun{t: t, url: srv.URL, addr: srv.Listener.Addr().String(), client: &http.Client{Transport: clients}}
	var plan []string
	plan = append(plan, fmt.Sprintf("%d chats, MaxSessions %d, IdleTimeout %v", len(chats), maxSessions, idle))
	if failCreates {
		plan = append(plan, "the first sandbox create fails")
	}
	for _, c := range chats {
		plan = append(plan, c.String())
	}
	r.plan = strings.Join(plan, "; ")

	// Never more sessions than MaxSessions.
	watching := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-watching:
				return
			case <-tick.C:
			}
			if n := h.Sessions(); n > maxSessions {
				t.Errorf("%d sessions, over MaxSessions %d\nplan: %s", n, maxSessions, r.plan)
				return
			}
		}
	})
	defer watcher.Wait()
	defer func() {
		select {
		case <-watching:
		default:
			close(watching)
		}
	}()

	// The clients, all at once.
	var running sync.WaitGroup
	for _, c := range chats {
		wait := time.Duration(rng.IntN(100)) * time.Millisecond
		running.Go(func() {
			time.Sleep(wait)
			r.clients(c)
		})
	}
	running.Wait()
	for _, c := range chats {
		if c.kind == kindSlowBody {
			if n := len(c.model.Requests()); n != 0 {
				r.errorf(c, "a body too slow to arrive reached the model %d times", n)
			}
		}
	}

	// Every chat takes a new message within WriteTimeout and the margin of
	// its clients' leaving (or of now: others' turns may have held every
	// session), and a stalled client's connection is closed.
	ended := time.Now()
	var freeing sync.WaitGroup
	for _, c := range chats {
		freeing.Go(func() { r.freeAgain(c, ended) })
	}
	freeing.Wait()

	// Then, one at a time, each chat streams a new message to its end.
	for _, c := range chats {
		r.goOn(c)
	}
	close(watching)
	watcher.Wait()

	// Close: every sandbox created is killed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Errorf("Handler.Close: %v\nplan: %s", err, r.plan)
	}
	closed = true
	srv.CloseClientConnections()
	srv.Close()
	finished := func(st e2btest.Stats) bool { return st.Alive == 0 && st.Created == st.Killed+st.Died+st.Expired }
	for deadline := time.Now().Add(5 * time.Second); !finished(sandboxes.Stats()) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // a create given up may still be under way
	}
	if st := sandboxes.Stats(); !finished(st) {
		t.Errorf("sandboxes after Handler.Close: %+v, want every one created killed\nplan: %s", st, r.plan)
	}

	// No goroutine left but the fakes'.
	var leaked error
	for range 10 {
		clients.CloseIdleConnections()
		transport.CloseIdleConnections()
		cfg.HTTPClient.CloseIdleConnections()
		if leaked = findLeaks(before); leaked == nil {
			break
		}
	}
	if leaked != nil {
		t.Errorf("goroutines left after the run: %v\nplan: %s", leaked, r.plan)
	}
	var answers []string
	for _, c := range chats {
		answers = append(answers, fmt.Sprintf("%s %v", c.id, c.answered))
	}
	t.Logf("%s → %s", r.plan, strings.Join(answers, "; "))
}

// newChat returns chat i of a run, its client and its model chosen by rng.
func newChat(t *testing.T, rng *rand.Rand, i int) *chat {
	c := &chat{id: fmt.Sprint("chat-", i), first: fmt.Sprintf("chat %d: build it", i)}
	c.kind = []string{kindReader, kindStaller, kindDropper, kindSlowBody, kindHammer, kindGoingBack}[rng.IntN(6)]
	var script []openroutertest.Response
	add := func(resp openroutertest.Response, what string) {
		script = append(script, resp)
		c.script = append(c.script, what)
	}
	bounded := func(n int) {
		for range n {
			add(clientResponse(rng))
		}
		if rng.IntN(4) > 0 {
			add(openroutertest.FromStep(agentboxtest.Reply("Done.")), "answer")
		}
	}
	switch c.kind {
	case kindStaller:
		// Tool calls, then a flood that lasts until the turn is cancelled:
		// the turn ends only when a write misses its deadline.
		c.stallAfter = rng.IntN(64 << 10)
		for j := range rng.IntN(3) {
			add(toolStep(rng, j))
		}
		add(flood(), "1 MiB of text, then hangs")
	case kindDropper:
		c.dropAfter = rng.IntN(32 << 10)
		c.dropAt = time.Duration(rng.IntN(600)) * time.Millisecond
		bounded(1 + rng.IntN(4))
	case kindHammer:
		c.hammers = 2 + rng.IntN(10)
		bounded(1 + rng.IntN(4))
	case kindGoingBack:
		c.edit, c.stop = rng.IntN(2) == 0, rng.IntN(2) == 0
		add(slowText(40, 25*time.Millisecond), "text for 1s")
		bounded(rng.IntN(3))
	default:
		bounded(1 + rng.IntN(4))
	}
	// For the messages after the clients'.
	add(openroutertest.FromStep(agentboxtest.Reply("Next.")), "answer")
	add(openroutertest.FromStep(agentboxtest.Reply("Last.")), "answer")
	c.model = openroutertest.NewServer(t, script...)
	return c
}

// clientResponse returns a response of the model that ends within a second,
// chosen by rng, and says what it is.
func clientResponse(rng *rand.Rand) (openroutertest.Response, string) {
	text := agentboxtest.Step{Text: []string{"Working ", "on it."}}
	switch rng.IntN(10) {
	case 0, 1, 2:
		return toolStep(rng, rng.IntN(100))
	case 3:
		return openroutertest.FromStep(agentboxtest.Reply("Done.")), "answer"
	case 4:
		n := 5 + rng.IntN(20)
		return slowText(n, 20*time.Millisecond), fmt.Sprint("text for ", time.Duration(n)*20*time.Millisecond)
	case 5:
		n := 16 + rng.IntN(112)
		return openroutertest.FromStep(agentboxtest.Step{Text: pieces(n)}), fmt.Sprint(n*4, " KiB of text")
	case 6:
		status := []int{429, 500, 502, 503}[rng.IntN(4)]
		return openroutertest.Status(status, fmt.Sprintf(`{"error":{"message":"Upstream error","code":%d}}`, status), "Retry-After", "0"), fmt.Sprint(status)
	case 7:
		r := openroutertest.FromStep(text)
		r.Events = append(r.Events[:1], `{"id":"gen-x","object":"chat.completion.chunk","error":{"code":502,"message":"Provider returned error"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`)
		return r, "error mid-stream"
	case 8:
		r := openroutertest.FromStep(text)
		r.Events, r.Drop = r.Events[:1], true
		return r, "stream cut"
	default:
		r := openroutertest.FromStep(text)
		r.Events = r.Events[:1]
		return r, "stream truncated"
	}
}

// toolStep returns a step of tool calls that end at once, chosen by rng.
func toolStep(rng *rand.Rand, j int) (openroutertest.Response, string) {
	id := fmt.Sprint("call-", j)
	switch rng.IntN(3) {
	case 0:
		return openroutertest.FromStep(agentboxtest.Step{Calls: []agentboxtest.Call{{ID: id, Name: "write_file", Args: `{"files":[{"path":"a.txt","content":"a"}]}`, Split: 7}}}), "write a file"
	case 1:
		return openroutertest.FromStep(agentboxtest.Step{Calls: []agentboxtest.Call{{ID: id, Name: "run_command", Args: `{"command":"echo start; sleep 0.1; echo end"}`}}}), "run a command"
	default:
		return openroutertest.FromStep(agentboxtest.Step{Calls: []agentboxtest.Call{{ID: id, Name: "list_files", Args: `{}`}}}), "list files"
	}
}

// pieces returns n pieces of text of 4 KiB.
func pieces(n int) []string {
	piece := strings.Repeat("x", 4<<10)
	text := make([]string, n)
	for i := range text {
		text[i] = piece
	}
	return text
}

// slowText is a response of n pieces of text, one every delay.
func slowText(n int, delay time.Duration) openroutertest.Response {
	text := make([]string, n)
	for i := range text {
		text[i] = fmt.Sprint(i, " ")
	}
	return openroutertest.FromStep(agentboxtest.Step{Text: text, ChunkDelay: delay})
}

// flood is a response of 1 MiB of text, far more than the socket buffers of
// a client that stopped reading hold, after which the model hangs until the
// request is cancelled.
func flood() openroutertest.Response {
	text := pieces(256)
	return openroutertest.FromStep(agentboxtest.Step{Text: text, Hang: true, FailAfter: len(text)})
}

// router is a provider that sends each request to the provider of its chat,
// named by the first user message ("chat N: ...").
type router []agentbox.Provider

// Stream streams the response of the chat's model.
func (r router) Stream(ctx context.Context, req *agentbox.Request) iter.Seq2[agentbox.Chunk, error] {
	for _, m := range req.Messages {
		if m.Role != agentbox.RoleUser {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(m.Content, "chat %d:", &n); err == nil && n >= 0 && n < len(r) {
			return r[n].Stream(ctx, req)
		}
		break
	}
	return func(yield func(agentbox.Chunk, error) bool) {
		yield(agentbox.Chunk{}, errors.New("faults: a request of no chat: its first user message names none"))
	}
}

// chatBody is the body of a chat request of the user's texts, with an
// answer between each two.
func chatBody(id, trigger string, texts ...string) string {
	type part struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type message struct {
		ID    string `json:"id"`
		Role  string `json:"role"`
		Parts []part `json:"parts"`
	}
	var msgs []message
	for i, text := range texts {
		if i > 0 {
			msgs = append(msgs, message{fmt.Sprint("a", i), "assistant", []part{{"text", "…"}}})
		}
		msgs = append(msgs, message{fmt.Sprint("u", i+1), "user", []part{{"text", text}}})
	}
	b, err := json.Marshal(map[string]any{"id": id, "trigger": trigger, "messages": msgs})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// clients runs the clients of c.
func (r *clientRun) clients(c *chat) {
	body := chatBody(c.id, "submit-message", c.first)
	switch c.kind {
	case kindReader:
		r.read(c, body, false)
	case kindStaller:
		r.stall(c, body)
	case kindDropper:
		r.drop(c, body)
	case kindSlowBody:
		r.slowBody(c, body)
	case kindHammer:
		var hammering sync.WaitGroup
		for range c.hammers {
			hammering.Go(func() { r.read(c, body, true) })
		}
		hammering.Wait()
	case kindGoingBack:
		r.goBack(c, body)
	}
	c.leave()
}

// post sends body to the handler.
func (r *clientRun) post(ctx context.Context, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return r.client.Do(req)
}

// read posts body and reads the answer to its end: a whole stream within
// streamBound, a refusal within clientMargin. Only when busy may the chat
// be refused with 409. It returns the status, or 0 when there was none.
func (r *clientRun) read(c *chat, body string, busy bool) int {
	ctx, cancel := context.WithTimeout(context.Background(), streamBound)
	defer cancel()
	start := time.Now()
	resp, err := r.post(ctx, body)
	if err != nil {
		r.errorf(c, "no answer %v after the request: %v", time.Since(start), err)
		return 0
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	c.answer(strconv.Itoa(resp.StatusCode))
	if err != nil {
		r.errorf(c, "a %d answer still not read to its end %v after the request: %v; want it within %v:\n%s", resp.StatusCode, took, err, streamBound, tail(out))
		return resp.StatusCode
	}
	r.check(c, resp.StatusCode, string(out), took, busy)
	return resp.StatusCode
}

// check checks a whole answer, read in took.
func (r *clientRun) check(c *chat, status int, out string, took time.Duration, busy bool) {
	r.t.Helper()
	switch {
	case status == http.StatusOK:
		if !strings.HasSuffix(out, "data: [DONE]\n\n") || !strings.Contains(out, `"type":"finish"`) {
			r.errorf(c, "a stream read to its end does not end with finish and [DONE]:\n%s", tail([]byte(out)))
		}
	case status == http.StatusServiceUnavailable && strings.Contains(out, "too many chats"),
		status == http.StatusConflict && busy && strings.Contains(out, "still running"):
		if took > clientMargin {
			r.errorf(c, "refused with %d after %v, want within %v", status, took, clientMargin)
		}
	default:
		r.errorf(c, "answered %d %s", status, out)
	}
}

// stall sends body over TCP until it is not refused with 503 (its model's
// script is for the stalled turn), reads the status and c.stallAfter bytes
// of the stream, and stops reading, the connection open.
func (r *clientRun) stall(c *chat, body string) {
	began := time.Now()
	var conn net.Conn
	var resp *http.Response
	for {
		var err error
		if conn, err = net.Dial("tcp", r.addr); err != nil {
			r.errorf(c, "%v", err)
			return
		}
		conn.(*net.TCPConn).SetReadBuffer(socketBuffer)
		start := time.Now()
		conn.SetDeadline(start.Add(streamBound))
		if _, err := io.WriteString(conn, rawRequest(body)); err != nil {
			conn.Close()
			r.errorf(c, "sending the request: %v", err)
			return
		}
		if resp, err = http.ReadResponse(bufio.NewReaderSize(conn, 4<<10), nil); err != nil {
			conn.Close()
			r.errorf(c, "no answer %v after the request: %v", time.Since(start), err)
			return
		}
		c.answer(strconv.Itoa(resp.StatusCode))
		if resp.StatusCode == http.StatusOK {
			break
		}
		out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		conn.Close()
		if err != nil {
			r.errorf(c, "reading a %d answer: %v", resp.StatusCode, err)
		}
		r.check(c, resp.StatusCode, string(out), time.Since(start), false)
		if resp.StatusCode != http.StatusServiceUnavailable {
			return
		}
		if took := time.Since(began); took > streamBound {
			r.errorf(c, "still refused with 503 %v after the first request, when every other turn ends within %v", took, streamBound)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The stream cannot end: the model floods it, then hangs.
	buf := make([]byte, c.stallAfter)
	if n, err := io.ReadFull(resp.Body, buf); err != nil {
		conn.Close()
		r.errorf(c, "reading the first %d bytes of the stream: %v, after %d bytes:\n%s", c.stallAfter, err, n, tail(buf[:n]))
		return
	}
	c.mu.Lock()
	c.stalled = &stalledConn{conn: conn, body: resp.Body, at: time.Now()}
	c.mu.Unlock()
}

// rawRequest is the HTTP/1.1 text of a chat request with body.
func rawRequest(body string) string {
	return "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// drop posts body and hangs up once it has read c.dropAfter bytes of the
// answer, or c.dropAt after the request, whichever comes first.
func (r *clientRun) drop(c *chat, body string) {
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	timer := time.AfterFunc(c.dropAt, hangUp)
	defer timer.Stop()
	start := time.Now()
	resp, err := r.post(ctx, body)
	if err != nil {
		if ctx.Err() == nil {
			r.errorf(c, "no answer %v after the request: %v", time.Since(start), err)
		}
		c.answer("hung up")
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.dropAfter)))
	switch {
	case ctx.Err() != nil:
		c.answer(fmt.Sprint(resp.StatusCode, " hung up"))
	case len(out) == c.dropAfter:
		c.answer(fmt.Sprint(resp.StatusCode, " hung up"))
		hangUp()
	case err != nil:
		c.answer(strconv.Itoa(resp.StatusCode))
		r.errorf(c, "reading the answer: %v", err)
	default: // all of it
		c.answer(strconv.Itoa(resp.StatusCode))
		r.check(c, resp.StatusCode, string(out), time.Since(start), false)
	}
}

// slowBody sends the headers of body, padded to 64 KiB, then the body a
// byte every 10 ms: within ReadTimeout plus the margin of the headers, it
// must get 408 and its connection closed.
func (r *clientRun) slowBody(c *chat, body string) {
	body += strings.Repeat(" ", 64<<10-len(body))
	req := rawRequest(body)
	headers := req[:len(req)-len(body)]
	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		r.errorf(c, "%v", err)
		return
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, headers); err != nil {
		r.errorf(c, "sending the headers: %v", err)
		return
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
	bound := clientReadTimeout + clientMargin
	conn.SetReadDeadline(start.Add(bound))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		r.errorf(c, "no answer %v after the headers of a body sent a byte every 10 ms: %v; want 408 within %v", time.Since(start), err, bound)
		return
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.answer(strconv.Itoa(resp.StatusCode))
	if resp.StatusCode != http.StatusRequestTimeout {
		r.errorf(c, "a body sent a byte every 10 ms: %s %s, want 408", resp.Status, msg)
	}
	// Closed: EOF, or a reset once the server has given up the body still
	// coming in.
	if _, err := br.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		r.errorf(c, "after the 408, reading the connection: %v, want it closed within %v of the headers", err, bound)
	}
}

// goBack posts body and, once its stream has begun, goes back as a user
// does who regenerates the answer or edits the message: that is refused
// with 409 while the turn runs. Then, the first stream read to its end or
// (c.stop) hung up, it goes back again, until served.
func (r *clientRun) goBack(c *chat, body string) {
	back := chatBody(c.id, "regenerate-message", c.first)
	if c.edit {
		back = chatBody(c.id, "submit-message", c.first+", edited")
	}
	ctx, hangUp := context.WithTimeout(context.Background(), streamBound)
	defer hangUp()
	start := time.Now()
	resp, err := r.post(ctx, body)
	if err != nil {
		r.errorf(c, "no answer %v after the request: %v", time.Since(start), err)
		return
	}
	defer resp.Body.Close()
	c.answer(strconv.Itoa(resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		out, _ := io.ReadAll(resp.Body)
		r.check(c, resp.StatusCode, string(out), time.Since(start), false)
		return
	}
	// The model's first answer lasts a second.
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		r.errorf(c, "reading the first line of the stream: %v", err)
		return
	}
	if status := r.read(c, back, true); status != http.StatusConflict {
		r.errorf(c, "going back while the first answer streams: %d, want 409", status)
	}
	if c.stop {
		hangUp()
	} else {
		rest, err := io.ReadAll(br)
		if err != nil {
			r.errorf(c, "the first stream still not read to its end %v after the request: %v", time.Since(start), err)
			return
		}
		r.check(c, resp.StatusCode, string(rest), time.Since(start), false)
	}
	resp.Body.Close()
	left := time.Now()
	bound := clientWriteTimeout + clientMargin
	for {
		status := r.read(c, back, true)
		if status != http.StatusConflict {
			break // read already checked it
		}
		if took := time.Since(left); took > bound {
			r.errorf(c, "going back still refused with 409 %v after the first stream ended, want it served within %v", took, bound)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeAgain checks that c takes a new message within WriteTimeout and the
// margin of when its clients left, or of since if later: it posts one until
// it is not refused with 409 (or 503, all sessions busy), and hangs up once
// it is served. Then a stalled client's connection must be closed.
func (r *clientRun) freeAgain(c *chat, since time.Time) {
	c.mu.Lock()
	left, stalled := c.left, c.stalled
	c.mu.Unlock()
	if stalled != nil {
		left = stalled.at
	}
	if left.Before(since) {
		left = since
	}
	bound := clientWriteTimeout + clientMargin
	body := chatBody(c.id, "submit-message", c.first, "next")
	for {
		status, out, err := r.served(body)
		if err == nil && status == http.StatusOK {
			break
		}
		if took := time.Since(left); took > bound || err != nil || (status != http.StatusConflict && status != http.StatusServiceUnavailable) {
			r.errorf(c, "a new message %v after the clients left: %d %s (%v), want it served within %v", took, status, out, err, bound)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if stalled == nil {
		return
	}
	// The server gave up the stalled stream: it closed the connection, and
	// what is left to read in the buffers ends without [DONE].
	stalled.conn.SetReadDeadline(time.Now().Add(clientMargin))
	rest, err := io.ReadAll(stalled.body)
	stalled.conn.Close()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		r.errorf(c, "the connection of the client that stopped reading is still open %v after it stopped", time.Since(stalled.at))
	}
	if strings.Contains(string(rest), "[DONE]") {
		r.errorf(c, "the client that stopped reading can still read the whole stream: the test did not stall it")
	}
}

// served posts body and hangs up at once if it is served: it returns the
// status and, for a refusal, the answer.
func (r *clientRun) served(body string) (int, string, error) {
	ctx, hangUp := context.WithTimeout(context.Background(), clientMargin)
	defer hangUp()
	resp, err := r.post(ctx, body)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "", nil
	}
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), err
}

// goOn sends c a new message, once it is free, and reads the stream to its
// end.
func (r *clientRun) goOn(c *chat) {
	body := chatBody(c.id, "submit-message", c.first, "next", "last")
	start := time.Now()
	for {
		status := r.read(c, body, true)
		if status != http.StatusConflict && status != http.StatusServiceUnavailable {
			return // read already checked it
		}
		if took := time.Since(start); took > clientMargin {
			r.errorf(c, "the last message still refused with %d %v after the first", status, took)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tail is the end of a long answer, for failure messages.
func tail(out []byte) string {
	if len(out) > 500 {
		return "…" + string(out[len(out)-500:])
	}
	return string(out)
}
