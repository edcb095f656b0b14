package agentbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// deltaIDs and deltaNames are the IDs and tool names the fuzzed deltas draw
// from: few, so that they repeat, and one ID of the form the agent makes up
// for calls without one.
var (
	deltaIDs   = []string{"", "a", "b", "call_1_0"}
	deltaNames = []string{"", "t1", "t2", "nope"}
)

// fuzzDeltas decodes data into chunks of tool call deltas. Each delta takes a
// header byte (bits 0-1 the index, 2-3 the ID, 4-5 the name, 6 a new chunk,
// 7 four more to the index), a length byte (mod 9) and that many bytes of
// arguments.
func fuzzDeltas(data []byte) [][]ToolCallDelta {
	var chunks [][]ToolCallDelta
	for len(data) >= 2 {
		h, n := data[0], int(data[1])%9
		data = data[2:]
		n = min(n, len(data))
		d := ToolCallDelta{
			Index:     int(h&3) + 4*int(h>>7),
			ID:        deltaIDs[h>>2&3],
			Name:      deltaNames[h>>4&3],
			Arguments: string(data[:n]),
		}
		data = data[n:]
		if len(chunks) == 0 || h&0x40 != 0 {
			chunks = append(chunks, nil)
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], d)
	}
	return chunks
}

// deltaGroup is a call as the documentation of addDelta defines it: the
// deltas of one index up to one with another non-empty ID.
type deltaGroup struct {
	index         int
	firstID, id   string // the ID of the first delta, the first non-empty ID
	name, args    string
	pieces, order int
}

// groupDeltas groups deltas into calls, in the order of their first delta.
func groupDeltas(deltas []ToolCallDelta) ([]*deltaGroup, []int) {
	var groups []*deltaGroup
	owner := make([]int, len(deltas)) // the group of each delta
	for i, d := range deltas {
		g := -1
		for j, x := range groups {
			if x.index == d.Index {
				g = j
			}
		}
		if g < 0 || (d.ID != "" && groups[g].id != "" && d.ID != groups[g].id) {
			groups = append(groups, &deltaGroup{index: d.Index, firstID: d.ID, order: len(groups)})
			g = len(groups) - 1
		}
		x := groups[g]
		if x.id == "" {
			x.id = d.ID
		}
		if x.name == "" {
			x.name = d.Name
		}
		x.args += d.Arguments
		x.pieces++
		owner[i] = g
	}
	return groups, owner
}

// FuzzToolCallDeltas checks how streamed tool call deltas become calls. Fed
// to addDelta, every delta's arguments land in exactly one non-nil call,
// concatenated in order with no byte lost, grouped by index with a new call
// whenever a new non-empty ID comes at an index, each call keeping its first
// ID and name. Played by a model in a full run, the run ends with exactly
// one Done, last; the assistant's calls are those groups in index order,
// with unique non-empty IDs; each call gets exactly one ToolStart, one
// ToolResult and one tool message, in order; and the ToolInput deltas of a
// named call add up to its arguments.
func FuzzToolCallDeltas(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x14, 3, '{', '"', 'p', 0x00, 4, '"', ':', '1', '}'})    // id a, name t1, two pieces
	f.Add([]byte{0x14, 2, '{', '}', 0x18, 2, '{', '}'})                   // one index, two IDs
	f.Add([]byte{0x10, 0, 0x04, 1, '{', 0x00, 1, '}'})                    // the ID after the name
	f.Add([]byte{0x5d, 1, 'x', 0xd4, 1, 'y', 0x4e, 0, 0x01, 2, '{', '}'}) // several indices, made-up ID taken
	f.Add([]byte{0x30, 8, 0xff, 0xfe, '{', '"', 0xc3, '"', ':', '1'})     // unknown tool, invalid UTF-8
	f.Add([]byte{0x1c, 1, '[', 0x2c, 1, ']', 0x0c, 0})                    // same ID at two indices
	f.Fuzz(func(t *testing.T, data []byte) {
		chunks := fuzzDeltas(data)
		var deltas []ToolCallDelta
		for _, c := range chunks {
			deltas = append(deltas, c...)
		}
		groups, owner := groupDeltas(deltas)

		var calls []*pendingCall
		total := 0
		for i, d := range deltas {
			var c *pendingCall
			calls, c = addDelta(calls, d, math.MaxInt)
			total += len(d.Arguments)
			if c == nil || !slices.Contains(calls, c) {
				t.Fatalf("delta %d: addDelta returned %p, not one of its calls", i, c)
			}
			if want := owner[i]; len(calls) <= want || calls[want] != c {
				t.Fatalf("delta %d %+v went to call %d of %d, want call %d", i, d, slices.Index(calls, c), len(calls), want)
			}
		}
		if len(calls) != len(groups) {
			t.Fatalf("%d deltas made %d calls, want %d", len(deltas), len(calls), len(groups))
		}
		sum := 0
		for i, c := range calls {
			g := groups[i]
			if c == nil {
				t.Fatalf("call %d is nil", i)
			}
			if c.index != g.index || c.id != g.id || c.name != g.name || c.args.String() != g.args {
				t.Errorf("call %d = {%d %q %q %q}, want {%d %q %q %q}", i, c.index, c.id, c.name, c.args.String(), g.index, g.id, g.name, g.args)
			}
			sum += c.args.Len()
		}
		if sum != total {
			t.Errorf("the calls hold %d bytes of arguments, the deltas %d", sum, total)
		}

		runDeltas(t, chunks, groups)
	})
}

// scriptModel is a Provider that plays one response per request.
type scriptModel struct {
	mu    sync.Mutex
	steps [][]Chunk
}

func (p *scriptModel) Stream(ctx context.Context, _ *Request) iter.Seq2[Chunk, error] {
	return func(yield func(Chunk, error) bool) {
		p.mu.Lock()
		if len(p.steps) == 0 {
			p.mu.Unlock()
			yield(Chunk{}, errors.New("the script has no more steps"))
			return
		}
		step := p.steps[0]
		p.steps = p.steps[1:]
		p.mu.Unlock()
		for _, c := range step {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// echoTool answers with its arguments.
type echoTool string

func (t echoTool) Spec() ToolSpec {
	return ToolSpec{Name: string(t), Parameters: json.RawMessage(`{"type":"object"}`)}
}

func (t echoTool) Call(_ context.Context, _ *Env, args json.RawMessage) (string, error) {
	return string(t) + " " + string(args), nil
}

// runDeltas plays chunks as a model's first response, a reply as its
// second, and checks the run against groups.
func runDeltas(t *testing.T, chunks [][]ToolCallDelta, groups []*deltaGroup) {
	t.Helper()
	var first []Chunk
	for _, c := range chunks {
		first = append(first, Chunk{ToolCalls: c})
	}
	first = append(first, Chunk{FinishReason: FinishToolCalls})
	model := &scriptModel{steps: [][]Chunk{first, {{Text: "done"}, {FinishReason: FinishStop}}}}
	agent := New(model, Options{Tools: []Tool{echoTool("t1"), echoTool("t2")}})

	var all []Event
	for ev := range agent.Run(context.Background(), "go") {
		all = append(all, ev)
	}
	dones := 0
	for _, ev := range all {
		if _, ok := ev.(Done); ok {
			dones++
		}
	}
	if dones != 1 {
		t.Fatalf("the run sent %d Done events, want 1", dones)
	}
	done, ok := all[len(all)-1].(Done)
	if !ok {
		t.Fatalf("the last event is %T, want Done", all[len(all)-1])
	}
	if done.Err != nil || done.Reason != StopCompleted {
		t.Fatalf("Done = %s, %v; want completed", done.Reason, done.Err)
	}

	// The assistant's calls are the groups, ordered by index.
	want := slices.Clone(groups)
	slices.SortStableFunc(want, func(x, y *deltaGroup) int { return x.index - y.index })
	if len(done.Messages) < 2 || done.Messages[1].Role != RoleAssistant {
		t.Fatalf("Done.Messages = %+v; want the prompt, then the assistant", done.Messages)
	}
	msgCalls := done.Messages[1].ToolCalls
	if len(msgCalls) != len(want) {
		t.Fatalf("the assistant made %d calls, want %d", len(msgCalls), len(want))
	}
	ids := map[string]bool{}
	for i, c := range msgCalls {
		if c.ID == "" || ids[c.ID] {
			t.Errorf("call %d has ID %q: empty or used before", i, c.ID)
		}
		ids[c.ID] = true
		if c.Name != want[i].name || c.Arguments != want[i].args {
			t.Errorf("call %d = %q %q, want %q %q", i, c.Name, c.Arguments, want[i].name, want[i].args)
		}
	}
	if len(msgCalls) == 0 {
		if len(done.Messages) != 2 {
			t.Errorf("a response without calls was followed by %d messages", len(done.Messages)-2)
		}
		return
	}

	// One tool message per call, in order, then the reply.
	if len(done.Messages) != 3+len(msgCalls) {
		t.Fatalf("Done.Messages has %d messages, want %d", len(done.Messages), 3+len(msgCalls))
	}
	for i, c := range msgCalls {
		m := done.Messages[2+i]
		if m.Role != RoleTool || m.ToolCallID != c.ID {
			t.Errorf("message %d answers %q as %s, want the tool message of %q", 2+i, m.ToolCallID, m.Role, c.ID)
		}
	}

	// Events: ToolInputs add up to the arguments of named calls and come
	// before the call starts; one ToolStart and one ToolResult per call.
	inputs := map[string]*strings.Builder{}
	starts, results := map[string]int{}, map[string]int{}
	for _, ev := range all {
		switch ev := ev.(type) {
		case ToolInput:
			if !ids[ev.ID] || starts[ev.ID] > 0 {
				t.Errorf("ToolInput of call %q, unknown or already started", ev.ID)
				continue
			}
			if inputs[ev.ID] == nil {
				inputs[ev.ID] = new(strings.Builder)
			}
			inputs[ev.ID].WriteString(ev.Delta)
		case ToolStart:
			starts[ev.ID]++
		case ToolResult:
			if starts[ev.ID] == 0 {
				t.Errorf("ToolResult of call %q before its ToolStart", ev.ID)
			}
			results[ev.ID]++
		}
	}
	for _, c := range msgCalls {
		if starts[c.ID] != 1 || results[c.ID] != 1 {
			t.Errorf("call %q: %d ToolStart and %d ToolResult events, want 1 each", c.ID, starts[c.ID], results[c.ID])
		}
		in, announced := inputs[c.ID]
		switch {
		case c.Name == "" && announced:
			t.Errorf("call %q has no name but ToolInput events", c.ID)
		case c.Name != "" && !announced:
			t.Errorf("call %q of %s has no ToolInput event", c.ID, c.Name)
		case announced && in.String() != c.Arguments:
			t.Errorf("the ToolInputs of call %q add up to %q, want %q", c.ID, in.String(), c.Arguments)
		}
	}
}

// fuzzArgs are the arguments of the tool FuzzToolArguments calls.
type fuzzArgs struct {
	Name  string      `json:"name"`
	Count int         `json:"count"`
	Force bool        `json:"force,omitempty"`
	Tags  []string    `json:"tags,omitempty"`
	Opts  fuzzOptions `json:"opts"`
	Items []fuzzItem  `json:"items"`
}

type fuzzOptions struct {
	Mode  string `json:"mode"`
	Level int    `json:"level,omitempty"`
}

type fuzzItem struct {
	Path string `json:"path"`
}

// requiredKeys checks that raw, a JSON object, has every key in required and
// no key outside allowed.
func requiredKeys(raw json.RawMessage, required, allowed []string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			return fmt.Errorf("no %q in %s", k, raw)
		}
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("key %q in %s", k, raw)
		}
	}
	return nil
}

// maxQuoted bounds the error of arguments normalizeArgs rejects: what it
// quotes of them is capped to 200 bytes.
const maxQuoted = 512

// FuzzToolArguments checks the arguments a NewTool tool accepts. Arguments
// that normalizeArgs and the tool's Call accept are a JSON object with every
// required field and no other, nested ones included, whose decoded value
// marshals back to arguments the tool accepts and decodes to the same value;
// rejected arguments give an error matching ErrInvalidArguments, of at most
// maxQuoted bytes whatever the input.
func FuzzToolArguments(f *testing.F) {
	f.Add(`{"name":"a","count":1,"opts":{"mode":"m"},"items":null}`)
	f.Add(`{"name":"a","count":-3,"force":true,"tags":["x","y"],"opts":{"mode":"m","level":2},"items":[{"path":"p"}]}`)
	f.Add(``)
	f.Add(" \t\n")
	f.Add(`{}`)
	f.Add(`[1,2]`)
	f.Add(`"name"`)
	f.Add(`{"name":"a","count":1,"opts":{"mode":"m"},"items":[]} trailing`)
	f.Add(`{"name":"a","count":1.5,"opts":{"mode":"m"},"items":[]}`)
	f.Add(`{"name":"a","count":1e2,"opts":{"mode":"m"},"items":[]}`)
	f.Add(`{"name":"a","count":1,"opts":{"mode":"m","x":1},"items":[{}]}`)
	f.Add(`{"NAME":"a","count":1,"opts":{"mode":"m"},"items":null}`)
	f.Add(`{"name":5,"name":"a","count":1,"opts":{"mode":"m"},"items":null}`)
	f.Add("{\"name\":\"\xff\xfe\",\"count\":1,\"opts\":{\"mode\":\"\\ud800\"},\"items\":null}")
	f.Add(`{"name":"` + strings.Repeat("x", 600))
	f.Add(`{"name":"a","count":99999999999999999999,"opts":{"mode":"m"},"items":null}`)
	var got fuzzArgs // set by the tool; the calls of one process are sequential
	tool := NewTool("fuzz", "Takes arguments.", func(_ context.Context, _ *Env, in fuzzArgs) (string, error) {
		got = in
		return "ok", nil
	})
	f.Fuzz(func(t *testing.T, raw string) {
		got = fuzzArgs{}
		ctx := context.Background()
		args, err := normalizeArgs(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidArguments) {
				t.Fatalf("normalizeArgs(%q) = %v, not ErrInvalidArguments", raw, err)
			}
			if n := len(err.Error()); n > maxQuoted {
				t.Fatalf("normalizeArgs(%q) gave a %d-byte error: %q", raw, n, err)
			}
			return
		}
		if !json.Valid(args) || args[0] != '{' {
			t.Fatalf("normalizeArgs(%q) = %q, not a JSON object", raw, args)
		}
		out, err := tool.Call(ctx, nil, args)
		if err != nil {
			if !errors.Is(err, ErrInvalidArguments) {
				t.Fatalf("Call(%q) = %v, not ErrInvalidArguments", args, err)
			}
			if n := len(err.Error()); n > maxQuoted {
				t.Fatalf("Call(%q) gave a %d-byte error", args, n)
			}
			return
		}
		if out != "ok" {
			t.Fatalf("Call(%q) = %q, want the tool's output", args, out)
		}

		// Accepted: the schema's fields are there, and no other.
		if err := requiredKeys(args, []string{"name", "count", "opts", "items"}, []string{"name", "count", "force", "tags", "opts", "items"}); err != nil {
			t.Fatalf("Call accepted %q: %v", args, err)
		}
		var top struct {
			Opts  json.RawMessage   `json:"opts"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(args, &top); err != nil {
			t.Fatalf("Call accepted %q: %v", args, err)
		}
		if err := requiredKeys(top.Opts, []string{"mode"}, []string{"mode", "level"}); err != nil {
			t.Fatalf("Call accepted %q: opts: %v", args, err)
		}
		for _, item := range top.Items {
			if err := requiredKeys(item, []string{"path"}, []string{"path"}); err != nil {
				t.Fatalf("Call accepted %q: items: %v", args, err)
			}
		}

		// The value round-trips.
		first := got
		again, err := json.Marshal(first)
		if err != nil {
			t.Fatal(err)
		}
		got = fuzzArgs{}
		if _, err := tool.Call(ctx, nil, again); err != nil {
			t.Fatalf("Call accepted %q but not its value marshalled back, %s: %v", args, again, err)
		}
		if diff := cmp.Diff(first, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("%q decoded, marshalled and decoded again changed (-first +again):\n%s", args, diff)
		}
	})
}
