package faults_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/debug"
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
	"go.uber.org/goleak"
)

var (
	seed   = flag.Uint64("faults.seed", 0, "run only the run of this seed")
	first  = flag.Uint64("faults.first", 1, "the seed of the first run")
	runs   = flag.Int("faults.runs", 250, "the most runs")
	budget = flag.Duration("faults.time", 75*time.Second, "no run starts after this long")
	long   = flag.Bool("faults.long", false, "run 10,000 seeds, however long it takes (overrides -faults.runs and -faults.time)")
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestFaults runs the agent, seed after seed, against a fake OpenRouter and
// a fake E2B that fail in ways chosen at random: refused and cut streams,
// 429s and 5xx, errors in the middle of a stream, streams that end before
// they finish or hang, sandboxes that fail to create, die or lose their
// connections, slow consumers and cancellations — and a model that attacks:
// edits to a result too large, escaping and absurd paths, malformed
// arguments, unknown tools, hundreds of calls in a step, large files and
// commands past their timeout. Every run must end with
// exactly one Done, last, whose error is one the caller can classify; kill
// every sandbox it created; and leave no goroutine behind.
func TestFaults(t *testing.T) {
	if *seed != 0 {
		faultRun(t, *seed)
		return
	}
	if *long {
		*runs, *budget = 10_000, 1<<62
	}
	start := time.Now()
	endings := map[string]int{}
	n := 0
	for ; n < *runs && time.Since(start) < *budget; n++ {
		s := *first + uint64(n)
		// Should a goroutine of the run panic, the binary ends: the last
		// line on stderr names the seed.
		fmt.Fprintf(os.Stderr, "faults: seed %d\n", s)
		if !t.Run(fmt.Sprint("seed=", s), func(t *testing.T) { endings[faultRun(t, s)]++ }) {
			break
		}
	}
	t.Logf("%d runs in %s, ended: %v", n, time.Since(start).Round(time.Millisecond), endings)
}

// faultRun runs the agent once, with the faults seed chooses, and returns
// the class of its ending.
//
// The seed fixes the plan of the run: the responses, the faults and when
// they come. Timing is the machine's, so a failure may need a few replays
// (-count) to show again.
func faultRun(t *testing.T, seed uint64) string {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panic: %v\n%s", r, debug.Stack())
		}
		if t.Failed() {
			t.Logf("replay: go test ./internal/faults -run TestFaults -faults.seed=%d -count=20 -v", seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var plan []string // what this run does, for the failure message

	model := openroutertest.NewServer(t)
	sandboxes, err := e2btest.Start(e2btest.Options{CreateLatency: time.Duration(rng.IntN(40)) * time.Millisecond})
	if err != nil {
		t.Fatal(err)
		return ""
	}
	defer sandboxes.Close()
	defer model.Close()
	// The servers' goroutines are theirs; any other left after the run,
	// with the servers still up, is the run's.
	before := goleak.IgnoreCurrent()
	transport := &http.Transport{}

	// The model's responses: mostly ending with an answer.
	for range 1 + rng.IntN(4) {
		r, what := response(rng)
		model.Add(r)
		plan = append(plan, what)
	}
	if rng.IntN(4) > 0 {
		model.Add(openroutertest.FromStep(agentboxtest.Reply("Done.")))
		plan = append(plan, "answer")
	}
	// The sandbox's troubles.
	if rng.IntN(6) == 0 {
		status := []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError}[rng.IntN(3)]
		sandboxes.FailCreates(status, 1)
		plan = append(plan, fmt.Sprint("create fails with ", status))
	}
	cfg := sandboxes.Config()
	provider, err := openrouter.New(openrouter.Config{
		APIKey: "sk-or-v1-faults", BaseURL: model.URL, Models: []string{"test/model"},
		HTTPClient: &http.Client{Transport: transport},
		MaxRetries: rng.IntN(3) - 1, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
		return ""
	}
	opts := agentbox.Options{
		Open:        e2b.Opener(cfg),
		MaxSteps:    4,
		ToolTimeout: 5 * time.Second,
	}
	plan = append(plan, approvals(rng, &opts)...)
	agent := agentbox.New(provider, opts)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timeout := 3 * time.Second // a hanging stream is ended by this
	cancelAfter := -1          // events, or -1 for none
	slow := time.Duration(0)
	switch rng.IntN(5) {
	case 0:
		timeout = time.Duration(20+rng.IntN(400)) * time.Millisecond
		plan = append(plan, fmt.Sprint("cancelled after ", timeout))
	case 1:
		cancelAfter = rng.IntN(12)
		plan = append(plan, fmt.Sprint("cancelled at event ", cancelAfter))
	case 2:
		slow = time.Duration(1+rng.IntN(5)) * time.Millisecond
		plan = append(plan, fmt.Sprint("consumer waits ", slow, " an event"))
	}
	ctx, stop := context.WithTimeout(ctx, timeout)
	defer stop()

	// A sandbox death or dropped connections, some time into the run.
	var trouble sync.WaitGroup
	received := make(chan struct{})
	if n := rng.IntN(4); n < 2 {
		after := time.Duration(rng.IntN(300)) * time.Millisecond
		plan = append(plan, fmt.Sprint([]string{"sandbox killed", "connections dropped"}[n], " after ", after))
		trouble.Go(func() {
			select {
			case <-time.After(after):
			case <-ctx.Done():
				return
			case <-received: // after the run, a death would hide a leak
				return
			}
			for _, id := range sandboxes.Sandboxes() {
				if n == 0 {
					sandboxes.Kill(id)
				} else {
					sandboxes.DropConnections(id)
				}
			}
		})
	}

	var all []agentbox.Event
	go func() {
		defer close(received)
		for ev := range agent.Run(ctx, "Build it.") {
			all = append(all, ev)
			if len(all) == cancelAfter {
				cancel()
			}
			time.Sleep(slow)
		}
	}()
	select {
	case <-received:
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("the run did not end 30 s after it started (plan %v)", plan)
		return ""
	}
	trouble.Wait()

	// Exactly one Done, last; its error classified; its reason consistent.
	dones := 0
	for _, ev := range all {
		if _, ok := ev.(agentbox.Done); ok {
			dones++
		}
	}
	if len(all) == 0 {
		t.Fatalf("the run sent no event (plan %v)", plan)
		return ""
	}
	done, last := all[len(all)-1].(agentbox.Done)
	if dones != 1 || !last {
		t.Fatalf("%d Done events, the last event a %T (plan %v)", dones, all[len(all)-1], plan)
		return ""
	}
	class := classify(done)
	switch {
	case class == "":
		t.Errorf("Done's error is not classified: %s %v (%T) (plan %v)", done.Reason, done.Err, done.Err, plan)
	case (done.Err == nil) != (done.Reason == agentbox.StopCompleted || done.Reason == agentbox.StopApproval):
		t.Errorf("Done: reason %s with error %v (plan %v)", done.Reason, done.Err, plan)
	}

	// Every sandbox created is killed (or died); one whose create was given
	// up is killed once created.
	ended := func(st e2btest.Stats) bool { return st.Alive == 0 && st.Created == st.Killed+st.Died+st.Expired }
	deadline := time.Now().Add(5 * time.Second)
	for !ended(sandboxes.Stats()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // a create given up may still be under way
	}
	if st := sandboxes.Stats(); !ended(st) {
		t.Errorf("sandboxes: %+v, want every one created killed (plan %v, Done %s %v)", st, plan, done.Reason, done.Err)
	}

	// No goroutine left but the servers': the clients' connections, idle
	// once the streams that used them have ended, are closed until none is
	// left.
	var leaked error
	for range 10 {
		transport.CloseIdleConnections()
		cfg.HTTPClient.CloseIdleConnections()
		if leaked = findLeaks(before); leaked == nil {
			break
		}
	}
	if leaked != nil {
		t.Errorf("goroutines left after the run: %v\nplan: %v", leaked, plan)
	}
	t.Logf("%s: %v → %s %s", class, plan, done.Reason, errText(done.Err))
	return class
}

// response returns a response of the model, chosen by rng, and says what it
// is: one of an honest model's, a provider's failure, or an attack.
func response(rng *rand.Rand) (openroutertest.Response, string) {
	if rng.IntN(4) == 0 {
		return attack(rng)
	}
	text := agentboxtest.Step{Text: []string{"Working ", "on it."}}
	switch rng.IntN(11) {
	case 0, 1:
		return openroutertest.FromStep(agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "w", Name: "write_file", Args: `{"files":[{"path":"a.txt","content":"a"}]}`, Split: 7}}}), "write a file"
	case 2, 3:
		return openroutertest.FromStep(agentboxtest.Step{Calls: []agentboxtest.Call{{ID: "r", Name: "run_command", Args: `{"command":"echo start; sleep 0.2; echo end"}`}}}), "run a command"
	case 4:
		return openroutertest.FromStep(agentboxtest.Reply("Done.")), "answer"
	case 5:
		return openroutertest.Status(http.StatusTooManyRequests, `{"error":{"message":"Rate limit exceeded","code":429}}`, "Retry-After", "0"), "429"
	case 6:
		status := []int{500, 502, 503}[rng.IntN(3)]
		return openroutertest.Status(status, fmt.Sprintf(`{"error":{"message":"Upstream error","code":%d}}`, status)), fmt.Sprint(status)
	case 7:
		r := openroutertest.FromStep(text)
		r.Events = append(r.Events[:1], `{"id":"gen-x","object":"chat.completion.chunk","error":{"code":502,"message":"Provider returned error"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`)
		return r, "error mid-stream"
	case 8:
		r := openroutertest.FromStep(text)
		r.Events, r.Drop = r.Events[:1], true
		return r, "stream cut"
	case 9:
		r := openroutertest.FromStep(text)
		r.Events = r.Events[:1] // ends without a finish reason or [DONE]
		return r, "stream truncated"
	default:
		r := openroutertest.FromStep(text)
		r.Events, r.Hang = r.Events[:1], true
		return r, "stream hangs"
	}
}

// attack returns a response of a hostile model, chosen by rng, and says
// what it is. Every attack must end as a tool error the model can read, in
// the run's limits.
func attack(rng *rand.Rand) (openroutertest.Response, string) {
	calls := func(c ...agentboxtest.Call) openroutertest.Response {
		return openroutertest.FromStep(agentboxtest.Step{Calls: c})
	}
	call := func(id, name, args string) agentboxtest.Call {
		return agentboxtest.Call{ID: id, Name: name, Args: args, Split: 1 + rng.IntN(40)}
	}
	switch rng.IntN(8) {
	case 0:
		// 200 KB of "a", each made 100 bytes: a 20 MB result.
		big := strings.Repeat("a", 200_000)
		return calls(
			call("w", "write_file", `{"files":[{"path":"big.txt","content":"`+big+`"}]}`),
			call("e", "edit_file", `{"path":"big.txt","old_string":"a","new_string":"`+strings.Repeat("b", 100)+`","replace_all":true}`),
		), "edit to a 20 MB result"
	case 1:
		line := strings.Repeat("x", 3000) + `
`
		return calls(
			call("w", "write_file", `{"files":[{"path":"long.txt","content":"`+strings.Repeat(line, 200)+`"}]}`),
			call("r", "read_file", `{"path":"long.txt","offset":`+fmt.Sprint(1+rng.IntN(300))+`}`),
		), "read of long lines"
	case 2:
		p := []string{"../../etc/passwd", "/etc/passwd", `a\u0000b`, "a/../../b", strings.Repeat("d/", 5000) + "f"}[rng.IntN(5)]
		name := []string{"read_file", "write_file", "list_files", "edit_file"}[rng.IntN(4)]
		args := map[string]string{
			"read_file":  `{"path":"` + p + `"}`,
			"write_file": `{"files":[{"path":"` + p + `","content":"x"}]}`,
			"list_files": `{"path":"` + p + `"}`,
			"edit_file":  `{"path":"` + p + `","old_string":"a","new_string":"b"}`,
		}[name]
		return calls(call("x", name, args)), fmt.Sprintf("%s of %.40q", name, p)
	case 3:
		bad := []string{`{"files":[{"path":`, `{"command":42}`, `[]`, `{"path":"a.txt","offset":-5}`, strings.Repeat("[", 10_000)}[rng.IntN(5)]
		name := []string{"write_file", "run_command", "read_file"}[rng.IntN(3)]
		return calls(call("m", name, bad)), fmt.Sprintf("%s with arguments %.20q", name, bad)
	case 4:
		return calls(call("u", "rm_rf_everything", `{}`)), "unknown tool"
	case 5:
		var c []agentboxtest.Call
		for i := range 20 + rng.IntN(180) {
			c = append(c, call(fmt.Sprint("l", i), "list_files", `{}`))
		}
		return calls(c...), fmt.Sprint(len(c), " calls in one step")
	case 6:
		return calls(call("big", "write_file", `{"files":[{"path":"huge.txt","content":"`+strings.Repeat("z", 1<<20)+`"}]}`)), "a 1 MB file"
	default:
		return calls(call("s", "run_command", `{"command":"sleep 30"}`)), "a command past its timeout"
	}
}

// approvals sets, on a quarter of the runs each, commands that need
// approval answered after a while (or never, or past a timeout), and
// commands that need an approval no one is asked for; it returns what it
// set, for the plan.
func approvals(rng *rand.Rand, opts *agentbox.Options) []string {
	n := rng.IntN(4)
	if n >= 2 {
		return nil
	}
	opts.NeedsApproval = func(c agentbox.ToolCall) bool { return c.Name == "run_command" }
	if n == 1 {
		return []string{"commands wait for approval"}
	}
	wait := time.Duration(rng.IntN(400)) * time.Millisecond
	approved := rng.IntN(2) == 0
	opts.ApprovalTimeout = time.Duration(rng.IntN(400)) * time.Millisecond
	opts.Approve = func(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
		select {
		case <-time.After(wait):
			return agentbox.Approval{Approved: approved, Reason: "no"}, nil
		case <-ctx.Done():
			return agentbox.Approval{}, ctx.Err()
		}
	}
	return []string{fmt.Sprintf("commands approved=%v after %v, timeout %v", approved, wait, opts.ApprovalTimeout)}
}

// classify names the kind of a run's ending, or returns "" for one a
// caller could not tell apart: a cancellation that is not the caller's, a
// provider error of no kind, an E2B error with no status, or any other
// error.
func classify(done agentbox.Done) string {
	err := done.Err
	var pe *agentbox.ProviderError
	var ee *e2b.Error
	canceled := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	switch {
	case done.Reason == agentbox.StopCanceled:
		if canceled {
			return "canceled"
		}
	case err == nil && done.Reason == agentbox.StopApproval:
		return "waits for approval"
	case err == nil:
		return "ok"
	case errors.As(err, &pe):
		if pe.Kind != "" && pe.Kind != agentbox.KindUnknown {
			return "provider " + string(pe.Kind)
		}
	case errors.Is(err, agentbox.ErrSandboxGone):
		return "sandbox gone"
	case errors.Is(err, agentbox.ErrMaxSteps):
		return "max steps"
	case errors.As(err, &ee):
		if ee.StatusCode != 0 {
			return "e2b " + fmt.Sprint(ee.StatusCode)
		}
	}
	return ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// findLeaks is goleak.Find, which panics on a goroutine whose stack is too
// deep to print whole (a deep recursion still unwinding): that is reported
// as a leak for now, and looked at again.
func findLeaks(opts ...goleak.Option) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("goleak could not read the goroutines: %v", r)
		}
	}()
	return goleak.Find(opts...)
}
