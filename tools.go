package agentbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"
)

// A Tool is something the model can call.
//
// Call gets the arguments as a JSON object (never empty: a call without
// arguments gets "{}") and returns the text the model reads. An error is
// reported to the model as well, so that it can repair its call; it does not
// end the run. Call must return soon after ctx is done.
type Tool interface {
	Spec() ToolSpec
	Call(ctx context.Context, env *Env, args json.RawMessage) (string, error)
}

// An ExclusiveTool is a [Tool] whose calls must not overlap others of the
// same step: calls before it finish first and calls after it wait for it.
// Tools that change the sandbox (writing files, running commands) are
// exclusive, so that "write, then run" in one response behaves as written;
// the others of a step run concurrently.
type ExclusiveTool interface {
	Tool
	Exclusive() bool
}

// Exclusive returns t marked as an [ExclusiveTool].
func Exclusive(t Tool) Tool { return exclusive{t} }

type exclusive struct{ Tool }

func (exclusive) Exclusive() bool { return true }

func isExclusive(t Tool) bool {
	x, ok := t.(ExclusiveTool)
	return ok && x.Exclusive()
}

// BuiltinTools returns new instances of the tools a coding agent needs:
// write_file, read_file, list_files, edit_file, run_command, start_process
// and stop_process. They work on every [Sandbox]; start_process and
// stop_process need a [ProcessStarter] and preview URLs a [Previewer], and
// tell the model so when the sandbox lacks them.
func BuiltinTools() []Tool {
	return []Tool{
		writeFileTool(), readFileTool(), listFilesTool(), editFileTool(),
		runCommandTool(), startProcessTool(), stopProcessTool(),
	}
}

// Env is what a tool call gets from the run: the sandbox, and writers that
// stream output to the caller as [ToolOutput] events.
type Env struct {
	step    int
	id      string
	limit   int // Options.MaxToolOutput
	sandbox func(context.Context) (Sandbox, error)
	emit    func(Event)

	mu     sync.Mutex
	closed bool // the call returned: output written now is dropped
}

// CallID is the ID of the tool call.
func (e *Env) CallID() string { return e.id }

// Sandbox returns the run's sandbox, waiting for it to open if the run is
// still opening it. The error matches [ErrNoSandbox] when the agent has none.
func (e *Env) Sandbox(ctx context.Context) (Sandbox, error) {
	if e.sandbox == nil {
		return nil, ErrNoSandbox
	}
	return e.sandbox(ctx)
}

// Stdout returns a writer whose writes reach the caller as [ToolOutput]
// events of stream "stdout".
func (e *Env) Stdout() io.Writer { return outputWriter{e, "stdout"} }

// Stderr is like Stdout, for stream "stderr".
func (e *Env) Stderr() io.Writer { return outputWriter{e, "stderr"} }

// Preview tells the caller that port answers at url, with a [Preview]
// event. Like output, it is dropped once the call has returned.
func (e *Env) Preview(port int, url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed && e.emit != nil {
		e.emit(Preview{Step: e.step, ID: e.id, Port: port, URL: url})
	}
}

type outputWriter struct {
	env    *Env
	stream string
}

// Write streams p unless the call has returned: output that comes later (from
// a goroutine the tool left behind, say) would follow the call's ToolResult,
// or even the run's Done.
func (w outputWriter) Write(p []byte) (int, error) {
	e := w.env
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(p) > 0 && !e.closed && e.emit != nil {
		e.emit(ToolOutput{Step: e.step, ID: e.id, Stream: w.stream, Text: string(p)})
	}
	return len(p), nil
}

// close ends the call's streaming.
func (e *Env) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
}

// outputLimit is how much output a tool keeps for the model, leaving room
// within Options.MaxToolOutput for a line or two of its own.
func (e *Env) outputLimit() int {
	return max(e.limit-256, e.limit/2)
}

// NewTool returns a [Tool] whose arguments are a JSON object decoded into In,
// a struct type. The schema the model sees is derived from In: exported
// fields by their json names, required unless tagged omitempty or omitzero,
// described by their `jsonschema:"..."` tags, no other properties allowed.
// Arguments are checked against that schema before fn is called, and a
// mismatch is returned to the model as an error naming what is wrong.
//
// NewTool panics if In has no JSON Schema (a channel or function field, for
// instance): that is a programming error, found on the first run of the code.
func NewTool[In any](name, description string, fn func(ctx context.Context, env *Env, in In) (string, error)) Tool {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("agentbox.NewTool %q: %v", name, err))
	}
	return newTypedTool(name, description, schema, fn)
}

func newTypedTool[In any](name, description string, schema *jsonschema.Schema, fn func(context.Context, *Env, In) (string, error)) *typedTool[In] {
	resolved, err := schema.Resolve(nil)
	if err != nil {
		panic(fmt.Sprintf("agentbox.NewTool %q: %v", name, err))
	}
	params, err := json.Marshal(schema)
	if err != nil {
		panic(fmt.Sprintf("agentbox.NewTool %q: %v", name, err))
	}
	return &typedTool[In]{
		spec:     ToolSpec{Name: name, Description: description, Parameters: params},
		resolved: resolved,
		fn:       fn,
	}
}

type typedTool[In any] struct {
	spec     ToolSpec
	resolved *jsonschema.Resolved
	fn       func(context.Context, *Env, In) (string, error)
}

func (t *typedTool[In]) Spec() ToolSpec { return t.spec }

func (t *typedTool[In]) Call(ctx context.Context, env *Env, args json.RawMessage) (string, error) {
	in, err := decodeArgs[In](t.resolved, args)
	if err != nil {
		return "", err
	}
	return t.fn(ctx, env, in)
}

// ErrInvalidArguments is matched by the error a tool returns when the
// model's arguments are not JSON or do not fit the tool's schema.
var ErrInvalidArguments = errors.New("invalid arguments")

// maxArgumentError is the most bytes of a schema or decoding error that an
// invalid arguments error quotes.
const maxArgumentError = 400

// decodeArgs checks args against the schema and decodes them into In.
func decodeArgs[In any](resolved *jsonschema.Resolved, args json.RawMessage) (In, error) {
	var in In
	var generic any
	if err := json.Unmarshal(args, &generic); err != nil {
		return in, fmt.Errorf("%w: not valid JSON: %s", ErrInvalidArguments, capText(err.Error(), maxArgumentError))
	}
	// The errors quote the model's values and names: capped, as they go
	// back to the model and out in events.
	if err := resolved.Validate(generic); err != nil {
		return in, fmt.Errorf("%w: %s", ErrInvalidArguments, capText(err.Error(), maxArgumentError))
	}
	if err := json.Unmarshal(args, &in); err != nil {
		return in, fmt.Errorf("%w: %s", ErrInvalidArguments, capText(err.Error(), maxArgumentError))
	}
	return in, nil
}
