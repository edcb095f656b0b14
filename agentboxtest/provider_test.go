package agentboxtest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/google/go-cmp/cmp"
)

func TestProviderConformance(t *testing.T) {
	RunProviderTests(t, func(t *testing.T, steps ...Step) ProviderFixture {
		p := NewProvider(steps...)
		return ProviderFixture{Provider: p, Requests: p.Requests}
	})
}

func TestChunks(t *testing.T) {
	warn := errors.New("retrying after 429")
	usage := &agentbox.Usage{PromptTokens: 3, CompletionTokens: 4}
	tc := func(d ...agentbox.ToolCallDelta) agentbox.Chunk { return agentbox.Chunk{ToolCalls: d} }
	for _, tt := range []struct {
		name string
		step Step
		want []agentbox.Chunk
	}{
		{"empty", Step{}, []agentbox.Chunk{{FinishReason: agentbox.FinishStop}}},
		{"reply", Reply("a", "b"), []agentbox.Chunk{{Text: "a"}, {Text: "b"}, {FinishReason: agentbox.FinishStop}}},
		{"all", Step{
			Warnings:  []error{warn},
			Reasoning: []string{"r"},
			Text:      []string{"t"},
			Calls: []Call{
				{ID: "c1", Name: "f", Args: `{"a":1}`, Split: 3},
				{ID: "c2", Name: "g"},
				{ID: "c3", Name: "h", Args: "{}", Split: 10},
			},
			Usage: usage,
		}, []agentbox.Chunk{
			{Warning: warn},
			{Reasoning: "r"},
			{Text: "t"},
			tc(agentbox.ToolCallDelta{Index: 0, ID: "c1", Name: "f", Arguments: `{"a`}),
			tc(agentbox.ToolCallDelta{Index: 0, Arguments: `":1`}),
			tc(agentbox.ToolCallDelta{Index: 0, Arguments: `}`}),
			tc(agentbox.ToolCallDelta{Index: 1, ID: "c2", Name: "g"}),
			tc(agentbox.ToolCallDelta{Index: 2, ID: "c3", Name: "h", Arguments: "{}"}),
			{FinishReason: agentbox.FinishToolCalls},
			{Usage: usage},
		}},
		{"runes", Step{Calls: []Call{{ID: "c", Name: "f", Args: `"héé"`, Split: 2}}, Finish: agentbox.FinishLength}, []agentbox.Chunk{
			tc(agentbox.ToolCallDelta{Index: 0, ID: "c", Name: "f", Arguments: `"h`}),
			tc(agentbox.ToolCallDelta{Index: 0, Arguments: `é`}),
			tc(agentbox.ToolCallDelta{Index: 0, Arguments: `é`}),
			tc(agentbox.ToolCallDelta{Index: 0, Arguments: `"`}),
			{FinishReason: agentbox.FinishLength},
		}},
		{"raw", Step{Raw: []agentbox.Chunk{{Text: "x"}}, Text: []string{"ignored"}, Warnings: []error{warn}}, []agentbox.Chunk{{Text: "x"}}},
		{"empty raw", Step{Raw: []agentbox.Chunk{}, Text: []string{"ignored"}}, []agentbox.Chunk{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.step.Chunks()
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("Chunks mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChunksCopy(t *testing.T) {
	usage := &agentbox.Usage{PromptTokens: 1}
	step := Step{Usage: usage, Raw: nil}
	step.Chunks()[0].FinishReason = "changed"
	step.Chunks()[1].Usage.PromptTokens = 2
	if usage.PromptTokens != 1 {
		t.Error("changing a chunk changed the step's usage")
	}
	raw := Step{Raw: []agentbox.Chunk{{Text: "a"}}}
	raw.Chunks()[0].Text = "b"
	if raw.Raw[0].Text != "a" {
		t.Error("changing a chunk changed the step's Raw")
	}
}

// streamAll streams one response, returning its chunks and error.
func streamAll(ctx context.Context, p agentbox.Provider) ([]agentbox.Chunk, error) {
	var chunks []agentbox.Chunk
	for c, err := range p.Stream(ctx, &agentbox.Request{}) {
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, c)
	}
	return chunks, nil
}

func TestProviderFailures(t *testing.T) {
	boom := errors.New("boom")
	for _, tt := range []struct {
		name   string
		step   Step
		chunks int
		err    error
	}{
		{"error first", Step{Text: []string{"a"}, Err: boom}, 0, boom},
		{"error after one", Step{Text: []string{"a", "b"}, Err: boom, FailAfter: 1}, 1, boom},
		{"error after all", Step{Text: []string{"a"}, Err: boom, FailAfter: 99}, 2, boom},
		{"negative", Step{Text: []string{"a"}, Err: boom, FailAfter: -1}, 0, boom},
		{"fail after without error", Step{Text: []string{"a"}, FailAfter: 1}, 2, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			chunks, err := streamAll(t.Context(), NewProvider(tt.step))
			if len(chunks) != tt.chunks || err != tt.err {
				t.Errorf("streamed %d chunks and error %v, want %d and %v", len(chunks), err, tt.chunks, tt.err)
			}
		})
	}
}

func TestProviderScript(t *testing.T) {
	p := NewProvider(Reply("a"))
	if _, err := streamAll(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	_, err := streamAll(t.Context(), p)
	if want := "agentboxtest: the script has no step 2 (it has 1)"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if n := len(p.Requests()); n != 2 {
		t.Errorf("%d requests recorded, want 2", n)
	}
	_, err = streamAll(t.Context(), NewProvider())
	if want := "agentboxtest: the script has no step 1 (it has 0)"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestProviderLazy(t *testing.T) {
	p := NewProvider(Reply("first"), Reply("second"))
	first := p.Stream(t.Context(), &agentbox.Request{Model: "1"})
	second := p.Stream(t.Context(), &agentbox.Request{Model: "2"})
	if n := len(p.Requests()); n != 0 {
		t.Errorf("%d requests recorded before iterating, want 0", n)
	}
	r2, _ := Collect(second)
	r1, _ := Collect(first)
	if r1.Text != "second" || r2.Text != "first" {
		t.Errorf("steps taken in the order of iteration: got %q then %q", r2.Text, r1.Text)
	}
	reqs := p.Requests()
	if len(reqs) != 2 || reqs[0].Model != "2" || reqs[1].Model != "1" {
		t.Errorf("requests %+v, want models 2 then 1", reqs)
	}
}

func TestProviderRecordsCopies(t *testing.T) {
	temp := 0.5
	msgs := make([]agentbox.Message, 1, 10)
	msgs[0] = agentbox.Message{Role: agentbox.RoleAssistant, Content: "a", ToolCalls: []agentbox.ToolCall{{ID: "1"}}, ReasoningDetails: json.RawMessage(`[1]`)}
	req := &agentbox.Request{
		Messages:    msgs,
		Tools:       []agentbox.ToolSpec{{Name: "t", Parameters: json.RawMessage(`{}`)}},
		Temperature: &temp,
	}
	want := copyRequest(*req)
	p := NewProvider(Reply("x"), Reply("y"))
	if _, err := streamAll(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := Collect(p.Stream(t.Context(), req)); err != nil {
		t.Fatal(err)
	}
	req.Messages = append(req.Messages, agentbox.Message{Content: "appended"})
	msgs[0].Content = "changed"
	msgs[0].ToolCalls[0].ID = "changed"
	msgs[0].ReasoningDetails[1] = '2'
	req.Tools[0].Parameters[0] = '['
	temp = 1
	got := p.Requests()[1]
	got.Messages[0].Content = "changed via Requests"
	if diff := cmp.Diff(want, p.Requests()[1]); diff != "" {
		t.Errorf("recorded request changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(agentbox.Request{}, p.Requests()[0]); diff != "" {
		t.Errorf("recorded request mismatch (-want +got):\n%s", diff)
	}
}

func TestProviderNilRequest(t *testing.T) {
	p := NewProvider(Reply("x"))
	if _, err := Collect(p.Stream(t.Context(), nil)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]agentbox.Request{{}}, p.Requests()); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}
}

func TestProviderDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewProvider(Step{Delay: 2 * time.Second, ChunkDelay: 100 * time.Millisecond, Text: []string{"a", "b"}})
		start := time.Now()
		var at []time.Duration
		for _, err := range p.Stream(t.Context(), &agentbox.Request{}) {
			if err != nil {
				t.Fatal(err)
			}
			at = append(at, time.Since(start))
		}
		want := []time.Duration{2000 * time.Millisecond, 2100 * time.Millisecond, 2200 * time.Millisecond}
		if !cmp.Equal(at, want) {
			t.Errorf("chunks at %v, want %v", at, want)
		}
	})
}

func TestProviderDelayCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, step := range []Step{
			{Delay: 10 * time.Second, Text: []string{"a"}},
			{ChunkDelay: 10 * time.Second, Text: []string{"a", "b"}},
			{Text: []string{"a"}, Hang: true, FailAfter: 1},
			{Text: []string{"a"}, Hang: true, Err: errors.New("hang wins")},
		} {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			start := time.Now()
			_, err := streamAll(ctx, NewProvider(step))
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
				t.Errorf("%+v: error %v after %v, want context.DeadlineExceeded after 1s", step, err, time.Since(start))
			}
		}
	})
}

func TestProviderContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	chunks, err := streamAll(ctx, NewProvider(Reply("a")))
	if len(chunks) != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("a done ctx streamed %d chunks and error %v", len(chunks), err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	var got []string
	for c, err := range NewProvider(Reply("a", "b")).Stream(ctx, &agentbox.Request{}) {
		if err != nil {
			got = append(got, err.Error())
			continue
		}
		got = append(got, c.Text)
		cancel()
	}
	if want := []string{"a", "context canceled"}; !cmp.Equal(got, want) {
		t.Errorf("cancelled after the first chunk: got %q, want %q", got, want)
	}
}

func TestProviderBreak(t *testing.T) {
	for _, step := range []Step{
		Reply("a", "b"),
		{Text: []string{"a"}, Err: errors.New("x"), FailAfter: 1},
	} {
		n := 0
		for range NewProvider(step).Stream(t.Context(), &agentbox.Request{}) {
			n++
			break
		}
		if n != 1 {
			t.Errorf("%d iterations, want 1", n)
		}
	}
	// Breaking at an error: the sequence must not go on.
	for _, err := range NewProvider().Stream(t.Context(), nil) {
		if err == nil {
			t.Error("no error")
		}
		break
	}
}

func TestCollect(t *testing.T) {
	warn := errors.New("fallback")
	boom := errors.New("boom")
	usage1, usage2 := &agentbox.Usage{PromptTokens: 1}, &agentbox.Usage{PromptTokens: 2}
	chunks := []agentbox.Chunk{
		{Warning: warn},
		{Reasoning: "r1", ReasoningDetails: json.RawMessage(`[1]`)},
		{Reasoning: "r2", ReasoningDetails: json.RawMessage(`[2]`)},
		{Text: "t1", Usage: usage1},
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 3, ID: "c3", Name: "h", Arguments: "{"}, {Index: 1, ID: "c1", Name: "f"}}},
		{ToolCalls: []agentbox.ToolCallDelta{{Index: 3, Arguments: "}"}, {Index: 1, ID: "c1", Arguments: "{}"}}},
		{Text: "t2", FinishReason: agentbox.FinishToolCalls},
		{Usage: usage2},
	}
	seq := func(yield func(agentbox.Chunk, error) bool) {
		for _, c := range chunks {
			if !yield(c, nil) {
				return
			}
		}
		if yield(agentbox.Chunk{}, boom) {
			yield(agentbox.Chunk{Text: "after the error"}, nil)
		}
	}
	resp, err := Collect(seq)
	if err != boom {
		t.Errorf("error %v, want %v", err, boom)
	}
	want := Response{
		Chunks:           chunks,
		Text:             "t1t2",
		Reasoning:        "r1r2",
		ReasoningDetails: json.RawMessage(`[2]`),
		Calls:            []agentbox.ToolCall{{ID: "c1", Name: "f", Arguments: "{}"}, {ID: "c3", Name: "h", Arguments: "{}"}},
		Usage:            usage2,
		Finish:           agentbox.FinishToolCalls,
		Warnings:         []error{warn},
	}
	if diff := cmp.Diff(want, resp, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("Collect mismatch (-want +got):\n%s", diff)
	}
}
