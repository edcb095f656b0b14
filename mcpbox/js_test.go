package mcpbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/mcpbox"
)

// mcpJSPackages are the packages of MCP_JS_DIR: the MCP TypeScript SDK,
// which most MCP servers and the clients people use are built on, and its
// reference server.
const mcpJSPackages = "@modelcontextprotocol/sdk@1.32.2 @modelcontextprotocol/server-everything@2026.8.31"

// mcpJS returns the folder, named by MCP_JS_DIR, whose node_modules holds
// mcpJSPackages; .ci/run installs them. Elsewhere, the test that needs it
// is skipped when MCP_JS_DIR is not set, the packages are missing, or node
// is.
func mcpJS(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MCP_JS_DIR")
	_, nodeErr := exec.LookPath("node")
	var missing error
	if dir != "" {
		for _, pkg := range []string{"sdk", "server-everything"} {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", pkg, "package.json")); err != nil {
				missing = err
				break
			}
		}
	}
	switch {
	case dir != "" && missing == nil && nodeErr == nil:
		return dir
	case os.Getenv("CI") != "":
		t.Fatalf("MCP_JS_DIR is %q (%v) and node: %v; .ci/run installs Node.js and %s for this test", dir, missing, nodeErr, mcpJSPackages)
	case missing != nil:
		t.Skipf("MCP_JS_DIR lacks the MCP TypeScript SDK: %v; run `npm install --prefix DIR %s` (needs Node.js)", missing, mcpJSPackages)
	}
	t.Skipf("MCP_JS_DIR is not set: to test against the MCP TypeScript SDK, run `npm install --prefix DIR %s` and set MCP_JS_DIR=DIR (needs Node.js)", mcpJSPackages)
	return ""
}

// everythingServer returns a Config running the reference server of the
// MCP TypeScript SDK, server-everything, over stdio: its "bin" script, with
// the transport it is to speak.
func everythingServer(t *testing.T, dir string) mcpbox.Config {
	t.Helper()
	pkg := filepath.Join(dir, "node_modules", "@modelcontextprotocol", "server-everything")
	data, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Bin map[string]string `json:"bin"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil || manifest.Bin["mcp-server-everything"] == "" {
		t.Fatalf("server-everything's package.json has no bin mcp-server-everything: %v %v", manifest.Bin, err)
	}
	script := filepath.Join(pkg, manifest.Bin["mcp-server-everything"])
	return mcpbox.Config{Name: "everything", Command: []string{"node", script, "stdio"}}
}

// everythingTools are the tools server-everything lists to a client that
// declares no capabilities. The tools that need the client's roots,
// sampling or elicitation are registered only for clients that declare
// them, which mcpbox's does not.
var everythingTools = []string{
	"everything_echo",
	"everything_get-annotated-message",
	"everything_get-env",
	"everything_get-resource-links",
	"everything_get-resource-reference",
	"everything_get-structured-content",
	"everything_get-sum",
	"everything_get-tiny-image",
	"everything_gzip-file-as-resource",
	"everything_simulate-research-query",
	"everything_toggle-simulated-logging",
	"everything_toggle-subscriber-updates",
	"everything_trigger-long-running-operation",
}

// TestEverythingServerThroughAnAgent connects to server-everything, the
// TypeScript SDK's reference server, and runs an agent that calls its
// tools: text, numbers, an image, annotated content, resource links and
// embedded resources, structured content, progress, and the errors of bad
// arguments, of a failing tool and of a tool that needs the tasks API.
func TestEverythingServerThroughAnAgent(t *testing.T) {
	c := connect(t, everythingServer(t, mcpJS(t)))
	if c.Name() != "everything" {
		t.Errorf("Name = %q, want Config.Name", c.Name())
	}
	tools, err := c.Tools(t.Context())
	if err != nil {
		t.Errorf("Tools: %v", err) // a tool left out
	}
	var names []string
	for _, tool := range tools {
		spec := tool.Spec()
		names = append(names, spec.Name)
		var schema struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(spec.Parameters, &schema); err != nil || schema.Type != "object" || spec.Description == "" {
			t.Errorf("%s: description %q, parameters %s", spec.Name, spec.Description, spec.Parameters)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, everythingTools) {
		t.Errorf("tools offered:\n%v\nwant\n%v", names, everythingTools)
	}

	start := time.Now()
	p, all, done := run(t, c, agentbox.Options{},
		calls(
			call("echo", "everything_echo", `{"message":"hi from Go"}`),
			call("sum", "everything_get-sum", `{"a":2,"b":3.5}`),
			call("image", "everything_get-tiny-image", `{}`),
			call("annotated", "everything_get-annotated-message", `{"messageType":"error","includeImage":true}`),
			call("links", "everything_get-resource-links", `{"count":2}`),
			call("text", "everything_get-resource-reference", `{"resourceType":"Text","resourceId":4}`),
			call("blob", "everything_get-resource-reference", `{"resourceType":"Blob","resourceId":5}`),
			call("structured", "everything_get-structured-content", `{"location":"Chicago"}`),
			call("long", "everything_trigger-long-running-operation", `{"duration":0.3,"steps":3}`),
		),
		calls(
			call("badargs", "everything_echo", `{"message":5}`),
			call("fails", "everything_get-resource-reference", `{"resourceType":"Text","resourceId":0}`),
			call("task", "everything_simulate-research-query", `{"topic":"MCP"}`),
		),
		calls(call("after", "everything_echo", `{"message":"still there"}`)),
		agentboxtest.Reply("ok"),
	)
	if done.Reason != agentbox.StopCompleted {
		t.Fatalf("Done %s, %v", done.Reason, done.Err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %v", d)
	}
	for _, ev := range all {
		if e, ok := ev.(agentbox.Error); ok {
			t.Errorf("the run reported: %v", e.Err)
		}
	}

	// What the model read of each call: the tool turns of the last request.
	reqs := p.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d model requests, want 4", len(reqs))
	}
	read := map[string]string{}
	for _, m := range reqs[3].Messages {
		if m.Role == agentbox.RoleTool {
			read[m.ToolCallID] = m.Content
		}
	}
	res := results(all)
	for id, r := range res {
		if read[id] != r.Output {
			t.Errorf("%s: the model read %q, the result was %q", id, read[id], r.Output)
		}
	}
	image := regexp.MustCompile(`^\[an image, image/png, (\d+) bytes, not shown\]$`)
	want := map[string]string{
		"echo": "Echo: hi from Go",
		"sum":  "The sum of 2 and 3.5 is 5.5.",
		"links": "Here are 2 resource links to resources available in this server:\n" +
			"[a resource: demo://resource/dynamic/blob/1 Blob Resource 1]\n" +
			"[a resource: demo://resource/dynamic/text/2 Text Resource 2]",
		"structured": `{"temperature":36,"conditions":"Light rain / drizzle","humidity":82}`,
		"long":       "Long running operation completed. Duration: 0.3 seconds, Steps: 3.",
		"after":      "Echo: still there",
	}
	for id, w := range want {
		if r := res[id]; r.Output != w || r.Err != nil {
			t.Errorf("%s: %q, %v; want %q", id, r.Output, r.Err, w)
		}
	}
	// The image is the MCP logo, a PNG of about 4 KB, and the annotated
	// message has it too, after its text.
	if lines := strings.Split(res["image"].Output, "\n"); len(lines) != 3 || lines[0] != "Here's the image you requested:" ||
		!image.MatchString(lines[1]) || lines[2] != "The image above is the MCP logo." {
		t.Errorf("image: %q", res["image"].Output)
	} else if n, _ := strconv.Atoi(image.FindStringSubmatch(lines[1])[1]); n < 1000 || n > 10000 {
		t.Errorf("image: %d bytes", n)
	}
	if lines := strings.Split(res["annotated"].Output, "\n"); len(lines) != 2 || lines[0] != "Error: Operation failed" || !image.MatchString(lines[1]) {
		t.Errorf("annotated: %q, %v", res["annotated"].Output, res["annotated"].Err)
	}
	if r := res["text"]; !regexp.MustCompile(`^Returning resource reference for Resource 4:\n` +
		`\[a resource: demo://resource/dynamic/text/4\]\nResource 4: This is a plaintext resource created at .+\n` +
		`You can access this resource using the URI: demo://resource/dynamic/text/4$`).MatchString(r.Output) {
		t.Errorf("an embedded text resource: %q, %v", r.Output, r.Err)
	}
	if r := res["blob"]; !regexp.MustCompile(`^Returning resource reference for Resource 5:\n` +
		`\[a resource: demo://resource/dynamic/blob/5, text/plain, \d+ bytes, not shown\]\n` +
		`You can access this resource using the URI: demo://resource/dynamic/blob/5$`).MatchString(r.Output) {
		t.Errorf("an embedded blob resource: %q, %v", r.Output, r.Err)
	}

	// server-everything reports progress with no message: mcpbox streams
	// it as lines saying how far the call is.
	var output strings.Builder
	for _, ev := range all {
		if o, ok := ev.(agentbox.ToolOutput); ok && o.ID == "long" {
			output.WriteString(o.Text)
		}
	}
	if !strings.Contains(output.String(), "[progress 1 of 3]\n") {
		t.Errorf("the output of trigger-long-running-operation: %q, want its progress", output.String())
	}

	if r := res["badargs"]; !errors.Is(r.Err, agentbox.ErrInvalidArguments) {
		t.Errorf("arguments against the schema: %q, %v", r.Output, r.Err)
	}
	if r := res["fails"]; !errors.Is(r.Err, mcpbox.ErrToolFailed) || !strings.Contains(r.Output, "Invalid resourceId: 0. Must be a finite positive integer.") {
		t.Errorf("a tool that throws: %q, %v", r.Output, r.Err)
	}
	// simulate-research-query must be called as a task (its execution's
	// taskSupport is "required"), which the Go SDK cannot: the server
	// answers with an error result, which the model reads.
	if r := res["task"]; !errors.Is(r.Err, mcpbox.ErrToolFailed) || !strings.Contains(r.Output, "MCP error -32601: Tool simulate-research-query requires task augmentation (taskSupport: 'required')") {
		t.Errorf("a tool that needs the tasks API: %q, %v", r.Output, r.Err)
	}
	t.Logf("simulate-research-query: %s", res["task"].Output)
}

// TestClosingEndsTheEverythingServer checks that Close ends the node
// process of server-everything.
func TestClosingEndsTheEverythingServer(t *testing.T) {
	cfg := everythingServer(t, mcpJS(t))
	marker := "MCPBOX_MARKER=" + t.Name() + time.Now().Format("150405.000000")
	cfg.Env = []string{marker}
	c, err := mcpbox.Connect(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(marker) })
	if procs := agentboxtest.ProcessesWith(marker); len(procs) != 1 || !strings.Contains(procs[0], "node ") {
		t.Fatalf("server processes running: %v, want 1 of node", procs)
	}
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	t.Logf("Close took %v", time.Since(start))
	if left := agentboxtest.ProcessesWith(marker); len(left) != 0 {
		t.Errorf("after Close: %v", left)
	}
}

// killAll kills the processes whose environment holds marker, that a test
// that failed left.
func killAll(marker string) {
	for _, p := range agentboxtest.ProcessesWith(marker) {
		if pid, err := strconv.Atoi(p[:strings.IndexByte(p, ':')]); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// A jsSummary is what testdata/js/client.mjs prints: the results of the
// calls it made with the TypeScript SDK's client.
type jsSummary struct {
	Server struct{ Name, Version string }
	Tools  []string
	Write, Read, Run, Quick, Bad, Pwd,
	Start, Preview, Stop *jsResult
	Progress, QuickProgress []jsProgress
	ClientErrors            []string
	Fetched                 *struct {
		Status int
		Body   string
	}
	Error, TerminateError string
}

type jsProgress struct {
	Progress float64
	Total    *float64
	Message  string
}

type jsResult struct {
	Text    string
	IsError bool
	Meta    map[string]json.RawMessage
}

// jsClient runs testdata/js/client.mjs with args and the environment
// variable marker set, and returns the summary it prints.
func jsClient(t *testing.T, dir, marker string, args ...string) *jsSummary {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"testdata/js/client.mjs"}, args...)...)
	cmd.Env = append(os.Environ(), "MCP_JS_DIR="+dir, marker)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	var s jsSummary
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("node client.mjs printed %q: %v\nstderr: %s", out, err, stderr.String())
	}
	if s.Error != "" || s.TerminateError != "" {
		t.Errorf("the client failed: %s%s\nstderr: %s", s.Error, s.TerminateError, stderr.String())
	}
	return &s
}

// serverTools are the tools agentbox-mcp serves.
var serverTools = []string{"edit_file", "list_files", "preview_url", "process_output", "read_file", "run_command", "start_process", "stop_process", "write_file"}

const jsPage = "<h1>hello from the TypeScript SDK</h1>\n"

// checkJSSession checks the summary of a session of client.mjs with
// agentbox-mcp: its tools, a file written and read back, a command run
// with progress, and a call that fails. It returns the workspace.
func checkJSSession(t *testing.T, s *jsSummary) string {
	t.Helper()
	if s.Server.Name != "agentbox" {
		t.Errorf("the server is %+v", s.Server)
	}
	tools := slices.Sorted(slices.Values(s.Tools))
	if !slices.Equal(tools, serverTools) {
		t.Errorf("tools listed: %v, want %v", s.Tools, serverTools)
	}
	check := func(what string, r *jsResult, want string) {
		t.Helper()
		if r == nil || r.IsError || r.Text != want {
			t.Errorf("%s: %+v, want %q", what, r, want)
		}
	}
	check("write_file", s.Write, "Wrote 1 file:\nsite/index.html (39 bytes)")
	check("read_file", s.Read, jsPage)
	check("run_command", s.Run, jsPage+"ran\n[exit code 0]")
	check("run_command", s.Quick, "quick\n[exit code 0]")
	if s.Run != nil && string(s.Run.Meta["agentbox/exit"]) != `{"code":0,"killed":false,"timed_out":false}` {
		t.Errorf("run_command's _meta: %v", s.Run.Meta)
	}
	var progress strings.Builder
	for i, p := range s.Progress {
		if p.Progress != float64(i+1) {
			t.Errorf("progress %d: %v", i, p.Progress)
		}
		progress.WriteString(p.Message)
	}
	if got := progress.String(); got != jsPage+"ran\n" {
		t.Errorf("run_command's progress messages: %q, want its output", got)
	}
	// The progress of a command that ends at once must not come with its
	// result: the SDK's client would drop it as of an unknown token
	// (modelcontextprotocol/typescript-sdk#2580), and report that to its
	// onerror, on which some clients end the session. The server leaves a
	// gap before the result.
	if len(s.QuickProgress) != 1 || s.QuickProgress[0].Message != "quick\n" {
		t.Errorf("the progress of a quick command: %+v, want its output", s.QuickProgress)
	}
	for _, e := range s.ClientErrors {
		t.Errorf("the client reported: %s", e)
	}
	if s.Bad == nil || !s.Bad.IsError || !strings.Contains(s.Bad.Text, "no/such/file") {
		t.Errorf("read_file of a missing file: %+v", s.Bad)
	}
	if s.Pwd == nil || !strings.HasSuffix(s.Pwd.Text, "\n[exit code 0]") {
		t.Fatalf("pwd: %+v", s.Pwd)
	}
	return strings.TrimSuffix(s.Pwd.Text, "\n[exit code 0]")
}

// waitGone waits up to 10 seconds until path no longer exists and no
// process holds marker.
func waitGone(t *testing.T, path, marker string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Stat(path)
		procs := agentboxtest.ProcessesWith(marker)
		if errors.Is(err, os.ErrNotExist) && len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after the session: the workspace %q: %v; processes: %v", path, err, procs)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTypeScriptClientOverStdio runs cmd/agentbox-mcp as the TypeScript
// SDK's client starts a server, and calls its tools: it writes a page,
// reads it back, runs a command with a progress token, and serves the page
// with python3's http.server, fetched at its preview URL. Once the client
// closed, agentbox-mcp and the server it started are gone, and so is the
// workspace.
func TestTypeScriptClientOverStdio(t *testing.T) {
	dir := mcpJS(t)
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if real, err := filepath.EvalSymlinks(python); err == nil && !strings.Contains(real, "shims") {
		python = real
	}
	bin := buildCommand(t)
	marker := "MCPBOX_MARKER=" + t.Name() + time.Now().Format("150405.000000")
	t.Cleanup(func() { killAll(marker) })
	port := freePort(t)
	s := jsClient(t, dir, marker, "stdio", bin, python, strconv.Itoa(port))
	workspace := checkJSSession(t, s)

	if s.Start == nil || !strings.Contains(s.Start.Text, fmt.Sprintf("port %d answers at http://", port)) {
		t.Errorf("start_process: %+v", s.Start)
	}
	if s.Preview == nil || s.Preview.Text != fmt.Sprintf("Port %d answers at http://127.0.0.1:%d", port, port) {
		t.Errorf("preview_url: %+v", s.Preview)
	}
	if s.Fetched == nil || s.Fetched.Status != 200 || s.Fetched.Body != jsPage {
		t.Errorf("the page at the preview URL: %+v", s.Fetched)
	}
	if s.Stop == nil || s.Stop.IsError || !strings.HasPrefix(s.Stop.Text, "Stopped process") {
		t.Errorf("stop_process: %+v", s.Stop)
	}
	waitGone(t, workspace, marker)
}

// TestTypeScriptClientOverHTTP runs cmd/agentbox-mcp -http and calls its
// tools with the TypeScript SDK's streamable HTTP client: progress comes on
// the call's event stream. The client's DELETE ends the session, and its
// workspace is removed.
func TestTypeScriptClientOverHTTP(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT")
	}
	dir := mcpJS(t)
	marker := "MCPBOX_MARKER=" + t.Name() + time.Now().Format("150405.000000")
	cmd := startHTTPCommand(t, buildCommand(t), []string{marker}, "-sandbox", "local", "-isolation", "none")
	t.Cleanup(func() {
		if err := cmd.interrupt(t, 15*time.Second); err != nil {
			t.Errorf("after SIGINT agentbox-mcp exited with %v", err)
		}
		killAll(marker)
	})
	endpoint := cmd.endpoint

	s := jsClient(t, dir, "MCPBOX_JS_CLIENT=1", "http", endpoint)
	workspace := checkJSSession(t, s)
	// The session's sandbox is closed once the client's DELETE ended it;
	// the command itself is still serving.
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(workspace); !errors.Is(err, os.ErrNotExist); _, err = os.Stat(workspace) {
		if time.Now().After(deadline) {
			t.Errorf("the workspace %q is left after the client ended its session: %v", workspace, err)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, line := range drain(cmd.lines) {
		t.Logf("agentbox-mcp: %s", line)
	}
}

// drain returns what is in lines now, without waiting.
func drain(lines chan string) []string {
	var out []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return out
			}
			out = append(out, l)
		default:
			return out
		}
	}
}
