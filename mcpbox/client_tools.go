package mcpbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbox/agentbox"
)

// ErrToolFailed is matched by the error of a call the server answered
// with a result marked isError; the model reads the result's text.
var ErrToolFailed = errors.New("the tool reported an error")

// list lists the server's tools and makes an agentbox.Tool of each it can
// offer. The error names those left out; with no tools, it says why none
// could be listed. c.mu is held.
func (c *Client) list(ctx context.Context) ([]agentbox.Tool, error) {
	ctx, cancel := context.WithTimeout(ctx, cmpOr(c.cfg.ConnectTimeout, defaultConnectTimeout))
	defer cancel()
	var (
		tools []agentbox.Tool
		names = map[string]bool{}
		errs  []error
	)
	for t, err := range c.conn.cs.Tools(ctx, nil) {
		if err != nil {
			if tools == nil {
				return nil, c.describe(fmt.Errorf("listing its tools: %w", err))
			}
			errs = append(errs, fmt.Errorf("listing its tools: %w", err))
			break
		}
		if len(c.cfg.Tools) > 0 && !slices.Contains(c.cfg.Tools, t.Name) {
			continue
		}
		if len(tools) == MaxTools {
			errs = append(errs, fmt.Errorf("it has more than %d tools: the rest are left out", MaxTools))
			break
		}
		tool, err := c.tool(t, names)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tools = append(tools, tool)
	}
	if tools == nil {
		tools = []agentbox.Tool{}
	}
	if len(errs) > 0 {
		return tools, c.describe(errors.Join(errs...))
	}
	return tools, nil
}

// tool makes an agentbox.Tool of t, named with the server's prefix and a
// name not in taken, which it adds.
func (c *Client) tool(t *mcp.Tool, taken map[string]bool) (agentbox.Tool, error) {
	schema, err := inputSchema(t.InputSchema)
	if err != nil {
		return nil, fmt.Errorf("tool %q is left out: %w", capText(t.Name, 100), err)
	}
	name := toolName(c.prefix, t.Name, taken)
	desc := capText(strings.TrimSpace(cmpStr(t.Description, t.Title)), MaxDescriptionBytes)
	if desc == "" {
		desc = "The " + capText(t.Name, 100) + " tool of the " + c.prefix + " MCP server."
	}
	remote := t.Name
	tool, err := agentbox.NewToolWithSchema(name, desc, schema, func(ctx context.Context, env *agentbox.Env, args json.RawMessage) (string, error) {
		return c.call(ctx, env, remote, args)
	})
	if err != nil {
		return nil, fmt.Errorf("tool %q is left out: %w", capText(t.Name, 100), err)
	}
	if t.Annotations == nil || !t.Annotations.ReadOnlyHint {
		tool = agentbox.Exclusive(tool) // it may change what the other calls see
	}
	if c.cfg.RequireApproval {
		tool = agentbox.RequireApproval(tool)
	}
	return tool, nil
}

// inputSchema returns the schema a server gave for a tool's input, which
// must be a JSON Schema of an object, at most MaxSchemaBytes long.
func inputSchema(v any) (*jsonschema.Schema, error) {
	data, err := json.Marshal(v)
	switch {
	case err != nil:
		return nil, fmt.Errorf("its input schema is not JSON: %w", err)
	case len(data) > MaxSchemaBytes:
		return nil, fmt.Errorf("its input schema is %d bytes, more than %d", len(data), MaxSchemaBytes)
	case string(data) == "null":
		data = []byte(`{"type":"object"}`)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("its input schema is no JSON Schema: %w", err)
	}
	if s.Type == "" && len(s.Types) == 0 {
		s.Type = "object" // a schema of properties alone, as some servers send
	}
	return &s, nil
}

// call calls the server's tool remote with args, and returns the text of
// its result. Progress the server reports while the call runs is the call's
// output (ToolOutput events).
func (c *Client) call(ctx context.Context, env *agentbox.Env, remote string, args json.RawMessage) (string, error) {
	cs, err := c.current()
	if err != nil {
		return "", err
	}
	if d := c.cfg.CallTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, fmt.Errorf("the call of %s took longer than Config.CallTimeout (%s)", remote, d))
		defer cancel()
	}
	params := &mcp.CallToolParams{Name: remote, Arguments: args}
	token := c.track(env)
	defer c.untrack(token)
	params.SetProgressToken(token)
	res, err := cs.CallTool(ctx, params)
	c.settle(ctx, token)
	switch {
	case ctx.Err() != nil:
		return "", context.Cause(ctx)
	case err != nil:
		c.suspectSession(cs) // checked, and started again if need be, at the next step
		return "", c.describe(fmt.Errorf("calling %s: %w", remote, err))
	}
	text := resultText(res)
	if res.IsError {
		return "", fmt.Errorf("%w: %s", ErrToolFailed, text)
	}
	return text, nil
}

// A tracked call is one whose progress streams as its output.
type tracked struct {
	env  *agentbox.Env
	last time.Time // when its last progress came
}

// track registers env's call for the progress the server reports, and
// returns its progress token.
func (c *Client) track(env *agentbox.Env) string {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	c.calls++
	token := fmt.Sprintf("agentbox-%d", c.calls)
	c.progress[token] = &tracked{env: env}
	return token
}

// How long a call's progress may come after its result: the SDK hands
// notifications over on a goroutine of their own, which may run after the
// result is in. A call waits until none has come for progressQuiet since
// its result, progressSettle at most.
const (
	progressQuiet  = 10 * time.Millisecond
	progressSettle = 200 * time.Millisecond
)

// settle waits for progress of the call with token still on its way.
func (c *Client) settle(ctx context.Context, token string) {
	start := time.Now()
	for ctx.Err() == nil {
		c.pmu.Lock()
		last := c.progress[token].last
		c.pmu.Unlock()
		if last.Before(start) {
			last = start
		}
		wait := min(time.Until(last.Add(progressQuiet)), time.Until(start.Add(progressSettle)))
		if wait <= 0 {
			return
		}
		time.Sleep(wait)
	}
}

func (c *Client) untrack(token string) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	delete(c.progress, token)
}

// onProgress streams a progress message of a running call as its output.
func (c *Client) onProgress(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
	token, _ := req.Params.ProgressToken.(string)
	c.pmu.Lock()
	call := c.progress[token]
	if call != nil {
		call.last = time.Now()
	}
	c.pmu.Unlock()
	if call == nil {
		return
	}
	env := call.env
	msg := req.Params.Message
	if msg == "" { // progress alone, as a line of output
		msg = fmt.Sprintf("[progress %g]", req.Params.Progress)
		if req.Params.Total > 0 {
			msg = fmt.Sprintf("[progress %g of %g]", req.Params.Progress, req.Params.Total)
		}
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	env.Stdout().Write([]byte(msg))
}

// resultText is the text the model reads of a result: its text contents,
// and a note for each image, audio and resource; its structured content as
// JSON when it has no content.
func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, content := range res.Content {
		switch x := content.(type) {
		case *mcp.TextContent:
			parts = append(parts, x.Text)
		case *mcp.ImageContent:
			parts = append(parts, fmt.Sprintf("[an image, %s, %d bytes, not shown]", cmpStr(x.MIMEType, "of no type"), len(x.Data)))
		case *mcp.AudioContent:
			parts = append(parts, fmt.Sprintf("[audio, %s, %d bytes, not played]", cmpStr(x.MIMEType, "of no type"), len(x.Data)))
		case *mcp.ResourceLink:
			parts = append(parts, fmt.Sprintf("[a resource: %s %s]", x.URI, cmpStr(x.Title, x.Name)))
		case *mcp.EmbeddedResource:
			parts = append(parts, embedded(x.Resource))
		default:
			parts = append(parts, fmt.Sprintf("[content of a kind not shown: %T]", content))
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if data, err := json.Marshal(res.StructuredContent); err == nil {
			parts = append(parts, string(data))
		}
	}
	return strings.Join(parts, "\n")
}

// embedded is the text of an embedded resource: its text, or a note of
// its bytes.
func embedded(r *mcp.ResourceContents) string {
	switch {
	case r == nil:
		return "[an empty resource]"
	case r.Blob != nil:
		return fmt.Sprintf("[a resource: %s, %s, %d bytes, not shown]", r.URI, cmpStr(r.MIMEType, "of no type"), len(r.Blob))
	}
	return fmt.Sprintf("[a resource: %s]\n%s", r.URI, r.Text)
}

// toolName returns the name a tool of the server is offered by: prefix_name
// with only letters, digits, '_' and '-', of at most 64 bytes, not in
// taken; it adds the name to taken.
func toolName(prefix, name string, taken map[string]bool) string {
	full := cleanName(prefix+"_"+name, "tool")
	if len(full) <= 64 && !taken[full] {
		taken[full] = true
		return full
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	for n := h.Sum32(); ; n++ {
		suffix := fmt.Sprintf("_%08x", n)
		candidate := full[:min(len(full), 64-len(suffix))] + suffix
		if !taken[candidate] {
			taken[candidate] = true
			return candidate
		}
	}
}

// cleanName returns s with every character but letters, digits, '_' and
// '-' replaced by '_', or def when that leaves nothing.
func cleanName(s, def string) string {
	b := []byte(s)
	for i, ch := range b {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-'
		if !ok {
			b[i] = '_'
		}
	}
	s = strings.Trim(string(b), "_")
	if s == "" {
		return def
	}
	return s
}

// capText cuts s to at most n bytes, not within a character.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// buildVersion is the module's version, or "dev".
func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/agentbox/agentbox" && dep.Version != "" {
				return dep.Version
			}
		}
	}
	return "dev"
}
