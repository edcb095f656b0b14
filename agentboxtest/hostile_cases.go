package agentboxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
)

// A hostileCase is a subtest of RunHostileTests.
type hostileCase struct {
	name      string
	shell     bool // the attack needs HostileOptions.Shell
	processes bool // the attack needs an agentbox.ProcessStarter
	test      func(t *testing.T, h *hostile)
}

var hostileCases = []hostileCase{
	{name: "EditHugeResult", test: testEditHugeResult},
	{name: "ReadSparseFile", shell: true, test: testReadSparseFile},
	{name: "ReadSpecialFiles", test: testReadSpecialFiles},
	{name: "PathEscapes", test: testPathEscapes},
	{name: "SymlinkSwap", shell: true, processes: true, test: testSymlinkSwap},
	{name: "OddNames", test: testOddNames},
	{name: "NULNames", test: testNULNames},
	{name: "DeepPath", test: testDeepPath},
	{name: "OutputFlood", shell: true, test: testOutputFlood},
	{name: "OutputFloodCanceled", shell: true, test: testOutputFloodCanceled},
	{name: "BackgroundFlood", shell: true, processes: true, test: testBackgroundFlood},
	{name: "ProcessOutputFlood", shell: true, processes: true, test: testProcessOutputFlood},
	{name: "IgnoreSIGTERM", shell: true, processes: true, test: testIgnoreSIGTERM},
	{name: "ForkTree", shell: true, test: testForkTree},
	{name: "ManyProcesses", processes: true, test: testManyProcesses},
	{name: "ForkBomb", shell: true, test: testForkBomb},
	{name: "MalformedArguments", test: testMalformedArguments},
	{name: "HugeArguments", test: testHugeArguments},
	{name: "DeepJSON", test: testDeepJSON},
	{name: "UnknownTools", test: testUnknownTools},
	{name: "ManyCalls", test: testManyCalls},
	{name: "DeniedCalls", test: testDeniedCalls},
	{name: "UnansweredCalls", test: testUnansweredCalls},
}

// call returns a call of tool name with args marshalled to JSON.
func call(id, name string, args any) Call {
	data, err := json.Marshal(args)
	if err != nil {
		panic(err)
	}
	return Call{ID: id, Name: name, Args: string(data)}
}

// calls returns a step of the given calls.
func calls(c ...Call) Step { return Step{Calls: c} }

// command returns a run_command call of line.
func command(id, line string) Call {
	return call(id, "run_command", map[string]any{"command": line})
}

// within returns the time n steps may take when each is bounded by d.
func within(n int, d time.Duration) time.Duration {
	return time.Duration(n) * (d + HostileCallGrace)
}

// wantError fails t unless the result of call id is an error.
func wantError(t *testing.T, o *outcome, id, why string) {
	t.Helper()
	if r, ok := o.results[id]; ok && r.Err == nil {
		t.Errorf("%s (%s) = %q with no error; want an error: %s", id, r.Name, capString(r.Output, 300), why)
	}
}

// wantExit0 fails t unless the command of call id exited with status 0.
func wantExit0(t *testing.T, o *outcome, id string) {
	t.Helper()
	if r := o.result(t, id); r.Err != nil || !strings.HasSuffix(r.Output, "[exit code 0]") {
		t.Errorf("the attack's own command %s failed: %q, %v", id, capString(r.Output, 500), r.Err)
	}
}

func testEditHugeResult(t *testing.T, h *hostile) {
	const size = 10_000_000
	T := h.opts.ToolTimeout
	o := h.play(t, attack{
		marker: h.marker(),
		setup: func(ctx context.Context, sb agentbox.Sandbox) error {
			return sb.WriteFiles(ctx, []agentbox.File{{Path: "big.txt", Data: bytes.Repeat([]byte("a"), size)}})
		},
		moves: steps(
			calls(call("edit", "edit_file", map[string]any{"path": "big.txt", "old_string": "a", "new_string": strings.Repeat("b", 100), "replace_all": true})),
			calls(call("list", "list_files", map[string]any{"path": "."})),
		),
		budget: within(2, T),
	})
	if r := o.result(t, "edit"); r.Err == nil || !regexp.MustCompile(`(?i)large|limit|MB|bytes`).MatchString(r.Err.Error()) {
		t.Errorf("edit_file making a 1 GB file of a 10 MB one = %q, %v; want an error saying the result is too large", capString(r.Output, 300), r.Err)
	}
	if r := o.result(t, "list"); !strings.Contains(r.Output, fmt.Sprintf("big.txt (%d bytes)", size)) {
		t.Errorf("after the edit, list_files = %q; want big.txt unchanged, %d bytes", capString(r.Output, 300), size)
	}
}

func testReadSparseFile(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	o := h.play(t, attack{
		marker: m,
		moves: steps(
			calls(command("make", h.cmd(m, "yes 'a line of text' | head -c 8000 > sparse.txt && { truncate -s 15T sparse.txt || truncate -s 1023M sparse.txt; } && ls -l sparse.txt"))),
			calls(
				call("read", "read_file", map[string]any{"path": "sparse.txt"}),
				call("read-on", "read_file", map[string]any{"path": "sparse.txt", "offset": 1000}),
			),
		),
		budget: within(2, T),
		unstick: func(ctx context.Context, sb agentbox.Sandbox) {
			runIn(ctx, sb, "truncate -s 0 sparse.txt")
		},
	})
	wantExit0(t, o, "make")
}

func testReadSpecialFiles(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	reads := []string{"/dev/zero", "/dev/urandom"}
	var first, last []Step
	var edits, writes []string
	if h.opts.Shell {
		first = append(first, calls(command("make", h.cmd(m,
			"mkfifo fifo && ln -s /dev/zero zero-link && ln -s /dev/urandom random-link && ln -s fifo fifo-link && { mknod zero-dev c 1 5 2>/dev/null; true; }"))))
		reads = append(reads, "fifo", "fifo-link", "zero-link", "random-link", "zero-dev")
		edits = []string{"zero-link"}
		writes = []string{"fifo", "zero-link"}
		// A reader stuck on the pipe (a sandbox that opens it and waits for
		// a writer) is let go, so that it does not outlive the run.
		last = append(last, calls(command("release", h.cmd(m, "exec 3<>fifo; sleep 0.5"))))
	}
	var cs []Call
	for i, p := range reads {
		cs = append(cs, call(fmt.Sprintf("read%d", i), "read_file", map[string]any{"path": p}))
	}
	for i, p := range edits {
		cs = append(cs, call(fmt.Sprintf("edit%d", i), "edit_file", map[string]any{"path": p, "old_string": "a", "new_string": "b"}))
	}
	for i, p := range writes {
		cs = append(cs, call(fmt.Sprintf("write%d", i), "write_file", map[string]any{"files": []map[string]string{{"path": p, "content": "x"}}}))
	}
	o := h.play(t, attack{
		marker: m,
		moves:  steps(append(append(first, calls(cs...)), last...)...),
		budget: within(3+len(edits)+len(writes), T),
		unstick: func(ctx context.Context, sb agentbox.Sandbox) {
			if h.opts.Shell {
				runIn(ctx, sb, "exec 3<>fifo; sleep 0.5")
			}
		},
	})
	if h.opts.Shell {
		wantExit0(t, o, "make")
	}
	for i, p := range reads {
		wantError(t, o, fmt.Sprintf("read%d", i), fmt.Sprintf("%s is no text file", p))
	}
	for i, p := range edits {
		wantError(t, o, fmt.Sprintf("edit%d", i), fmt.Sprintf("%s is no text file", p))
	}
	if h.opts.Confined {
		for i, p := range writes {
			wantError(t, o, fmt.Sprintf("write%d", i), fmt.Sprintf("%s is not a regular file of the workspace", p))
		}
	}
}

func testPathEscapes(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	up := strings.Repeat("../", 16)
	secretBase := filepath.Base(h.secretPath)
	created := filepath.Join(h.opts.Outside, "created-"+m+".txt")

	// Paths that lead out of the workspace whatever the sandbox: every
	// operation on them must fail when it is Confined.
	outside := []string{up + "etc/passwd", "a/../../etc/passwd", "./../x"}
	// Absolute paths: an error, or a file of the workspace.
	absolute := []string{"/etc/passwd", "/etc/hostname", "..\\..\\etc\\passwd"}
	lists := []string{"..", up}
	var setup []string
	if h.opts.Shell {
		setup = append(setup, "ln -s /etc/passwd passwd-link", "ln -s /etc etc-link", "ln -s / root-link")
		outside = append(outside, "passwd-link", "etc-link/passwd", "root-link/etc/passwd")
		lists = append(lists, "etc-link", "root-link")
	}
	var writes, edits []string
	if h.opts.Confined {
		if h.opts.Shell {
			setup = append(setup, "{ ln /etc/passwd passwd-hard || true; }")
			writes = append(writes, "passwd-hard")
			edits = append(edits, "passwd-link", "passwd-hard")
		}
		if h.secretPath != "" {
			absolute = append(absolute, h.secretPath)
			outside = append(outside, up+strings.TrimPrefix(h.secretPath, "/"))
			writes = append(writes, h.secretPath, up+strings.TrimPrefix(h.secretPath, "/"))
			edits = append(edits, h.secretPath)
			if h.opts.Shell {
				setup = append(setup,
					"ln -s "+shellQuote(h.secretPath)+" secret-link",
					"ln -s "+shellQuote(h.opts.Outside)+" outside-link",
					"{ ln "+shellQuote(h.secretPath)+" secret-hard || true; }")
				outside = append(outside, "secret-link", "outside-link/"+secretBase)
				lists = append(lists, "outside-link")
				writes = append(writes, "secret-link", "outside-link/"+secretBase, "outside-link/"+filepath.Base(created), "secret-hard")
				edits = append(edits, "secret-link", "outside-link/"+secretBase, "secret-hard")
			}
		}
	}
	var moves []Step
	if len(setup) > 0 {
		moves = append(moves, calls(command("links", h.cmd(m, strings.Join(setup, " && ")))))
	}
	var reads []Call
	for i, p := range outside {
		reads = append(reads, call(fmt.Sprintf("out%d", i), "read_file", map[string]any{"path": p}))
	}
	for i, p := range absolute {
		reads = append(reads, call(fmt.Sprintf("abs%d", i), "read_file", map[string]any{"path": p}))
	}
	for i, p := range lists {
		reads = append(reads, call(fmt.Sprintf("list%d", i), "list_files", map[string]any{"path": p, "depth": 2}))
	}
	reads = append(reads, call("root", "list_files", map[string]any{"path": "/", "depth": 1}))
	if h.secretPath != "" {
		reads = append(reads, call("list-outside", "list_files", map[string]any{"path": h.opts.Outside}))
	}
	moves = append(moves, calls(reads...))
	var changes []Call
	for i, p := range writes {
		changes = append(changes, call(fmt.Sprintf("write%d", i), "write_file", map[string]any{"files": []map[string]string{{"path": p, "content": "overwritten by " + m + "\n"}}}))
	}
	for i, p := range edits {
		changes = append(changes, call(fmt.Sprintf("edit%d", i), "edit_file", map[string]any{"path": p, "old_string": "root", "new_string": "toor", "replace_all": true}))
		changes = append(changes, call(fmt.Sprintf("edit-secret%d", i), "edit_file", map[string]any{"path": p, "old_string": "hostile secret", "new_string": "changed"}))
	}
	if len(changes) > 0 {
		moves = append(moves, calls(changes...))
	}
	o := h.play(t, attack{marker: m, moves: steps(moves...), budget: within(3, T) + within(len(changes), 0)})
	if len(setup) > 0 {
		wantExit0(t, o, "links")
	}
	if !h.opts.Confined {
		return
	}
	for i, p := range outside {
		wantError(t, o, fmt.Sprintf("out%d", i), fmt.Sprintf("%s leads out of the workspace", p))
	}
	for i, p := range lists {
		wantError(t, o, fmt.Sprintf("list%d", i), fmt.Sprintf("%s leads out of the workspace", p))
	}
	if r := o.result(t, "root"); r.Err == nil && strings.Contains(r.Output, "proc/") && strings.Contains(r.Output, "etc/") {
		t.Errorf(`list_files "/" listed the machine's root: %q`, capString(r.Output, 300))
	}
	if r, ok := o.results["list-outside"]; ok && r.Err == nil && strings.Contains(r.Output, secretBase) {
		t.Errorf("list_files %s listed a folder outside the workspace: %q", h.opts.Outside, capString(r.Output, 300))
	}
	for i, p := range writes {
		if !strings.HasSuffix(p, "-hard") { // a hard link is a file of the workspace
			wantError(t, o, fmt.Sprintf("write%d", i), fmt.Sprintf("%s leads out of the workspace", p))
		}
	}
	for i, p := range edits {
		if !strings.HasSuffix(p, "-hard") {
			wantError(t, o, fmt.Sprintf("edit%d", i), fmt.Sprintf("%s leads out of the workspace", p))
			wantError(t, o, fmt.Sprintf("edit-secret%d", i), fmt.Sprintf("%s leads out of the workspace", p))
		}
	}
	if h.opts.Outside != "" {
		if _, err := os.Lstat(created); err == nil {
			t.Errorf("write_file made %s, outside the workspace, through a link", created)
			os.Remove(created)
		}
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func testSymlinkSwap(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	flips := "ln -sfn inside swap-dir; ln -sfn /etc swap-dir; ln -sfn inside-file swap-file; ln -sfn /etc/passwd swap-file"
	writable := h.opts.Confined && h.secretPath != ""
	if writable {
		flips += "; ln -sfn inside wswap; ln -sfn " + shellQuote(h.opts.Outside) + " wswap"
	}
	flipper := "mkdir -p inside && echo inside > inside/passwd && echo inside > inside-file && while :; do " + flips + "; done"
	var cs []Call
	for i := range 20 {
		cs = append(cs,
			call(fmt.Sprintf("dir%d", i), "read_file", map[string]any{"path": "swap-dir/passwd"}),
			call(fmt.Sprintf("file%d", i), "read_file", map[string]any{"path": "swap-file"}))
		if writable && i%2 == 0 {
			target := "wswap/" + filepath.Base(h.secretPath)
			cs = append(cs,
				call(fmt.Sprintf("write%d", i), "write_file", map[string]any{"files": []map[string]string{{"path": target, "content": "hostile secret overwritten\n"}}}),
				call(fmt.Sprintf("edit%d", i), "edit_file", map[string]any{"path": target, "old_string": "hostile secret", "new_string": "changed"}))
		}
	}
	h.play(t, attack{
		marker: m,
		moves: steps(
			calls(call("flipper", "start_process", map[string]any{"command": h.cmd(m, flipper)})),
			calls(cs...),
		),
		budget: within(4, T),
	})
}

func testOddNames(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	names := []string{
		"new\nline.txt", "tab\tname.txt", `quote"name.txt`, `back\slash.txt`, "\u202eevil.txt",
		" space first.txt", "-rf", "semi;colon.txt", "$(touch pwned).txt", "`touch pwned`.txt",
		"star*.txt", "new\nline/dir/f.txt", strings.Repeat("n", 255), strings.Repeat("m", 256),
	}
	var writes, reads []Call
	for i, name := range names {
		writes = append(writes, call(fmt.Sprintf("w%d", i), "write_file", map[string]any{"files": []map[string]string{{"path": name, "content": fmt.Sprintf("odd name %d\n", i)}}}))
		reads = append(reads, call(fmt.Sprintf("r%d", i), "read_file", map[string]any{"path": name}))
	}
	reads = append(reads, call("list", "list_files", map[string]any{"path": "."}))
	moves := []Step{calls(writes...), calls(reads...)}
	if h.opts.Shell {
		moves = append(moves, calls(command("ls", h.cmd(m, "ls -la"))))
	}
	o := h.play(t, attack{marker: m, moves: steps(moves...), budget: within(3, T) + within(len(writes), 0)})
	for i, name := range names {
		w, r := o.result(t, fmt.Sprintf("w%d", i)), o.result(t, fmt.Sprintf("r%d", i))
		want := fmt.Sprintf("odd name %d\n", i)
		switch {
		case w.Err == nil && (r.Err != nil || r.Output != want):
			t.Errorf("write_file %q succeeded, but read_file = %q, %v; want %q", name, capString(r.Output, 200), r.Err, want)
		case w.Err != nil && r.Err == nil:
			t.Errorf("write_file %q failed (%v), but read_file = %q", name, w.Err, capString(r.Output, 200))
		}
	}
	if r := o.result(t, "list"); regexp.MustCompile(`(?m)^pwned `).MatchString(r.Output) {
		t.Errorf("a file name ran as a command: list_files = %q", capString(r.Output, 1000))
	}
}

func testNULNames(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	cs := []Call{
		call("write", "write_file", map[string]any{"files": []map[string]string{{"path": "nul\x00.txt", "content": "x"}}}),
		call("write-dir", "write_file", map[string]any{"files": []map[string]string{{"path": "nuldir\x00/f.txt", "content": "x"}}}),
		call("read", "read_file", map[string]any{"path": "nul\x00.txt"}),
		call("edit", "edit_file", map[string]any{"path": "nul\x00.txt", "old_string": "x", "new_string": "y"}),
		call("list", "list_files", map[string]any{"path": "nuldir\x00"}),
		call("run", "run_command", map[string]any{"command": h.cmd(m, "pwd"), "cwd": "nuldir\x00"}),
	}
	if h.processes {
		cs = append(cs, call("start", "start_process", map[string]any{"command": h.cmd(m, "pwd"), "cwd": "nuldir\x00"}))
	}
	o := h.play(t, attack{
		marker: m,
		moves:  steps(calls(cs...), calls(call("after", "list_files", map[string]any{"path": ".", "depth": 1}))),
		budget: within(2+len(cs), T),
	})
	for _, c := range cs {
		wantError(t, o, c.ID, "a name with NUL must be refused")
	}
	if r := o.result(t, "after"); regexp.MustCompile(`(?m)^nul`).MatchString(r.Output) {
		t.Errorf("after the calls with NUL in names, list_files = %q; want nothing written", capString(r.Output, 500))
	}
}

func testDeepPath(t *testing.T, h *hostile) {
	const depth = 8000
	var files []map[string]string
	for _, dir := range []string{"d/", "e/", "f/"} {
		files = append(files, map[string]string{"path": strings.Repeat(dir, depth) + "f.txt", "content": "deep\n"})
	}
	const cancelAfter = time.Second
	h.play(t, attack{
		marker: h.marker(),
		moves: steps(
			calls(call("write", "write_file", map[string]any{"files": files})),
			calls(
				call("read", "read_file", map[string]any{"path": files[0]["path"]}),
				call("list", "list_files", map[string]any{"path": strings.Repeat("d/", 100), "depth": 8}),
			),
		),
		cancelAfter: cancelAfter,
		budget:      cancelAfter + HostileCallGrace,
	})
}

func testOutputFlood(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	floods := []string{"yes", "head -c 1G /dev/zero", "cat /dev/urandom | base64 -w0", "yes >&2"}
	var moves []Step
	for i, f := range floods {
		moves = append(moves, calls(command(fmt.Sprintf("flood%d", i), h.cmd(m, f))))
	}
	o := h.play(t, attack{marker: m, moves: steps(moves...), budget: within(len(floods), T)})
	for i, f := range floods {
		if n := o.output[fmt.Sprintf("flood%d", i)]; n < 64<<10 {
			t.Errorf("%s streamed %d bytes of output, want over 64 KiB: the flood did not happen", f, n)
		}
	}
}

func testOutputFloodCanceled(t *testing.T, h *hostile) {
	m := h.marker()
	const cancelAfter = 500 * time.Millisecond
	h.play(t, attack{
		marker:      m,
		moves:       steps(calls(command("flood", h.cmd(m, "yes")))),
		cancelAfter: cancelAfter,
		budget:      cancelAfter + HostileCallGrace,
	})
}

func testBackgroundFlood(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	h.play(t, attack{
		marker: m,
		moves: steps(
			calls(call("floods", "start_process", map[string]any{"command": h.cmd(m, "yes & yes >&2 & cat /dev/urandom & wait")})),
			calls(command("wait", h.cmd(m, "sleep 0.5"))),
		),
		budget: within(3, T),
	})
}

// testProcessOutputFlood starts more flooding processes than process_output
// keeps the output of, and reads them all, and unknown and huge IDs.
func testProcessOutputFlood(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	// Two floods run on; the others end after 2 MB, at once, so that the
	// step does not take a second per start.
	const procs = agentbox.ProcessLogsPerSandbox + 4
	var starts []Call
	for i := range procs {
		line := "yes flood"
		if i >= 2 {
			line = "yes flood | head -c 2000000"
		}
		starts = append(starts, call(fmt.Sprintf("start%d", i), "start_process", map[string]any{"command": h.cmd(m, line)}))
	}
	read := func(results map[string]string) Step {
		var cs []Call
		for i := range procs {
			id := "unknown"
			if sm := processID.FindStringSubmatch(results[fmt.Sprintf("start%d", i)]); sm != nil {
				id = sm[1]
			}
			cs = append(cs, call(fmt.Sprintf("read%d", i), "process_output", map[string]any{"id": id, "wait_seconds": 30}))
		}
		cs = append(cs,
			call("unknown", "process_output", map[string]any{"id": "no such process"}),
			call("huge", "process_output", map[string]any{"id": strings.Repeat("p", 100_000), "wait_seconds": 30}))
		return calls(cs...)
	}
	o := h.play(t, attack{
		marker: m,
		moves:  []move{steps(calls(starts...))[0], read, read},
		budget: within(procs+2, T),
	})
	wantError(t, o, "unknown", "no process has that ID")
	wantError(t, o, "huge", "no process has that ID")
	if r := o.result(t, "huge"); len(r.Output) > 1000 {
		t.Errorf("process_output of a 100,000-byte ID returned %d bytes", len(r.Output))
	}
	// The output of the running floods and of the latest processes is
	// kept: it is read, floods of "flood"; that of the oldest processes
	// that ended is not.
	for i := range procs {
		r := o.result(t, fmt.Sprintf("read%d", i))
		switch kept := i < 2 || i >= procs-agentbox.ProcessLogsPerSandbox+2; {
		case kept && (r.Err != nil || !strings.Contains(r.Output, "flood\nflood\n")):
			t.Errorf("process_output of the flood of start%d = %q, %v", i, capString(r.Output, 300), r.Err)
		case !kept && r.Err == nil:
			t.Errorf("process_output of start%d, whose output is no longer kept, = %q with no error", i, capString(r.Output, 300))
		}
	}
}

// processID is the ID in a start_process result.
var processID = regexp.MustCompile(`^Process (\S+?)[.:]?\s`)

func testIgnoreSIGTERM(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	const deaf = "trap '' TERM INT HUP; "
	o := h.play(t, attack{
		marker: m,
		moves: []move{
			steps(calls(command("run", h.cmd(m, deaf+"sleep 1000"))))[0],
			steps(calls(call("bg", "start_process", map[string]any{"command": h.cmd(m, deaf+"sleep 1000")})))[0],
			func(results map[string]string) Step {
				id := "unknown"
				if sm := processID.FindStringSubmatch(results["bg"]); sm != nil {
					id = sm[1]
				}
				return calls(call("stop", "stop_process", map[string]any{"id": id}))
			},
			steps(calls(call("left", "start_process", map[string]any{"command": h.cmd(m, deaf+"( trap '' TERM; sleep 1000 ) & sleep 1000")})))[0],
		},
		budget: within(4, T),
	})
	wantError(t, o, "run", "the command was killed when its timeout passed")
	if r := o.result(t, "stop"); r.Err != nil {
		t.Errorf("stop_process of a process ignoring SIGTERM: %q, %v", r.Output, r.Err)
	}
}

func testForkTree(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	const tree = "for i in 1 2 3; do ( ( sleep 1000 & sleep 1000 & wait ) & sleep 1000 & wait ) & done"
	moves := []Step{calls(command("run", h.cmd(m, tree+"; sleep 0.2; echo forked")))}
	if h.processes {
		moves = append(moves, calls(call("bg", "start_process", map[string]any{"command": h.cmd(m, tree+"; wait")})))
	}
	h.play(t, attack{marker: m, moves: steps(moves...), budget: within(2, T)})
}

func testManyProcesses(t *testing.T, h *hostile) {
	m := h.marker()
	var moves []Step
	if h.opts.Shell {
		moves = append(moves, calls(call("many", "start_process", map[string]any{"command": h.cmd(m, "for i in $(seq 200); do sleep 1000 & done; wait")})))
	}
	var cs []Call
	for i := range 60 {
		cs = append(cs, call(fmt.Sprintf("p%d", i), "start_process", map[string]any{"command": h.cmd(m, "sleep 1000")}))
	}
	moves = append(moves, calls(cs...))
	const cancelAfter = 2500 * time.Millisecond
	h.play(t, attack{marker: m, moves: steps(moves...), cancelAfter: cancelAfter, budget: cancelAfter + HostileCallGrace})
}

func testForkBomb(t *testing.T, h *hostile) {
	limit := h.opts.MaxProcesses
	if limit <= 0 {
		t.Skip("the sandbox declares no process limit (HostileOptions.MaxProcesses): a fork bomb would take the machine")
	}
	T := h.opts.ToolTimeout
	m := h.marker()
	// A tree of forks, growing as fast as a fork bomb, that would stop at
	// 2^(depth+1)-1 processes, four times the limit, and at most 8,191:
	// should the limit fail, the machine is spared.
	depth := 1
	for 1<<(depth+1) < 4*limit && depth < 12 {
		depth++
	}
	bomb := fmt.Sprintf("b() { if [ $1 -gt 0 ]; then b $(($1-1)) & b $(($1-1)) & wait; else exec sleep 1000; fi; }; b %d", depth)
	o := h.play(t, attack{
		marker: m,
		moves:  steps(calls(command("bomb", h.cmd(m, bomb)))),
		budget: within(1, T),
	})
	// run_command's own timeout says the command "was killed after" it.
	if r := o.result(t, "bomb"); r.Err == nil || strings.Contains(r.Err.Error(), "was killed after") {
		t.Errorf("a fork bomb under a limit of %d processes = %q, %v; want it killed for its processes, before its timeout", limit, capString(r.Output, 300), r.Err)
	}
}

func testMalformedArguments(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	bad := []Call{
		{Name: "write_file", Args: `{"files":[`},
		{Name: "write_file", Args: `not json`},
		{Name: "write_file", Args: `[]`},
		{Name: "write_file", Args: `"a string"`},
		{Name: "write_file", Args: `null`},
		{Name: "write_file", Args: `{"files":"x"}`},
		{Name: "write_file", Args: `{"files":[{"path":1,"content":"x"}]}`},
		{Name: "write_file", Args: `{"files":[]}`},
		{Name: "read_file", Args: `{"path":"a.txt","offset":-5}`},
		{Name: "read_file", Args: `{"path":"a.txt","offset":1.5}`},
		{Name: "read_file", Args: `{"path":"a.txt","limit":1e400}`},
		{Name: "read_file", Args: `{"path":"a.txt"} trailing`},
		{Name: "read_file", Args: "{\"path\":\"a\x01.txt\"}"},
		{Name: "read_file", Args: "{\"path\":\"a\xff\xfe.txt\",}", Split: 3},
		{Name: "run_command", Args: `{"command":"true","timeout_seconds":1000000000}`},
		{Name: "run_command", Args: `{"command":"true","extra":1}`},
		{Name: "edit_file", Args: `{}`, Split: 1},
		{Name: "list_files", Args: `{"depth":9}`},
	}
	for i := range bad {
		bad[i].ID = fmt.Sprintf("bad%d", i)
	}
	o := h.play(t, attack{marker: h.marker(), moves: steps(calls(bad...)), budget: within(2, T)})
	for _, c := range bad {
		if r := o.result(t, c.ID); !errors.Is(r.Err, agentbox.ErrInvalidArguments) {
			t.Errorf("%s with arguments %q = %q, %v; want an error matching agentbox.ErrInvalidArguments", c.Name, capString(c.Args, 100), capString(r.Output, 200), r.Err)
		}
	}
}

func testHugeArguments(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	const size = 50_000_000
	line := "0123456789abcdef0123456789abcdef0123456789abcdefg\n" // 50 bytes
	content := strings.Repeat(line, size/len(line))
	write := call("huge", "write_file", map[string]any{"files": []map[string]string{{"path": "huge.txt", "content": content}}})
	content = ""
	o := h.play(t, attack{
		marker: h.marker(),
		moves: steps(
			calls(write),
			calls(
				call("list", "list_files", map[string]any{"path": "."}),
				call("read", "read_file", map[string]any{"path": "huge.txt", "limit": 5}),
			),
		),
		budget: within(2, T),
		heap:   HostileHeap + 4*size,
	})
	if r, ok := o.results["huge"]; ok && r.Err == nil {
		if l := o.result(t, "list"); !strings.Contains(l.Output, fmt.Sprintf("huge.txt (%d bytes)", size)) {
			t.Errorf("write_file of %d bytes succeeded, but list_files = %q; want it written whole", size, capString(l.Output, 300))
		}
	}
}

func testDeepJSON(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	nest := func(open, middle, close string, n int) string {
		return strings.Repeat(open, n) + middle + strings.Repeat(close, n)
	}
	deep := []Call{
		{ID: "arrays", Name: "write_file", Args: `{"files":[{"path":"a.txt","content":"x","deep":` + nest("[", "", "]", 9000) + `}]}`},
		{ID: "too-deep", Name: "write_file", Args: `{"files":` + nest("[", "", "]", 200_000) + `}`},
		{ID: "objects", Name: "read_file", Args: `{"path":"a.txt","deep":` + nest(`{"a":`, "1", "}", 9000) + `}`},
		{ID: "unclosed", Name: "edit_file", Args: `{"path":` + strings.Repeat("[", 200_000)},
	}
	o := h.play(t, attack{marker: h.marker(), moves: steps(calls(deep...)), budget: within(2, T)})
	for _, c := range deep {
		if r := o.result(t, c.ID); !errors.Is(r.Err, agentbox.ErrInvalidArguments) {
			t.Errorf("%s with arguments nested deep (%s) = %q, %v; want an error matching agentbox.ErrInvalidArguments", c.Name, c.ID, capString(r.Output, 200), r.Err)
		}
	}
}

func testUnknownTools(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	names := []string{"no_such_tool", "../../bin/sh", "write_file; rm -rf /", strings.Repeat("x", 100_000), "", "WRITE_FILE", "write_file\x00"}
	var cs []Call
	for i, name := range names {
		cs = append(cs, Call{ID: fmt.Sprintf("u%d", i), Name: name, Args: `{"path":"a.txt"}`})
	}
	o := h.play(t, attack{marker: h.marker(), moves: steps(calls(cs...)), budget: within(2, T)})
	for i, name := range names {
		if r := o.result(t, fmt.Sprintf("u%d", i)); !errors.Is(r.Err, agentbox.ErrUnknownTool) {
			t.Errorf("a call of %q = %q, %v; want an error matching agentbox.ErrUnknownTool", capString(name, 40), capString(r.Output, 200), r.Err)
		}
	}
}

func testManyCalls(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	const files, total = 100, 500
	var cs []Call
	for i := range total {
		id := fmt.Sprintf("c%d", i)
		name := fmt.Sprintf("many/%d.txt", i%files)
		if i < files {
			cs = append(cs, call(id, "write_file", map[string]any{"files": []map[string]string{{"path": name, "content": fmt.Sprintf("file %d\n", i)}}}))
		} else {
			cs = append(cs, call(id, "read_file", map[string]any{"path": name}))
		}
	}
	o := h.play(t, attack{marker: h.marker(), moves: steps(calls(cs...)), budget: within(4, T)})
	if len(o.results) != total {
		t.Errorf("%d tool results for %d calls", len(o.results), total)
	}
	for i := files; i < total; i++ {
		id := fmt.Sprintf("c%d", i)
		if r, ok := o.results[id]; ok && (r.Err != nil || r.Output != fmt.Sprintf("file %d\n", i%files)) {
			t.Errorf("read_file many/%d.txt after it was written = %q, %v", i%files, capString(r.Output, 200), r.Err)
		}
	}
}

// changesSandbox is an approval policy: every call but reads needs approval.
func changesSandbox(c agentbox.ToolCall) bool {
	return c.Name != "read_file" && c.Name != "list_files" && c.Name != "process_output"
}

func testDeniedCalls(t *testing.T, h *hostile) {
	T := h.opts.ToolTimeout
	m := h.marker()
	step := []Call{
		call("write", "write_file", map[string]any{"files": []map[string]any{{"path": "denied-write.txt", "content": "x"}}}),
		command("run", h.cmd(m, "echo x > denied-run.txt")),
		call("edit", "edit_file", map[string]any{"path": "kept.txt", "old_string": "kept", "new_string": "changed"}),
		command("ok", h.cmd(m, "echo approved > approved.txt")),
	}
	if h.processes {
		step = append(step, call("bg", "start_process", map[string]any{"command": h.cmd(m, "echo x > denied-bg.txt; sleep 1000")}))
	}
	o := h.play(t, attack{
		marker: m,
		setup: func(ctx context.Context, sb agentbox.Sandbox) error {
			return sb.WriteFiles(ctx, []agentbox.File{{Path: "kept.txt", Data: []byte("kept\n")}})
		},
		moves: steps(
			calls(step...),
			calls(
				call("read-write", "read_file", map[string]any{"path": "denied-write.txt"}),
				call("read-run", "read_file", map[string]any{"path": "denied-run.txt"}),
				call("read-bg", "read_file", map[string]any{"path": "denied-bg.txt"}),
				call("read-kept", "read_file", map[string]any{"path": "kept.txt"}),
				call("read-ok", "read_file", map[string]any{"path": "approved.txt"}),
			),
		),
		needsApproval: changesSandbox,
		approve: func(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
			return agentbox.Approval{Approved: req.ID == "ok", Reason: "not this one"}, nil
		},
		budget: within(2, T),
	})
	for _, c := range step {
		if r := o.result(t, c.ID); c.ID != "ok" && !errors.Is(r.Err, agentbox.ErrDenied) {
			t.Errorf("denied %s (%s) = %q, %v; want an error matching ErrDenied", c.ID, c.Name, capString(r.Output, 300), r.Err)
		}
	}
	wantExit0(t, o, "ok")
	for _, id := range []string{"read-write", "read-run", "read-bg"} {
		wantError(t, o, id, "the file of a denied call does not exist")
	}
	if r := o.result(t, "read-kept"); !strings.Contains(r.Output, "kept") || strings.Contains(r.Output, "changed") {
		t.Errorf("after a denied edit, kept.txt reads %q", capString(r.Output, 300))
	}
	if r := o.result(t, "read-ok"); !strings.Contains(r.Output, "approved") {
		t.Errorf("the approved command's file reads %q, %v", capString(r.Output, 300), r.Err)
	}
}

func testUnansweredCalls(t *testing.T, h *hostile) {
	m := h.marker()
	step := []Call{command("run", h.cmd(m, "echo x > unanswered.txt; sleep 1000"))}
	if h.processes {
		step = append(step, call("bg", "start_process", map[string]any{"command": h.cmd(m, "sleep 1000")}))
	}
	const timeout = time.Second
	o := h.play(t, attack{
		marker:          m,
		moves:           steps(calls(step...)),
		needsApproval:   changesSandbox,
		approve:         NewApprover().Approve,
		approvalTimeout: timeout,
		stop:            agentbox.StopApproval,
		budget:          timeout + HostileCallGrace,
	})
	if len(o.results) != 0 {
		t.Errorf("calls waiting for approval have results: %v", slices.Collect(maps.Keys(o.results)))
	}
	if len(o.done.Pending) != len(step) {
		t.Errorf("Done.Pending = %v, want the %d calls", o.done.Pending, len(step))
	}
}
