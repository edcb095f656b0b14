package agentbox

import (
	"errors"
	"reflect"
	"testing"
)

// newTestResponse is a response of step 2 whose events are appended to
// *events.
func newTestResponse(ids callIDs, maxArgs int, events *[]Event) *response {
	return &response{
		step:     2,
		model:    "m",
		maxArgs:  maxArgs,
		ids:      ids,
		emit:     func(ev Event) { *events = append(*events, ev) },
		oversize: map[string]int{},
	}
}

// TestResponseAccumulates feeds a response chunks, without a run, and checks
// the events it emits and the message it makes of them.
func TestResponseAccumulates(t *testing.T) {
	var events []Event
	ids := callIDs{"a": true} // used in an earlier step
	resp := newTestResponse(ids, 10, &events)
	chunks := []Chunk{
		{Reasoning: "hmm"},
		{Text: "Hello, "},
		{Text: "world", ToolCalls: []ToolCallDelta{{Index: 1, ID: "b", Name: "write_file", Arguments: `{"pa`}}},
		{ToolCalls: []ToolCallDelta{{Index: 0, ID: "a", Name: "read_file", Arguments: `{}`}, {Index: 1, Arguments: `th":1}`}}},
		{ToolCalls: []ToolCallDelta{{Index: 2, ID: "c", Name: "run_command", Arguments: `{"command":"much too long"}`}}},
		{Usage: &Usage{PromptTokens: 5, CompletionTokens: 7}, FinishReason: FinishToolCalls},
	}
	for _, c := range chunks {
		if err := resp.add(c); err != nil {
			t.Fatalf("add(%+v) = %v", c, err)
		}
	}
	st, err := resp.result()
	if err != nil || st.stop != nil {
		t.Fatalf("result() = %v, stop %v; want neither", err, st.stop)
	}
	wantEvents := []Event{
		Token{Step: 2, Text: "hmm", Reasoning: true},
		Token{Step: 2, Text: "Hello, "},
		Token{Step: 2, Text: "world"},
		ToolInput{Step: 2, ID: "b", Name: "write_file", Delta: `{"pa`},
		ToolInput{Step: 2, ID: "call_2_1", Name: "read_file", Delta: `{}`},
		ToolInput{Step: 2, ID: "b", Name: "write_file", Delta: `th":1}`},
		ToolInput{Step: 2, ID: "c", Name: "run_command", Delta: ``},
	}
	if !reflect.DeepEqual(events, wantEvents) {
		t.Errorf("events:\n%#v\nwant\n%#v", events, wantEvents)
	}
	want := Message{Role: RoleAssistant, Content: "Hello, world", Reasoning: "hmm", ToolCalls: []ToolCall{
		{ID: "call_2_1", Name: "read_file", Arguments: `{}`},
		{ID: "b", Name: "write_file", Arguments: `{"path":1}`},
		{ID: "c", Name: "run_command", Arguments: `{"refused":"27 bytes of arguments"}`},
	}}
	if !reflect.DeepEqual(st.message, want) {
		t.Errorf("message:\n%+v\nwant\n%+v", st.message, want)
	}
	if st.usage.PromptTokens != 5 || st.usage.CompletionTokens != 7 {
		t.Errorf("usage = %+v", st.usage)
	}
	if !reflect.DeepEqual(resp.oversize, map[string]int{"c": 27}) {
		t.Errorf("oversize = %v; want c: 27", resp.oversize)
	}
	for _, id := range []string{"a", "b", "c", "call_2_1"} {
		if !ids[id] {
			t.Errorf("ID %q not recorded as used", id)
		}
	}
}

// TestResponseFinish checks how a response is judged by its finish reason.
func TestResponseFinish(t *testing.T) {
	for _, tc := range []struct {
		finish FinishReason
		calls  bool
		err    ErrorKind // the response is dropped
		stop   ErrorKind // the response is kept, but ends the run
	}{
		{finish: FinishStop},
		{finish: FinishToolCalls, calls: true},
		{finish: FinishLength, calls: true},
		{finish: "", err: KindTruncated},
		{finish: FinishError, err: KindMidStream},
		{finish: FinishLength, stop: KindTruncated},
		{finish: FinishContentFilter, stop: KindModeration},
	} {
		var events []Event
		resp := newTestResponse(callIDs{}, 100, &events)
		c := Chunk{Text: "text", FinishReason: tc.finish}
		if tc.calls {
			c.ToolCalls = []ToolCallDelta{{ID: "x", Name: "t", Arguments: "{}"}}
		}
		if err := resp.add(c); err != nil {
			t.Fatal(err)
		}
		st, err := resp.result()
		for _, x := range []struct {
			what string
			err  error
			kind ErrorKind
		}{{"error", err, tc.err}, {"stop", st.stop, tc.stop}} {
			var pe *ProviderError
			switch {
			case x.kind == "" && x.err != nil:
				t.Errorf("finish %q, calls %v: %s %v; want none", tc.finish, tc.calls, x.what, x.err)
			case x.kind != "" && (!errors.As(x.err, &pe) || pe.Kind != x.kind):
				t.Errorf("finish %q: %s %v; want kind %s", tc.finish, x.what, x.err, x.kind)
			}
		}
	}
}

// TestResponseTooLong checks that text past the limit ends the response.
func TestResponseTooLong(t *testing.T) {
	var events []Event
	resp := newTestResponse(callIDs{}, 100, &events)
	resp.text.Grow(maxResponseText)
	resp.text.WriteString(string(make([]byte, maxResponseText)))
	var pe *ProviderError
	if err := resp.add(Chunk{Text: "x"}); !errors.As(err, &pe) || pe.Kind != KindTruncated {
		t.Errorf("add past the limit = %v; want a %s ProviderError", err, KindTruncated)
	}
	if len(events) != 0 {
		t.Errorf("events %v; want none", events)
	}
}
