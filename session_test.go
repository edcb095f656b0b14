package agentbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/google/go-cmp/cmp"
)

// sandboxes is an Opener making a new agentboxtest.Sandbox each time, and
// the sandboxes it made.
type sandboxes struct {
	delay time.Duration // how long opening takes
	mu    sync.Mutex
	made  []*agentboxtest.Sandbox
}

func (s *sandboxes) open(ctx context.Context) (agentbox.Sandbox, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := agentboxtest.NewSandbox()
	s.made = append(s.made, sb)
	return sb, nil
}

func (s *sandboxes) all() []*agentboxtest.Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*agentboxtest.Sandbox(nil), s.made...)
}

func writeFile(id, path, content string) agentboxtest.Call {
	args, _ := json.Marshal(map[string]any{"files": []map[string]string{{"path": path, "content": content}}})
	return agentboxtest.Call{ID: id, Name: "write_file", Args: string(args)}
}

func TestSessionKeepsItsSandboxAcrossTurns(t *testing.T) {
	var opened sandboxes
	p := agentboxtest.NewProvider(
		calls(writeFile("w", "app.txt", "version 1")), agentboxtest.Reply("Written."),
		calls(call("r", "read_file", `{"path":"app.txt"}`)), agentboxtest.Reply("It says version 1."),
	)
	s := agentbox.New(p, agentbox.Options{Open: opened.open}).NewSession(agentbox.SessionOptions{})
	if s.Sandbox() != nil {
		t.Errorf("Sandbox() before any turn = %v, want nil", s.Sandbox())
	}
	_, done := collect(t, s.Send(context.Background(), "write it"))
	if done.Err != nil {
		t.Fatalf("turn 1: %v", done.Err)
	}
	all, done := collect(t, s.Send(context.Background(), "read it"))
	if done.Err != nil {
		t.Fatalf("turn 2: %v", done.Err)
	}
	if got := result(t, all, "r").Output; got != "version 1" {
		t.Errorf("turn 2 read %q, want the file turn 1 wrote", got)
	}
	made := opened.all()
	if len(made) != 1 || made[0].Closes() != 0 || s.Sandbox() != made[0] {
		t.Fatalf("after two turns: %d sandboxes opened, closed %d times; want 1, open, the session's", len(made), made[0].Closes())
	}
	if n := len(done.Messages); n != 8 || len(s.Messages()) != 8 {
		t.Errorf("turn 2's Done has %d messages, the session %d; want 8 (2 turns of user, call, result, answer)", n, len(s.Messages()))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if made[0].Closes() != 1 {
		t.Errorf("the session's sandbox was closed %d times by Close, want 1", made[0].Closes())
	}
	_, done = collect(t, s.Send(context.Background(), "more"))
	if !errors.Is(done.Err, agentbox.ErrSessionClosed) {
		t.Errorf("Send after Close: %v, want ErrSessionClosed", done.Err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSessionStateRoundTrips(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Step{Text: []string{"Hi."}, Usage: &agentbox.Usage{PromptTokens: 7, CompletionTokens: 2}},
		agentboxtest.Step{Text: []string{"Again."}, Usage: &agentbox.Usage{PromptTokens: 9, CompletionTokens: 1}})
	a := agentbox.New(p, agentbox.Options{})
	s := a.NewSession(agentbox.SessionOptions{})
	collect(t, s.Send(context.Background(), "hello"))
	data, err := json.Marshal(s.State())
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"Hi."}],"usage":{"prompt_tokens":7,"completion_tokens":2}}`; string(data) != want {
		t.Errorf("State as JSON:\n%s\nwant\n%s", data, want)
	}
	var st agentbox.SessionState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	resumed, err := a.ResumeSession(st, agentbox.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, done := collect(t, resumed.Send(context.Background(), "again"))
	if done.Err != nil || len(done.Messages) != 4 || resumed.Usage().TotalTokens() != 19 {
		t.Errorf("resumed turn: %v, %d messages, %d tokens in all; want nil, 4, 19", done.Err, len(done.Messages), resumed.Usage().TotalTokens())
	}
	if got := p.Requests()[1].Messages; len(got) != 3 || got[0].Content != "hello" {
		t.Errorf("the resumed turn sent %d messages, want the 3 of the conversation", len(got))
	}
	if _, err := a.ResumeSession(agentbox.SessionState{Sandbox: &agentbox.SandboxRef{Backend: "e2b", ID: "x"}}, agentbox.SessionOptions{}); err == nil || !strings.Contains(err.Error(), "Reconnect") {
		t.Errorf("resuming a sandbox without Reconnect: %v, want an error naming SessionOptions.Reconnect", err)
	}
}

func TestSessionRunsOneTurnAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := agentboxtest.NewProvider(agentboxtest.Step{Delay: time.Second, Text: []string{"slow"}}, agentboxtest.Reply("next"))
		s := agentbox.New(p, agentbox.Options{}).NewSession(agentbox.SessionOptions{})
		first := s.Send(context.Background(), "one")
		_, busy := collect(t, s.Send(context.Background(), "two"))
		if !errors.Is(busy.Err, agentbox.ErrSessionBusy) || len(busy.Messages) != 0 {
			t.Errorf("Send during a turn: %v with %d messages, want ErrSessionBusy and the conversation before it", busy.Err, len(busy.Messages))
		}
		if _, done := collect(t, first); done.Err != nil || len(done.Messages) != 2 {
			t.Errorf("first turn: %v, %d messages", done.Err, len(done.Messages))
		}
		if _, done := collect(t, s.Send(context.Background(), "three")); done.Err != nil || len(done.Messages) != 4 {
			t.Errorf("turn after the busy one: %v, %d messages; want it to follow the first", done.Err, len(done.Messages))
		}
	})
}

func TestSessionCloseEndsTheTurn(t *testing.T) {
	var opened sandboxes
	started := make(chan struct{})
	slow := agentbox.NewTool("slow", "waits", func(ctx context.Context, env *agentbox.Env, _ struct{}) (string, error) {
		if _, err := env.Sandbox(ctx); err != nil {
			return "", err
		}
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	})
	p := agentboxtest.NewProvider(calls(call("s", "slow", `{}`)))
	s := agentbox.New(p, agentbox.Options{Open: opened.open, Tools: []agentbox.Tool{slow}}).NewSession(agentbox.SessionOptions{})
	events := s.Send(context.Background(), "wait")
	<-started
	var all []agentbox.Event
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for ev := range events {
			all = append(all, ev)
		}
	}()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-ended
	done := checkDone(t, all)
	if done.Reason != agentbox.StopCanceled || !errors.Is(done.Err, agentbox.ErrSessionClosed) {
		t.Errorf("Done = %v, %v; want canceled, ErrSessionClosed", done.Reason, done.Err)
	}
	if made := opened.all(); len(made) != 1 || made[0].Closes() != 1 {
		t.Errorf("the sandbox the turn opened was not closed once by Close")
	}
}

func TestSessionRetry(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("A poor answer."), agentboxtest.Reply("A better answer."))
	s := agentbox.New(p, agentbox.Options{}).NewSession(agentbox.SessionOptions{})
	_, done := collect(t, s.Retry(context.Background()))
	if done.Err == nil {
		t.Errorf("Retry with no turn: no error")
	}
	collect(t, s.Send(context.Background(), "question"))
	_, done = collect(t, s.Retry(context.Background()))
	want := []agentbox.Message{{Role: agentbox.RoleUser, Content: "question"}, {Role: agentbox.RoleAssistant, Content: "A better answer."}}
	if diff := cmp.Diff(want, done.Messages); diff != "" || done.Err != nil {
		t.Errorf("after Retry: %v (-want +got):\n%s", done.Err, diff)
	}
	if got := p.Requests()[1].Messages; len(got) != 1 {
		t.Errorf("Retry sent %d messages, want only the question", len(got))
	}
}

// TestSessionKeepsTheSandboxAlive runs a turn three times as long as the
// sandbox's lifetime, then leaves the session idle until the sandbox
// expires.
func TestSessionKeepsTheSandboxAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var opened sandboxes
		wait := agentbox.NewTool("wait", "waits", func(ctx context.Context, env *agentbox.Env, _ struct{}) (string, error) {
			time.Sleep(3 * time.Minute)
			return "waited", nil
		})
		p := agentboxtest.NewProvider(
			calls(writeFile("w1", "a.txt", "a")), calls(call("wait", "wait", `{}`)), calls(writeFile("w2", "b.txt", "b")), agentboxtest.Reply("ok"),
			calls(call("r", "read_file", `{"path":"a.txt"}`)), agentboxtest.Reply("gone"),
		)
		tools := append(agentbox.BuiltinTools(), wait)
		s := agentbox.New(p, agentbox.Options{Open: opened.open, Tools: tools}).NewSession(agentbox.SessionOptions{Lifetime: time.Minute})
		defer s.Close(context.Background())
		all, done := collect(t, s.Send(context.Background(), "work long"))
		if done.Err != nil || result(t, all, "w2").Err != nil {
			t.Fatalf("a 3-minute turn with a 1-minute lifetime: %v / %v; want the sandbox kept alive", done.Err, result(t, all, "w2").Err)
		}
		sb := opened.all()[0]
		if sets := sb.LifetimeSets(); sets < 6 {
			t.Errorf("lifetime set %d times in 3 minutes, want every 30 s", sets)
		}
		if left := time.Until(sb.Deadline()); left != time.Minute {
			t.Errorf("after the turn the sandbox has %s left, want a whole lifetime", left)
		}

		time.Sleep(2 * time.Minute) // the session idles; the sandbox expires
		all, done = collect(t, s.Send(context.Background(), "read a.txt"))
		var warned bool
		for _, e := range of[agentbox.Error](all) {
			warned = warned || !e.Fatal && errors.Is(e.Err, agentbox.ErrSandboxGone)
		}
		made := opened.all()
		if done.Err != nil || !warned || len(made) != 2 || made[0].Closes() != 1 {
			t.Fatalf("turn after expiry: %v, warned %v, %d sandboxes; want a new sandbox with a warning, the old one closed", done.Err, warned, len(made))
		}
		if r := result(t, all, "r"); !errors.Is(r.Err, fs.ErrNotExist) {
			t.Errorf("the new sandbox has the old one's file: %q", r.Output)
		}
	})
}

func TestSessionWithTheAgentsSandbox(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	p := agentboxtest.NewProvider(calls(writeFile("w", "x.txt", "x")), agentboxtest.Reply("ok"))
	s := agentbox.New(p, agentbox.Options{Sandbox: sb}).NewSession(agentbox.SessionOptions{})
	if _, done := collect(t, s.Send(context.Background(), "write")); done.Err != nil {
		t.Fatal(done.Err)
	}
	if err := s.Close(context.Background()); err != nil || sb.Closes() != 0 || s.Sandbox() != sb {
		t.Errorf("Close: %v, the agent's sandbox closed %d times; want it left open", err, sb.Closes())
	}
	if n := sb.LifetimeSets(); n != 0 {
		t.Errorf("the session set the lifetime of the agent's sandbox %d times; it is the caller's", n)
	}
}

// TestSessionHistoryStaysWithinItsBudget drives a session whose tool outputs
// overflow the history budget after a few turns.
func TestSessionHistoryStaysWithinItsBudget(t *testing.T) {
	big := agentbox.NewTool("report", "a long report", func(ctx context.Context, env *agentbox.Env, in struct{ N int }) (string, error) {
		return fmt.Sprintf("report %d: %s", in.N, strings.Repeat("x", 3000)), nil
	})
	const turns, budget = 8, 2000 // about 8 KB: two reports and a half
	var steps []agentboxtest.Step
	for i := range turns {
		steps = append(steps, calls(agentboxtest.Call{ID: fmt.Sprint("c", i), Name: "report", Args: fmt.Sprintf(`{"N":%d}`, i)}), agentboxtest.Reply(fmt.Sprint("Report ", i, " read.")))
	}
	p := agentboxtest.NewProvider(steps...)
	s := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{big}, HistoryTokens: budget}).NewSession(agentbox.SessionOptions{})
	var done agentbox.Done
	for i := range turns {
		_, done = collect(t, s.Send(context.Background(), fmt.Sprint("Read report ", i, ".")))
		if done.Err != nil {
			t.Fatalf("turn %d: %v", i, done.Err)
		}
	}
	for i, req := range p.Requests() {
		size := 0
		for _, m := range req.Messages {
			size += len(m.Content) + len(m.Reasoning)
			for _, c := range m.ToolCalls {
				size += len(c.Name) + len(c.Arguments) + len(c.ID)
			}
		}
		if size > 4*budget {
			t.Errorf("request %d sent %d bytes of conversation, over the budget of %d tokens", i, size, budget)
		}
	}
	var elided, whole []int
	for _, m := range done.Messages {
		if m.Role != agentbox.RoleTool {
			continue
		}
		var n int
		if strings.HasPrefix(m.Content, "[elided: ") {
			if !strings.Contains(m.Content, "3010 bytes of tool output left out") {
				t.Errorf("elided output says %q", m.Content)
			}
			elided = append(elided, len(elided)+len(whole))
		} else if _, err := fmt.Sscanf(m.Content, "report %d:", &n); err == nil {
			whole = append(whole, n)
		} else {
			t.Errorf("tool output %.40q… is neither a report nor elided", m.Content)
		}
	}
	if len(elided) == 0 || len(whole) == 0 || whole[len(whole)-1] != turns-1 || len(elided)+len(whole) != turns {
		t.Errorf("reports elided %v, whole %v: want the oldest elided and the last turn's whole", elided, whole)
	}
	for i, n := range whole {
		if i > 0 && n != whole[i-1]+1 {
			t.Errorf("whole reports %v: want only the newest kept", whole)
		}
	}
}

// TestSessionForgetsAGoneSandbox lets the sandbox expire, then runs a turn
// that needs no sandbox, so that opening its replacement is cancelled: the
// turn after opens one.
func TestSessionForgetsAGoneSandbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opened := sandboxes{delay: time.Second}
		p := agentboxtest.NewProvider(
			calls(writeFile("w", "a.txt", "a")), agentboxtest.Reply("Written."),
			agentboxtest.Reply("You're welcome."),
			calls(call("r", "read_file", `{"path":"a.txt"}`)), agentboxtest.Reply("It is gone."),
		)
		s := agentbox.New(p, agentbox.Options{Open: opened.open}).NewSession(agentbox.SessionOptions{Lifetime: time.Minute})
		collect(t, s.Send(context.Background(), "write"))
		time.Sleep(2 * time.Minute)
		all, done := collect(t, s.Send(context.Background(), "thanks"))
		if done.Err != nil || len(of[agentbox.Error](all)) != 1 {
			t.Fatalf("a turn without tools after expiry: %v, %d warnings; want it answered, with a warning", done.Err, len(of[agentbox.Error](all)))
		}
		all, done = collect(t, s.Send(context.Background(), "read a.txt"))
		made := opened.all()
		if r := result(t, all, "r"); done.Err != nil || !errors.Is(r.Err, fs.ErrNotExist) || len(made) != 2 {
			t.Fatalf("the turn after: %v, read %v, %d sandboxes; want a new sandbox, without the file", done.Err, r.Err, len(made))
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if made[0].Closes() != 1 || made[1].Closes() != 1 {
			t.Errorf("sandboxes closed %d and %d times, want once each", made[0].Closes(), made[1].Closes())
		}
	})
}

// TestSessionCloseDoesNotWaitForTheConsumer fails a turn whose consumer
// reads nothing: Close returns, and the events are still there to read.
func TestSessionCloseDoesNotWaitForTheConsumer(t *testing.T) {
	text := make([]string, 100) // more events than the channel holds
	for i := range text {
		text[i] = "x"
	}
	p := agentboxtest.NewProvider(agentboxtest.Step{Text: text, Err: errors.New("connection reset"), FailAfter: len(text)})
	s := agentbox.New(p, agentbox.Options{}).NewSession(agentbox.SessionOptions{})
	events := s.Send(context.Background(), "go")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close while nobody reads the turn: %v", err)
	}
	_, done := collect(t, events)
	if done.Err == nil {
		t.Errorf("the turn ended without an error")
	}
}

func TestSessionEdit(t *testing.T) {
	p := agentboxtest.NewProvider(agentboxtest.Reply("A."), agentboxtest.Reply("B."), agentboxtest.Reply("C."))
	s := agentbox.New(p, agentbox.Options{}).NewSession(agentbox.SessionOptions{})
	collect(t, s.Send(context.Background(), "first"))
	collect(t, s.Send(context.Background(), "second"))
	_, done := collect(t, s.Edit(context.Background(), 0, "first, edited"))
	want := []agentbox.Message{{Role: agentbox.RoleUser, Content: "first, edited"}, {Role: agentbox.RoleAssistant, Content: "C."}}
	if diff := cmp.Diff(want, done.Messages); diff != "" || done.Err != nil {
		t.Errorf("after Edit(0): %v (-want +got):\n%s", done.Err, diff)
	}
	if _, done := collect(t, s.Edit(context.Background(), 1, "x")); done.Err == nil || !strings.Contains(done.Err.Error(), "no user message 1") {
		t.Errorf("Edit of a message that is not there: %v", done.Err)
	}
}
