package agentbox_test

import (
	"context"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// collect receives every event of a run and checks the channel's contract:
// exactly one Done, last, then the channel closes.
func collect(t *testing.T, events <-chan agentbox.Event) ([]agentbox.Event, agentbox.Done) {
	t.Helper()
	var all []agentbox.Event
	for ev := range events {
		all = append(all, ev)
	}
	return all, checkDone(t, all)
}

func checkDone(t *testing.T, all []agentbox.Event) agentbox.Done {
	t.Helper()
	dones := 0
	for _, ev := range all {
		if _, ok := ev.(agentbox.Done); ok {
			dones++
		}
	}
	if dones != 1 {
		t.Fatalf("got %d Done events, want exactly 1", dones)
	}
	done, ok := all[len(all)-1].(agentbox.Done)
	if !ok {
		t.Fatalf("last event is %T, want Done", all[len(all)-1])
	}
	return done
}

// of returns the events of type E, in order.
func of[E agentbox.Event](all []agentbox.Event) []E {
	var out []E
	for _, ev := range all {
		if e, ok := ev.(E); ok {
			out = append(out, e)
		}
	}
	return out
}

// call is a scripted tool call.
func call(id, name, args string) agentboxtest.Call {
	return agentboxtest.Call{ID: id, Name: name, Args: args, Split: 5}
}

// calls returns a step that calls the tools.
func calls(c ...agentboxtest.Call) agentboxtest.Step {
	return agentboxtest.Step{Calls: c}
}

// runTools runs one step of tool calls on sb and a closing reply, and returns
// the run's events.
func runTools(t *testing.T, sb agentbox.Sandbox, opts agentbox.Options, c ...agentboxtest.Call) ([]agentbox.Event, agentbox.Done) {
	t.Helper()
	p := agentboxtest.NewProvider(calls(c...), agentboxtest.Reply("done"))
	opts.Sandbox = sb
	return collect(t, agentbox.New(p, opts).Run(context.Background(), "go"))
}

// result returns the ToolResult of the call with the given ID.
func result(t *testing.T, all []agentbox.Event, id string) agentbox.ToolResult {
	t.Helper()
	for _, r := range of[agentbox.ToolResult](all) {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no ToolResult for call %q", id)
	return agentbox.ToolResult{}
}
