package agentbox

import (
	"context"
	"fmt"
)

// A Toolset is a group of tools that may change while the agent runs, such
// as the tools of an MCP server. Before each model request a run asks every
// toolset of Options.Toolsets for its tools, and offers the model those
// with the agent's own; the calls of a response run with the tools offered
// for it. An error is reported as a non-fatal [Error] event, and the tools
// returned with it are offered all the same. Tools must return soon after
// ctx is done.
type Toolset interface {
	Tools(ctx context.Context) ([]Tool, error)
}

// toolTable is the tools a model request offers: by name, and their specs
// in order.
type toolTable struct {
	byName map[string]Tool
	specs  []ToolSpec
}

// refreshTools sets the tools of the next model request: the agent's, and
// its toolsets' as they are now. Problems — a toolset's error, a tool whose
// name is invalid or taken — are reported once each as non-fatal Errors;
// such tools are left out.
func (r *run) refreshTools(ctx context.Context) {
	a := r.agent
	if len(a.opts.Toolsets) == 0 {
		return
	}
	t := toolTable{byName: make(map[string]Tool, len(a.tools)), specs: append([]ToolSpec(nil), a.specs...)}
	for name, tool := range a.tools {
		t.byName[name] = tool
	}
	for i, set := range a.opts.Toolsets {
		tools, err := toolsOf(ctx, set)
		if err != nil && ctx.Err() == nil {
			r.warnOnce(ctx, fmt.Errorf("toolset %d: %w", i, err))
		}
		for _, tool := range tools {
			spec := tool.Spec()
			switch {
			case !toolNameRE.MatchString(spec.Name):
				r.warnOnce(ctx, fmt.Errorf("toolset %d: tool name %q: want 1 to 64 letters, digits, '_' or '-'; the tool is left out", i, capText(spec.Name, 100)))
			case t.byName[spec.Name] != nil:
				r.warnOnce(ctx, fmt.Errorf("toolset %d: a tool named %q is there already; this one is left out", i, spec.Name))
			default:
				t.byName[spec.Name] = tool
				t.specs = append(t.specs, spec)
			}
		}
	}
	r.tools = t
}

// warnOnce sends err as a non-fatal Error unless the run sent one of the
// same text already.
func (r *run) warnOnce(ctx context.Context, err error) {
	if r.warned == nil {
		r.warned = map[string]bool{}
	}
	if msg := err.Error(); !r.warned[msg] {
		r.warned[msg] = true
		r.send(ctx, Error{Err: err})
	}
}

// toolsOf returns set's tools, turning a panic into an error.
func toolsOf(ctx context.Context, set Toolset) (tools []Tool, err error) {
	defer func() {
		if v := recover(); v != nil {
			tools, err = nil, fmt.Errorf("Tools panicked: %v", v)
		}
	}()
	return set.Tools(ctx)
}
