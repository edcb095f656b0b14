package uistream_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/uistream"
)

// fuzzEvents reads events from fuzz data.
type fuzzEvents struct{ data []byte }

func (r *fuzzEvents) byte() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

// text returns up to 15 bytes of the data, as many as the next byte says.
func (r *fuzzEvents) text() string {
	n := min(int(r.byte()%16), len(r.data))
	s := string(r.data[:n])
	r.data = r.data[n:]
	return s
}

func (r *fuzzEvents) step() int { return 1 + int(r.byte()%4) }

func (r *fuzzEvents) id() string { return []string{"c1", "c2", "c3", ""}[r.byte()%4] }

func (r *fuzzEvents) err() error {
	if s := r.text(); s != "" {
		return errors.New(s)
	}
	return nil
}

// args returns a ToolStart's arguments: none, an object, or raw text.
func (r *fuzzEvents) args() json.RawMessage {
	switch r.byte() % 3 {
	case 0:
		return nil
	case 1:
		obj, _ := json.Marshal(map[string]string{"k": r.text()})
		return obj
	default:
		return json.RawMessage(r.text())
	}
}

func (r *fuzzEvents) event() agentbox.Event {
	switch r.byte() % 11 {
	case 0, 1:
		return agentbox.Token{Step: r.step(), Reasoning: r.byte()&1 == 1, Text: r.text()}
	case 2:
		return agentbox.ToolInput{Step: r.step(), ID: r.id(), Name: r.text(), Delta: r.text()}
	case 3:
		return agentbox.ToolStart{Step: r.step(), ID: r.id(), Name: r.text(), Args: r.args()}
	case 4:
		return agentbox.ToolOutput{Step: r.step(), ID: r.id(), Stream: []string{"stdout", "stderr"}[r.byte()%2], Text: r.text()}
	case 5:
		return agentbox.Preview{Step: r.step(), ID: r.id(), Port: int(r.byte()) * 100, URL: r.text()}
	case 6:
		return agentbox.ToolResult{Step: r.step(), ID: r.id(), Name: r.text(), Output: r.text(), Err: r.err()}
	case 7:
		return agentbox.Error{Err: r.err(), Fatal: r.byte()&1 == 1}
	case 8:
		return agentbox.Done{Reason: agentbox.StopReason(r.text()), Steps: int(r.byte()), Err: r.err(), Usage: agentbox.Usage{PromptTokens: int64(r.byte())}}
	case 9:
		return agentbox.ApprovalRequest{Step: r.step(), ID: r.id(), Name: r.text(), Args: r.args()}
	default:
		ev := agentbox.ToolResult{Step: r.step(), ID: r.id(), Name: r.text(), Output: r.text()}
		kind := []error{errors.New("failed"), agentbox.ErrInvalidArguments, agentbox.ErrUnknownTool, agentbox.ErrDenied}[r.byte()%4]
		ev.Err = fmt.Errorf("%w: %s", kind, r.text())
		return ev
	}
}

// deniedOutput stands for the output of a denied call, which
// tool-output-denied does not say.
const deniedOutput = "(denied)"

// asJSON is s as it reads after a trip through JSON: invalid bytes become
// U+FFFD.
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// FuzzEncoder checks the streams an Encoder writes for any sequence of
// events, in any order, with steps going back and unknown call IDs. The
// stream is one a client accepts (see parseStream), still going when the
// events hold no Done, and complete once the Done, or else Fail, ends it;
// nothing follows the Done, and Fail then writes nothing. The text and
// reasoning deltas add up to the tokens' text; each call with a ToolResult
// gets one output, its first result's Output (a tool-input-error's
// errorText for an invalid call); input is the ToolStart's arguments when
// they are JSON and came first, else the text of the input deltas before
// (tool-input-available and tool-input-error agree); streamed output of a call is
// at most MaxToolOutput bytes; and finish says "error" exactly when the Done
// had an error, with the Done's steps.
func FuzzEncoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'h', 'i', '!', 1, 0, 1, 2, 'o', 'k', 8, 0, 0, 0, 0})
	f.Add([]byte{9, 2, 1, 0, 4, 'r', 'e', 'a', 'd', 3, '{', '"', '}', 3, 1, 0, 0, 1, 1, 'x', 4, 1, 0, 0, 8, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'})
	f.Add([]byte{1, 3, 2, 1, 2, 'w', 'r', 6, 0, 0, 0, 2, 'o', 'k', 0, 2, 0, 1, 'y', 1, 'x', 0, 1, 'z'})
	f.Add([]byte{0, 7, 3, 'o', 'o', 'p', 1, 9, 3, 1, 1, 1, 'n', 1, 'o', 1, 'e', 8, 1, 'x', 3, 2, 'b', 'a', 'd', 0})
	f.Add([]byte{5, 0, 0, 2, 0xff, 0xfe, 0, 0, 1, 3, 0xe6, 0x97, 0xa5, 0, 3, 1, 1, 0xc3, 3, 2, 0, 0, 2, 2, '[', '1'})
	f.Add([]byte{3, 4, 2, 0, 0, 15, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 4, 2, 0, 1, 4, 'p', 'q', 'r', 's', 6, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzEvents{data: data}
		limit := 0
		if b := r.byte(); b&1 == 1 {
			limit = 1 + int(b>>1)%24
		}
		var events []agentbox.Event
		for n := 0; len(r.data) > 0 && n < 64; n++ {
			events = append(events, r.event())
		}

		var buf bytes.Buffer
		enc := uistream.NewEncoder(&buf, "msg-1")
		enc.MaxToolOutput = limit
		var done *agentbox.Done
		for _, ev := range events {
			before := buf.Len()
			if err := enc.Encode(ev); err != nil {
				t.Fatalf("Encode(%#v): %v", ev, err)
			}
			if done != nil {
				if buf.Len() != before {
					t.Fatalf("Encode(%#v) after the Done wrote %q", ev, buf.String()[before:])
				}
				continue
			}
			if d, ok := ev.(agentbox.Done); ok {
				done = &d
			}
		}
		if done == nil {
			if _, err := parseStream(buf.String(), false); err != nil {
				t.Fatalf("%v\nevents: %#v\nstream:\n%s", err, events, buf.String())
			}
		}
		ended := buf.Len()
		if err := enc.Fail(errors.New("the run could not go on")); err != nil {
			t.Fatal(err)
		}
		if done != nil && buf.Len() != ended {
			t.Fatalf("Fail after the Done wrote %q", buf.String()[ended:])
		}
		cs, err := parseStream(buf.String(), true)
		if err != nil {
			t.Fatalf("%v\nevents: %#v\nstream:\n%s", err, events, buf.String())
		}

		// What the chunks say, against the events encoded.
		var text, reasoning, wantText, wantReasoning strings.Builder
		outputs := map[string][]string{}
		inputs := map[string][]any{}
		inputErrors := map[string]bool{}
		streamed := map[string]int{}
		for _, c := range cs {
			call, _ := c["toolCallId"].(string)
			switch c["type"] {
			case "text-delta":
				text.WriteString(c["delta"].(string))
			case "reasoning-delta":
				reasoning.WriteString(c["delta"].(string))
			case "tool-output-available":
				outputs[call] = append(outputs[call], c["output"].(string))
			case "tool-output-error":
				outputs[call] = append(outputs[call], c["errorText"].(string))
			case "tool-input-error":
				outputs[call] = append(outputs[call], c["errorText"].(string))
				inputs[call] = append(inputs[call], c["input"])
				inputErrors[call] = true
			case "tool-input-available":
				inputs[call] = append(inputs[call], c["input"])
			case "tool-output-denied":
				outputs[call] = append(outputs[call], deniedOutput)
			case "data-tool-output":
				d := c["data"].(map[string]any)
				if s := d["text"].(string); !strings.HasSuffix(s, " bytes of output not shown]\n") {
					streamed[d["toolCallId"].(string)] += len(s)
				}
			}
		}
		results := map[string]string{}
		invalid := map[string]bool{} // calls whose first result was an input error
		firstInput := map[string]any{}
		raw := map[string]string{} // input deltas until the input is known
		validOutput := map[string]bool{}
		for _, ev := range events {
			if _, ok := ev.(agentbox.Done); ok {
				break
			}
			switch ev := ev.(type) {
			case agentbox.Token:
				if ev.Reasoning {
					wantReasoning.WriteString(asJSON(ev.Text))
				} else {
					wantText.WriteString(asJSON(ev.Text))
				}
			case agentbox.ToolInput:
				if _, ok := firstInput[ev.ID]; !ok {
					raw[ev.ID] += ev.Delta
				}
			case agentbox.ApprovalRequest:
				if _, ok := firstInput[ev.ID]; !ok && results[ev.ID] == "" {
					var v any
					if json.Unmarshal(ev.Args, &v) != nil {
						v = asJSON(raw[ev.ID])
					}
					firstInput[ev.ID] = v
				}
			case agentbox.ToolStart:
				if _, ok := firstInput[ev.ID]; !ok {
					var v any
					if json.Unmarshal(ev.Args, &v) != nil {
						v = asJSON(raw[ev.ID])
					}
					firstInput[ev.ID] = v
				}
			case agentbox.ToolOutput:
				if _, ok := validOutput[ev.ID]; !ok {
					validOutput[ev.ID] = true
				}
				validOutput[ev.ID] = validOutput[ev.ID] && utf8.ValidString(ev.Text)
			case agentbox.ToolResult:
				if _, ok := firstInput[ev.ID]; !ok {
					firstInput[ev.ID] = asJSON(raw[ev.ID])
				}
				if _, ok := results[ev.ID]; !ok {
					results[ev.ID] = asJSON(ev.Output)
					invalid[ev.ID] = errors.Is(ev.Err, agentbox.ErrInvalidArguments) || errors.Is(ev.Err, agentbox.ErrUnknownTool)
					if !invalid[ev.ID] && errors.Is(ev.Err, agentbox.ErrDenied) {
						results[ev.ID] = deniedOutput
					}
				}
			}
		}
		if text.String() != wantText.String() || reasoning.String() != wantReasoning.String() {
			t.Errorf("the deltas say %q and reasoning %q; the tokens %q and %q", text.String(), reasoning.String(), wantText.String(), wantReasoning.String())
		}
		for id, want := range results {
			if got := outputs[id]; len(got) != 1 || got[0] != want {
				t.Errorf("call %q has outputs %q, want one, %q", id, got, want)
			}
		}
		for id, got := range outputs {
			if _, ok := results[id]; !ok {
				t.Errorf("call %q has outputs %q but no ToolResult", id, got)
			}
		}
		for id, got := range inputs {
			for _, in := range got {
				if !reflect.DeepEqual(in, firstInput[id]) {
					t.Errorf("call %q has input %#v, want %#v", id, got, firstInput[id])
					break
				}
			}
		}
		for id := range results {
			if inputErrors[id] != invalid[id] {
				t.Errorf("call %q: tool-input-error %v, want it %v", id, inputErrors[id], invalid[id])
			}
		}
		capped := limit
		if capped == 0 {
			capped = 1 << 20
		}
		for id, n := range streamed {
			if validOutput[id] && n > capped {
				t.Errorf("call %q streamed %d bytes of output, more than MaxToolOutput %d", id, n, capped)
			}
		}
		finish := cs[len(cs)-1]
		meta, _ := finish["messageMetadata"].(map[string]any)
		wantReason := "error"
		if done != nil {
			switch {
			case done.Err == nil && done.Reason == agentbox.StopApproval:
				wantReason = "tool-calls"
			case done.Err == nil:
				wantReason = "stop"
			}
			if meta["steps"] != float64(done.Steps) {
				t.Errorf("finish says %v steps, the Done %d", meta["steps"], done.Steps)
			}
		}
		if finish["finishReason"] != wantReason {
			t.Errorf("finishReason %v, want %s", finish["finishReason"], wantReason)
		}
	})
}
