package agentbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
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
// write_file, read_file, list_files, edit_file, run_command, start_process,
// stop_process and process_output. They work on every [Sandbox];
// start_process, stop_process and process_output need a [ProcessStarter]
// (process_output's arguments: see [ProcessLogBytes]) and preview URLs a [Previewer], and
// tell the model so when the sandbox lacks them.
//
// Each tool's arguments, and the text it returns, are documented on its
// argument type ([WriteFileArgs], [ReadFileArgs], [ListFilesArgs],
// [EditFileArgs], [RunCommandArgs], [StartProcessArgs], [StopProcessArgs]),
// into which a [ToolStart]'s Args decode; its JSON Schema, which the model
// sees, is in its Spec().Parameters.
func BuiltinTools() []Tool {
	return []Tool{
		writeFileTool(), readFileTool(), listFilesTool(), editFileTool(),
		runCommandTool(), startProcessTool(), stopProcessTool(), processOutputTool(),
	}
}

// Env is what a tool call gets from the run: the sandbox, and writers that
// stream output to the caller as [ToolOutput] events.
type Env struct {
	step    int
	id      string
	limit   int // Options.MaxToolResult
	sandbox func(context.Context) (Sandbox, error)
	emit    func(Event)

	mu     sync.Mutex
	closed bool        // the call returned: output written now is dropped
	exit   *Exit       // set by SetExit
	out    outputBatch // output not yet sent as ToolOutput events (output.go)
}

// SetExit records how the command the call ran ended; the call's
// [ToolResult] carries it as Exit. A tool that runs a command calls it once
// the command has ended, whatever the text it returns says; a later call
// replaces an earlier one, and a call after the tool returned is ignored.
func (e *Env) SetExit(x Exit) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.exit = &x
	}
}

// result returns what SetExit recorded, or nil.
func (e *Env) result() *Exit {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.exit
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
// events of stream "stdout", gathered into events of up to [OutputBatchBytes]
// sent within [OutputBatchDelay], and all before the call's [ToolResult].
func (e *Env) Stdout() io.Writer { return outputWriter{e, "stdout"} }

// Stderr is like Stdout, for stream "stderr".
func (e *Env) Stderr() io.Writer { return outputWriter{e, "stderr"} }

// Preview tells the caller that port answers at url, with a [Preview]
// event. Like output, it is dropped once the call has returned.
func (e *Env) Preview(port int, url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed && e.emit != nil {
		e.out.flush(e)
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
		e.out.add(e, w.stream, p)
	}
	return len(p), nil
}

// close ends the call's streaming.
func (e *Env) close() {
	e.mu.Lock()
	e.out.end(e)
	e.closed = true
	e.mu.Unlock()
}

// outputLimit is how much output a tool keeps for the model, leaving room
// within Options.MaxToolResult for a line or two of its own.
func (e *Env) outputLimit() int {
	return max(e.limit-256, e.limit/2)
}

// NewTool returns a [Tool] whose arguments are a JSON object decoded into In,
// a struct type (or a map with string keys). The schema the model sees is
// derived from In: exported fields by their json names, required unless
// tagged omitempty or omitzero, described by their `jsonschema:"..."` tags,
// no other properties allowed. A jsonschema tag is only a description:
// keywords such as enum, minimum, pattern or default are added with
// [EditSchema], and a schema written by hand is given to
// [NewToolWithSchema].
//
// Arguments are checked against the schema before fn is called, and when
// they do not fit, the model gets an error matching [ErrInvalidArguments]
// that names every problem found and where it is (up to a dozen), such as
// `files[0]: missing required property "content"`. Properties left out that
// have a default in the schema get it before the arguments are decoded.
//
// NewTool panics when the schema cannot be made or used: In has no JSON
// Schema (a channel or function field, for instance), a jsonschema tag is
// not a plain description, an edit made it invalid, or it does not describe
// a JSON object, as a tool's arguments always are (NewTool[string], say).
// Those are programming errors, found on the first run of the code.
func NewTool[In any](name, description string, fn func(ctx context.Context, env *Env, in In) (string, error), opts ...ToolOption) Tool {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		hint := ""
		if strings.Contains(err.Error(), "tag must not begin with") {
			hint = " (a jsonschema tag is only a description: add keywords with agentbox.EditSchema)"
		}
		panic(fmt.Sprintf("agentbox.NewTool %q: %v%s", name, err, hint))
	}
	for _, opt := range opts {
		opt.edit(schema)
	}
	t, err := newTool(name, description, schema, fn)
	if err != nil {
		panic(fmt.Sprintf("agentbox.NewTool %q: %v", name, err))
	}
	return t
}

// NewToolWithSchema returns a [Tool] whose arguments must fit schema, a JSON
// Schema (draft 2020-12 or draft-07) written by hand or loaded from a file,
// and are then decoded into In: a struct, a map with string keys, or
// [json.RawMessage] to get them as the model wrote them. Arguments are
// checked, and defaults applied, as [NewTool] does. The tool keeps schema:
// do not change it afterwards.
//
// The error says why the schema cannot be used: it is invalid, it does not
// describe a JSON object (its type must be "object"), or In cannot hold one.
func NewToolWithSchema[In any](name, description string, schema *jsonschema.Schema, fn func(ctx context.Context, env *Env, in In) (string, error)) (Tool, error) {
	if schema == nil {
		return nil, fmt.Errorf("agentbox.NewToolWithSchema %q: the schema is nil", name)
	}
	if err := holdsObject(reflect.TypeFor[In]()); err != nil {
		return nil, fmt.Errorf("agentbox.NewToolWithSchema %q: %w", name, err)
	}
	t, err := newTool(name, description, schema, fn)
	if err != nil {
		return nil, fmt.Errorf("agentbox.NewToolWithSchema %q: %w", name, err)
	}
	return t, nil
}

// A ToolOption changes a tool [NewTool] makes.
type ToolOption struct {
	edit func(*jsonschema.Schema)
}

// EditSchema returns an option that lets edit change the schema NewTool
// derived from the argument type before the tool uses it: to add enum,
// minimum, maximum, pattern, default or examples to a property, or items
// bounds to a list, say.
func EditSchema(edit func(s *jsonschema.Schema)) ToolOption {
	return ToolOption{edit: edit}
}

// holdsObject returns an error when json.Unmarshal cannot decode a JSON
// object into a value of type t.
func holdsObject(t reflect.Type) error {
	if t == reflect.TypeFor[json.RawMessage]() {
		return nil
	}
	u := t
	for u.Kind() == reflect.Pointer {
		u = u.Elem()
	}
	switch {
	case u.Kind() == reflect.Struct, u.Kind() == reflect.Interface,
		u.Kind() == reflect.Map && u.Key().Kind() == reflect.String:
		return nil
	}
	return fmt.Errorf("the arguments are a JSON object, which a %s cannot hold: use a struct, a map with string keys or json.RawMessage", t)
}

// objectSchema returns an error unless s describes a JSON object and
// nothing else (null aside, which arguments never are).
func objectSchema(s *jsonschema.Schema) error {
	types := s.Types
	if s.Type != "" {
		types = []string{s.Type}
	}
	if slices.Contains(types, "object") && !slices.ContainsFunc(types, func(t string) bool { return t != "object" && t != "null" }) {
		return nil
	}
	b, _ := json.Marshal(s)
	return fmt.Errorf("the schema must have type \"object\", as a tool's arguments are a JSON object; it is %s", capText(string(b), 200))
}

// newTool returns a tool checking its arguments against schema.
func newTool[In any](name, description string, schema *jsonschema.Schema, fn func(context.Context, *Env, In) (string, error)) (*typedTool[In], error) {
	if err := objectSchema(schema); err != nil {
		return nil, err
	}
	resolved, err := schema.Resolve(&jsonschema.ResolveOptions{ValidateDefaults: true})
	if err != nil {
		return nil, fmt.Errorf("invalid schema: %w", err)
	}
	params, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("invalid schema: %w", err)
	}
	return &typedTool[In]{
		spec:     ToolSpec{Name: name, Description: description, Parameters: params},
		resolved: resolved,
		checker:  newArgsChecker(schema, resolved),
		defaults: hasDefaults(schema),
		fn:       fn,
	}, nil
}

// newTypedTool is newTool for the built-in tools, whose schemas are known
// to be good.
func newTypedTool[In any](name, description string, schema *jsonschema.Schema, fn func(context.Context, *Env, In) (string, error)) *typedTool[In] {
	t, err := newTool(name, description, schema, fn)
	if err != nil {
		panic(fmt.Sprintf("agentbox.NewTool %q: %v", name, err))
	}
	return t
}

// hasDefaults reports whether a property of s has a default.
func hasDefaults(s *jsonschema.Schema) bool {
	for _, p := range s.Properties {
		if p != nil && p.Default != nil {
			return true
		}
	}
	return false
}

type typedTool[In any] struct {
	spec     ToolSpec
	resolved *jsonschema.Resolved
	checker  *argsChecker
	defaults bool // properties have defaults to apply
	fn       func(context.Context, *Env, In) (string, error)
}

func (t *typedTool[In]) Spec() ToolSpec { return t.spec }

func (t *typedTool[In]) Call(ctx context.Context, env *Env, args json.RawMessage) (string, error) {
	in, err := t.decode(args)
	if err != nil {
		return "", err
	}
	return t.fn(ctx, env, in)
}

// ErrInvalidArguments is matched by the error a tool returns when the
// model's arguments are not JSON or do not fit the tool's schema.
var ErrInvalidArguments = errors.New("invalid arguments")

// maxArgumentError is the most bytes of a decoding error that an invalid
// arguments error quotes.
const maxArgumentError = 400

// decode checks args against the schema, applies its defaults and decodes
// them into In.
func (t *typedTool[In]) decode(args json.RawMessage) (In, error) {
	var in In
	var generic any
	if err := json.Unmarshal(args, &generic); err != nil {
		return in, fmt.Errorf("%w: not valid JSON: %s", ErrInvalidArguments, capText(err.Error(), maxArgumentError))
	}
	if err := t.checker.check(generic); err != nil {
		return in, err
	}
	if t.defaults {
		if err := t.resolved.ApplyDefaults(&generic); err != nil {
			return in, fmt.Errorf("%w: %s", ErrInvalidArguments, capText(err.Error(), maxArgumentError))
		}
		var err error
		if args, err = json.Marshal(generic); err != nil {
			return in, fmt.Errorf("%w: %s", ErrInvalidArguments, capText(err.Error(), maxArgumentError))
		}
	}
	// The errors quote the model's values and names: capped, as they go
	// back to the model and out in events.
	if err := json.Unmarshal(args, &in); err != nil {
		return in, fmt.Errorf("%w: %s", ErrInvalidArguments, capText(err.Error(), maxArgumentError))
	}
	return in, nil
}
