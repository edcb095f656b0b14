package agentbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/google/jsonschema-go/jsonschema"
)

// callTool calls t once with args, as a model would, and returns the result.
func callTool(t *testing.T, tool agentbox.Tool, args string) agentbox.ToolResult {
	t.Helper()
	p := agentboxtest.NewProvider(calls(call("c1", tool.Spec().Name, args)), agentboxtest.Reply("done"))
	all, _ := collect(t, agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{tool}}).Run(context.Background(), "go"))
	return result(t, all, "c1")
}

func TestInvalidArgumentsNameEveryProblem(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	res := tool(t, sb, "write_file", `{"files":[{"path":1},{"content":"x","mode":"0644"},"c.txt"],"overwrite":true}`)
	want := `invalid arguments: 6 problems:
- files[0]: missing required property "content"
- files[0].path: want a string, got the number 1
- files[1]: missing required property "path"
- files[1]: unexpected property "mode"; the properties are "content", "path"
- files[2]: want an object, got the string "c.txt"
- unexpected property "overwrite"; the properties are "files"`
	if !errors.Is(res.Err, agentbox.ErrInvalidArguments) || res.Err.Error() != want {
		t.Errorf("error =\n%v\nwant\n%s", res.Err, want)
	}
	if res.Output != "Error: "+want {
		t.Errorf("the model read %q, want the error", res.Output)
	}

	for _, tt := range []struct{ tool, args, want string }{
		{"write_file", `{"files":[]}`, `invalid arguments: files: has 0 items, fewer than the 1 required`},
		{"read_file", `{"path":"a","offset":0,"limit":-2}`, "invalid arguments: 2 problems:\n- limit: -2 is less than the minimum, 1\n- offset: 0 is less than the minimum, 1"},
		{"list_files", `{"depth":9.5}`, `invalid arguments: depth: want an integer, got the number 9.5`},
		{"start_process", `{"command":"npm start","port":70000}`, `invalid arguments: port: 70000 is more than the maximum, 65535`},
		{"stop_process", `{}`, `invalid arguments: missing required property "id"`},
		{"edit_file", `{"path":"a"}`, `invalid arguments: missing required properties "old_string", "new_string"`},
	} {
		if res := tool(t, sb, tt.tool, tt.args); res.Err == nil || res.Err.Error() != tt.want {
			t.Errorf("%s %s: error =\n%v\nwant\n%s", tt.tool, tt.args, res.Err, tt.want)
		}
	}
	if len(sb.Files()) != 0 {
		t.Errorf("invalid calls wrote files: %v", sb.Files())
	}
}

func TestInvalidArgumentsErrorIsBounded(t *testing.T) {
	// A thousand bad files, each with a long name and a long wrong value.
	long := strings.Repeat("x", 1000)
	var files []string
	for i := range 1000 {
		files = append(files, fmt.Sprintf(`{"path":%d,"content":"c","%s%d":"%s"}`, i, long, i, long))
	}
	res := tool(t, agentboxtest.NewSandbox(), "write_file", `{"files":[`+strings.Join(files, ",")+`]}`)
	msg := res.Err.Error()
	if !errors.Is(res.Err, agentbox.ErrInvalidArguments) || len(msg) > 4000 {
		t.Fatalf("error is %d bytes, want at most 4000:\n%.600s", len(msg), msg)
	}
	for _, want := range []string{"2000 problems:\n- files[0].path: want a string, got the number 0\n- files[0]: unexpected property \"xxx", "\n- and 1988 more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "\n- "); n != 13 {
		t.Errorf("error lists %d lines, want 12 problems and a count of the rest:\n%s", n, msg)
	}
}

type searchArgs struct {
	Query string   `json:"query" jsonschema:"what to search for"`
	Mode  string   `json:"mode,omitempty" jsonschema:"how to search"`
	Limit int      `json:"limit,omitempty" jsonschema:"most results"`
	Tags  []string `json:"tags,omitempty" jsonschema:"tags to match"`
}

func searchTool(got *searchArgs) agentbox.Tool {
	return agentbox.NewTool("search", "Search.", func(_ context.Context, _ *agentbox.Env, in searchArgs) (string, error) {
		*got = in
		return "found", nil
	}, agentbox.EditSchema(func(s *jsonschema.Schema) {
		s.Properties["query"].MinLength = jsonschema.Ptr(2)
		s.Properties["mode"].Enum = []any{"exact", "fuzzy"}
		s.Properties["mode"].Default = json.RawMessage(`"fuzzy"`)
		s.Properties["limit"].Minimum = jsonschema.Ptr(1.0)
		s.Properties["limit"].Maximum = jsonschema.Ptr(50.0)
		s.Properties["limit"].Default = json.RawMessage(`10`)
		s.Properties["tags"].Items.Pattern = `^[a-z]+$`
		s.Properties["tags"].UniqueItems = true
	}))
}

func TestEditSchema(t *testing.T) {
	var got searchArgs
	search := searchTool(&got)
	var spec map[string]any
	if err := json.Unmarshal(search.Spec().Parameters, &spec); err != nil {
		t.Fatal(err)
	}
	props := spec["properties"].(map[string]any)
	if mode := props["mode"].(map[string]any); fmt.Sprint(mode["enum"]) != "[exact fuzzy]" || mode["default"] != "fuzzy" {
		t.Errorf("the model sees mode as %v, want its enum and default", mode)
	}

	// Defaults fill what the model left out.
	if res := callTool(t, search, `{"query":"go"}`); res.Err != nil || got.Mode != "fuzzy" || got.Limit != 10 {
		t.Errorf("search got %+v, %v; want the defaults mode fuzzy, limit 10", got, res.Err)
	}
	if res := callTool(t, search, `{"query":"go","mode":"exact","limit":3}`); res.Err != nil || got.Mode != "exact" || got.Limit != 3 {
		t.Errorf("search got %+v, %v; want what the model gave", got, res.Err)
	}

	res := callTool(t, search, `{"query":"g","mode":"regex","limit":0,"tags":["ok","Bad","ok"]}`)
	for _, want := range []string{
		"invalid arguments: 5 problems:\n",
		"\n- limit: 0 is less than the minimum, 1\n",
		"\n- mode: \"regex\" is not one of \"exact\", \"fuzzy\"\n",
		"\n- query: \"g\" has 1 characters, fewer than the 2 required\n",
		"\n- tags: uniqueItems: array items ", // the library's words
		"\n- tags[1]: \"Bad\" does not match the pattern \"^[a-z]+$\"",
	} {
		if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("error =\n%v\nwant it to contain %q", res.Err, want)
		}
	}
}

// panicText returns what f panics with, or "" when it does not.
func panicText(f func()) (text string) {
	defer func() {
		if v := recover(); v != nil {
			text = fmt.Sprint(v)
		}
	}()
	f()
	return ""
}

func TestNewToolRefusesWhatIsNoObject(t *testing.T) {
	echo := func(context.Context, *agentbox.Env, string) (string, error) { return "", nil }
	for name, f := range map[string]func(){
		"string": func() { agentbox.NewTool("echo", "Echo.", echo) },
		"slice": func() {
			agentbox.NewTool("list", "List.", func(context.Context, *agentbox.Env, []string) (string, error) { return "", nil })
		},
		"any": func() {
			agentbox.NewTool("any", "Any.", func(context.Context, *agentbox.Env, any) (string, error) { return "", nil })
		},
		"edited": func() {
			agentbox.NewTool("edited", "Edited.", func(context.Context, *agentbox.Env, searchArgs) (string, error) { return "", nil },
				agentbox.EditSchema(func(s *jsonschema.Schema) { s.Type = "array" }))
		},
	} {
		if got := panicText(f); !strings.Contains(got, `the schema must have type "object", as a tool's arguments are a JSON object`) {
			t.Errorf("%s: NewTool panicked with %q, want it to say the arguments are an object", name, got)
		}
	}
	type tagged struct {
		Mode string `json:"mode" jsonschema:"enum=fast,slow"`
	}
	got := panicText(func() {
		agentbox.NewTool("tagged", "Tagged.", func(context.Context, *agentbox.Env, tagged) (string, error) { return "", nil })
	})
	if !strings.Contains(got, "add keywords with agentbox.EditSchema") {
		t.Errorf("NewTool with an enum= tag panicked with %q, want a pointer to EditSchema", got)
	}
	got = panicText(func() {
		agentbox.NewTool("bad", "Bad default.", func(context.Context, *agentbox.Env, searchArgs) (string, error) { return "", nil },
			agentbox.EditSchema(func(s *jsonschema.Schema) { s.Properties["limit"].Default = json.RawMessage(`"ten"`) }))
	})
	if !strings.Contains(got, "invalid schema") {
		t.Errorf("NewTool with a default against its schema panicked with %q, want the schema refused", got)
	}
}

func TestNewToolWithSchema(t *testing.T) {
	var schema jsonschema.Schema
	err := json.Unmarshal([]byte(`{
		"type": "object",
		"properties": {
			"shape": {"$ref": "#/$defs/shape"},
			"color": {"type": "string", "enum": ["red", "blue"]},
			"size": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^(s|m|l)$"}]}
		},
		"required": ["shape"],
		"additionalProperties": false,
		"$defs": {"shape": {"type": "string", "enum": ["circle", "square"]}}
	}`), &schema)
	if err != nil {
		t.Fatal(err)
	}
	var got json.RawMessage
	draw, err := agentbox.NewToolWithSchema("draw", "Draw a shape.", &schema, func(_ context.Context, _ *agentbox.Env, in json.RawMessage) (string, error) {
		got = in
		return "drawn", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res := callTool(t, draw, `{"shape":"circle","size":"m"}`); res.Err != nil || string(got) != `{"shape":"circle","size":"m"}` {
		t.Errorf("draw got %s, %v; want the arguments as written", got, res.Err)
	}
	res := callTool(t, draw, `{"shape":"star","color":"green","size":0}`)
	for _, want := range []string{
		"invalid arguments: 3 problems:",
		"\n- color: \"green\" is not one of \"red\", \"blue\"",
		"\n- shape: enum: star does not equal any of: [circle square]",
		"\n- size: anyOf: did not validate against any of",
	} {
		if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("error =\n%v\nwant it to contain %q", res.Err, want)
		}
	}

	for name, tt := range map[string]struct {
		make func() (agentbox.Tool, error)
		want string
	}{
		"nil": {func() (agentbox.Tool, error) {
			return agentbox.NewToolWithSchema("t", "T.", nil, func(context.Context, *agentbox.Env, map[string]any) (string, error) { return "", nil })
		}, "the schema is nil"},
		"string schema": {func() (agentbox.Tool, error) {
			return agentbox.NewToolWithSchema("t", "T.", &jsonschema.Schema{Type: "string"}, func(context.Context, *agentbox.Env, map[string]any) (string, error) { return "", nil })
		}, `the schema must have type "object"`},
		"string input": {func() (agentbox.Tool, error) {
			return agentbox.NewToolWithSchema("t", "T.", &jsonschema.Schema{Type: "object"}, func(context.Context, *agentbox.Env, string) (string, error) { return "", nil })
		}, "which a string cannot hold"},
		"bad pattern": {func() (agentbox.Tool, error) {
			return agentbox.NewToolWithSchema("t", "T.", &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"p": {Pattern: "("}}},
				func(context.Context, *agentbox.Env, map[string]any) (string, error) { return "", nil })
		}, "invalid schema"},
	} {
		tool, err := tt.make()
		if tool != nil || err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `agentbox.NewToolWithSchema "t"`) {
			t.Errorf("%s: NewToolWithSchema = %v, %v; want an error containing %q", name, tool, err, tt.want)
		}
	}
}
