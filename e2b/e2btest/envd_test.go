package e2btest_test

// Facts of the real envd 0.6.13 that the fake reproduces, each checked with
// raw HTTP requests or generated Connect clients, as a client would see it.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem"
	"github.com/agentbox/agentbox/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/agentbox/agentbox/e2b/internal/envd/process"
	"github.com/agentbox/agentbox/e2b/internal/envd/process/processconnect"
)

// envd is a sandbox of the fake, not secure, reached directly.
type envd struct {
	srv  *e2btest.Server
	id   string
	url  string
	raw  *http.Client // asks for no compression of its own
	proc processconnect.ProcessClient
	fs   filesystemconnect.FilesystemClient
}

func newEnvd(t *testing.T) *envd {
	t.Helper()
	srv := e2btest.NewServer(t, e2btest.Options{})
	id, _ := create(t, srv, `{"templateID":"base"}`)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DisableCompression = true
	t.Cleanup(tr.CloseIdleConnections)
	raw := &http.Client{Transport: tr}
	url := fmt.Sprintf("https://49983-%s.%s", id, e2btest.Domain)
	return &envd{
		srv: srv, id: id, url: url, raw: raw,
		proc: processconnect.NewProcessClient(raw, url),
		fs:   filesystemconnect.NewFilesystemClient(raw, url, connect.WithProtoJSON()),
	}
}

// get sends a request to envd's HTTP API.
func (e *envd) do(t *testing.T, method, path string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.raw.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(data)
}

func TestEnvdDownload(t *testing.T) {
	e := newEnvd(t)
	if err := os.WriteFile(filepath.Join(e.srv.Home(e.id), "hello.txt"), []byte("hello, world"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<10) // more than net/http buffers before it must send a length
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(e.srv.Home(e.id), "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("identity, a type guessed, inline", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/files?path=hello.txt", nil, nil)
		if resp.StatusCode != 200 || body != "hello, world" || resp.ContentLength != 12 {
			t.Errorf("GET = %d %q (length %d), want 200 and the file", resp.StatusCode, body, resp.ContentLength)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q, want text/plain; charset=utf-8 (from the name)", got)
		}
		if got := resp.Header.Get("Content-Disposition"); got != `inline; filename=hello.txt` {
			t.Errorf("Content-Disposition %q, want inline with the file's name", got)
		}
	})

	t.Run("gzip when accepted, with no length", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/files?path=big.bin", nil, http.Header{"Accept-Encoding": {"gzip"}})
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
			t.Fatalf("GET accepting gzip: Content-Encoding %q, length %d; want gzip and no Content-Length", resp.Header.Get("Content-Encoding"), resp.ContentLength)
		}
		if got := resp.Header.Get("Content-Type"); got != "application/octet-stream" {
			t.Errorf("Content-Type %q, want application/octet-stream for an unknown extension", got)
		}
		zr, err := gzip.NewReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if data, err := io.ReadAll(zr); err != nil || !bytes.Equal(data, big) {
			t.Errorf("gunzipped body of %d bytes, %v; want the file's %d", len(data), err, len(big))
		}
	})

	t.Run("Range answers 206", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/files?path=hello.txt", nil, http.Header{"Range": {"bytes=7-"}, "Accept-Encoding": {"gzip"}})
		if resp.StatusCode != http.StatusPartialContent || body != "world" || resp.Header.Get("Content-Range") != "bytes 7-11/12" || resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("GET with Range = %d %q, Content-Range %q, Content-Encoding %q; want 206, world, not gzipped",
				resp.StatusCode, body, resp.Header.Get("Content-Range"), resp.Header.Get("Content-Encoding"))
		}
	})

	t.Run("no path is the workdir", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/files", nil, nil)
		want := fmt.Sprintf(`{"code":400,"message":"path '%s' is a directory"}`, e.srv.Workdir(e.id))
		if resp.StatusCode != 400 || strings.TrimSpace(body) != want {
			t.Errorf("GET with no path = %d %s, want 400 %s", resp.StatusCode, body, want)
		}
	})
}

func TestEnvdUnknownUser(t *testing.T) {
	e := newEnvd(t)
	resp, body := e.do(t, "GET", "/files?path=x&username=nobody", nil, nil)
	if want := `{"code":401,"message":"error looking up user 'nobody': user: unknown user nobody"}`; resp.StatusCode != 401 || strings.TrimSpace(body) != want {
		t.Errorf("GET /files as nobody = %d %s, want 401 %s", resp.StatusCode, body, want)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q, want envd's application/json; charset=utf-8", got)
	}

	// A Basic authorization is checked before any handler, by envd's
	// authn middleware, which answers as Connect does.
	resp, body = e.do(t, "GET", "/files?path=x", nil, http.Header{"Authorization": {"Basic " + basic("nobody")}})
	if want := `{"code":"unauthenticated","message":"invalid username: 'nobody'"}`; resp.StatusCode != 401 || body != want {
		t.Errorf("GET /files with Basic nobody = %d %s, want 401 %s", resp.StatusCode, body, want)
	}

	req := connect.NewRequest(&filesystem.ListDirRequest{Path: "~"})
	req.Header().Set("Authorization", "Basic "+basic("nobody"))
	_, err := e.fs.ListDir(t.Context(), req)
	if connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), "invalid username: 'nobody'") {
		t.Errorf("ListDir as nobody: %v, want unauthenticated: invalid username: 'nobody'", err)
	}
	start := connect.NewRequest(&process.StartRequest{Process: &process.ProcessConfig{Cmd: "true"}})
	start.Header().Set("Authorization", "Basic "+basic("nobody"))
	st, err := e.proc.Start(t.Context(), start)
	if err == nil {
		for st.Receive() {
		}
		err = st.Err()
		st.Close()
	}
	if connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), "invalid username: 'nobody'") {
		t.Errorf("Start as nobody: %v, want unauthenticated: invalid username: 'nobody'", err)
	}

	// root exists, with a home of its own.
	start = connect.NewRequest(&process.StartRequest{Process: &process.ProcessConfig{Cmd: "/bin/sh", Args: []string{"-c", "echo $USER:$LOGNAME; pwd"}, Cwd: ptr("~")}})
	start.Header().Set("Authorization", "Basic "+basic("root"))
	end, out, _ := run(t, e, start)
	if end.GetExitCode() != 0 || !strings.HasPrefix(out, "root:root\n") || strings.Contains(out, e.srv.Home(e.id)) {
		t.Errorf("as root: exit %d, output %q; want root:root and a home that is not user's", end.GetExitCode(), out)
	}
}

func basic(user string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":"))
}

func TestEnvdUploads(t *testing.T) {
	e := newEnvd(t)
	home := e.srv.Home(e.id)
	if err := os.Mkdir(filepath.Join(home, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	upload := func(name string) (*http.Response, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="file"; filename=%q`, name)}
		w, _ := mw.CreatePart(h)
		w.Write([]byte("data"))
		mw.Close()
		return e.do(t, "POST", "/files", &buf, http.Header{"Content-Type": {mw.FormDataContentType()}})
	}
	for _, tt := range []struct {
		name   string
		status int
		msg    string
	}{
		{"dir", 400, "path is a directory: " + filepath.Join(home, "dir")},
		{"file/below", 500, "error ensuring directories: path is a file: " + filepath.Join(home, "file")},
	} {
		resp, body := upload(tt.name)
		var got struct {
			Code    int
			Message string
		}
		if json.Unmarshal([]byte(body), &got) != nil || resp.StatusCode != tt.status || got.Code != tt.status || got.Message != tt.msg {
			t.Errorf("upload to %s = %d %s, want %d %q", tt.name, resp.StatusCode, body, tt.status, tt.msg)
		}
	}

	resp, body := e.do(t, "POST", "/files?path=raw/r.bin", strings.NewReader("raw body"), http.Header{"Content-Type": {"application/octet-stream"}})
	want := fmt.Sprintf(`[{"name":"r.bin","path":"%s","type":"file"}]`, filepath.Join(home, "raw/r.bin"))
	if resp.StatusCode != 200 || body != want || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("raw upload = %d %s (%s), want 200 %s as text/plain", resp.StatusCode, body, resp.Header.Get("Content-Type"), want)
	}
	if data, err := os.ReadFile(filepath.Join(home, "raw/r.bin")); err != nil || string(data) != "raw body" {
		t.Errorf("raw upload wrote %q, %v", data, err)
	}
}

func TestEnvdListDir(t *testing.T) {
	e := newEnvd(t)
	home := e.srv.Home(e.id)
	target := filepath.Join(home, "target.txt")
	if err := os.WriteFile(target, []byte("eleven byte"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target.txt", filepath.Join(home, "link")); err != nil {
		t.Fatal(err)
	}
	resp, err := e.fs.ListDir(t.Context(), connect.NewRequest(&filesystem.ListDirRequest{Path: "~", Depth: 1}))
	if err != nil {
		t.Fatal(err)
	}
	owner, group := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	var link *filesystem.EntryInfo
	for _, en := range resp.Msg.GetEntries() {
		if en.GetOwner() != owner || en.GetGroup() != group {
			t.Errorf("%s is owned by %s:%s, want the names of its owner, %s:%s", en.GetName(), en.GetOwner(), en.GetGroup(), owner, group)
		}
		if en.GetName() == "link" {
			link = en
		}
	}
	if link == nil {
		t.Fatalf("ListDir lists %v, without link", resp.Msg.GetEntries())
	}
	if link.GetType() != filesystem.FileType_FILE_TYPE_FILE || link.GetMode() != 0o640 || link.GetPermissions() != "Lrwxrwxrwx" ||
		link.GetSymlinkTarget() != target || link.GetPath() != filepath.Join(home, "link") || link.GetSize() != int64(len("target.txt")) {
		t.Errorf("the symbolic link is listed as %v; want type FILE, its target's mode 0640, permissions Lrwxrwxrwx, the absolute target %s, and its own size %d",
			link, target, len("target.txt"))
	}

	missing := filepath.Join(home, "missing")
	_, err = e.fs.ListDir(t.Context(), connect.NewRequest(&filesystem.ListDirRequest{Path: "missing/deeper"}))
	var ce *connect.Error
	if want := "path not found: lstat " + missing + ": no such file or directory"; !errors.As(err, &ce) || ce.Code() != connect.CodeNotFound || ce.Message() != want {
		t.Errorf("ListDir of a missing folder: %v, want not_found %q", err, want)
	}
}

// run runs a process to its end and returns its end event and output.
func run(t *testing.T, e *envd, req *connect.Request[process.StartRequest]) (end *process.ProcessEvent_EndEvent, stdout, stderr string) {
	t.Helper()
	st, err := e.proc.Start(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for st.Receive() {
		ev := st.Msg().GetEvent()
		stdout += string(ev.GetData().GetStdout())
		stderr += string(ev.GetData().GetStderr())
		if ev.GetEnd() != nil {
			end = ev.GetEnd()
		}
	}
	if err := st.Err(); err != nil || end == nil {
		t.Fatalf("Start %v: the stream ended with %v and end %v", req.Msg, err, end)
	}
	return end, stdout, stderr
}

func shell(script string) *connect.Request[process.StartRequest] {
	return connect.NewRequest(&process.StartRequest{Process: &process.ProcessConfig{Cmd: "/bin/sh", Args: []string{"-c", script}}})
}

func TestEnvdWrapsCommands(t *testing.T) {
	e := newEnvd(t)
	t.Run("a missing binary exits 127, nice says why", func(t *testing.T) {
		end, _, stderr := run(t, e, connect.NewRequest(&process.StartRequest{Process: &process.ProcessConfig{Cmd: "no-such-binary"}}))
		if end.GetExitCode() != 127 || end.GetError() != "exit status 127" || !strings.Contains(stderr, "no-such-binary") {
			t.Errorf("end %v, stderr %q; want exit 127 and a message naming the binary", end, stderr)
		}
		if _, err := os.Stat("/usr/bin/nice"); err == nil && !strings.Contains(stderr, "nice: ") {
			t.Errorf("stderr %q, want it from nice, which envd's wrapper execs", stderr)
		}
	})
	t.Run("an empty command exits 127", func(t *testing.T) {
		end, _, _ := run(t, e, connect.NewRequest(&process.StartRequest{Process: &process.ProcessConfig{}}))
		if end.GetExitCode() != 127 {
			t.Errorf("end %v, want exit 127", end)
		}
	})
	t.Run("USER, LOGNAME, HOME and PWD", func(t *testing.T) {
		req := shell(`echo "$USER $LOGNAME $HOME $PWD"`)
		req.Msg.Process.Cwd = ptr("~")
		_, out, _ := run(t, e, req)
		home := e.srv.Home(e.id)
		if want := fmt.Sprintf("user user %s %s\n", home, home); out != want {
			t.Errorf("output %q, want %q", out, want)
		}
		_, out, _ = run(t, e, shell(`echo "$PWD"`))
		if want := e.srv.Workdir(e.id) + "\n"; out != want {
			t.Errorf("with no cwd, PWD is %q, want the template's workdir %q", out, want)
		}
	})
	t.Run("the process group is envd's", func(t *testing.T) {
		_, out, _ := run(t, e, shell(`ps -o pgid= -p $$ 2>/dev/null || cut -d' ' -f5 /proc/$$/stat`))
		if pgid, err := strconv.Atoi(strings.TrimSpace(out)); err != nil || pgid != syscall.Getpgrp() {
			t.Errorf("the command's process group is %q, want envd's own, %d", out, syscall.Getpgrp())
		}
	})
	t.Run("the end carries error and status", func(t *testing.T) {
		end, _, _ := run(t, e, shell("exit 7"))
		if end.GetExitCode() != 7 || !end.GetExited() || end.GetStatus() != "exit status 7" || end.GetError() != "exit status 7" {
			t.Errorf("end %v, want exit 7 with status and error exit status 7", end)
		}
		end, _, _ = run(t, e, shell("kill -TERM $$"))
		if end.GetExitCode() != -1 || end.GetExited() || end.GetStatus() != "signal: terminated" || end.GetError() != "signal: terminated" {
			t.Errorf("end %v, want -1, not exited, status and error signal: terminated", end)
		}
		end, _, _ = run(t, e, shell("true"))
		if end.Error != nil {
			t.Errorf("end %v, want no error for exit 0", end)
		}
	})
}

func TestEnvdReplaysAnEndedProcess(t *testing.T) {
	e := newEnvd(t)
	tag := "replayed"
	req := shell("exit 7")
	req.Msg.Tag = &tag
	end, _, _ := run(t, e, req)
	list, err := e.proc.List(t.Context(), connect.NewRequest(&process.ListRequest{}))
	if err != nil || len(list.Msg.GetProcesses()) != 0 {
		t.Errorf("List after the end = %v, %v; want no process", list, err)
	}
	var pid uint32
	for _, sel := range []*process.ProcessSelector{
		{Selector: &process.ProcessSelector_Tag{Tag: tag}},
		nil, // by the pid the first answer gave
	} {
		if sel == nil {
			sel = &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: pid}}
		}
		st, err := e.proc.Connect(t.Context(), connect.NewRequest(&process.ConnectRequest{Process: sel}))
		if err != nil {
			t.Fatal(err)
		}
		var events []*process.ProcessEvent
		for st.Receive() {
			events = append(events, st.Msg().GetEvent())
		}
		st.Close()
		if st.Err() != nil || len(events) != 2 || events[0].GetStart().GetPid() == 0 || events[1].GetEnd().GetExitCode() != 7 || events[1].GetEnd().GetError() != end.GetError() {
			t.Fatalf("Connect to the ended process (%v): %v, %v; want its start and its end, exit 7", sel, events, st.Err())
		}
		pid = events[0].GetStart().GetPid()
	}

	// After the retention, it is not found.
	e2btest.SetEndedRetention(t, 0)
	run(t, e, shell("exit 3"))
	tag2 := "forgotten"
	req = shell("true")
	req.Msg.Tag = &tag2
	run(t, e, req)
	st, err := e.proc.Connect(t.Context(), connect.NewRequest(&process.ConnectRequest{Process: &process.ProcessSelector{Selector: &process.ProcessSelector_Tag{Tag: tag2}}}))
	if err == nil {
		for st.Receive() {
		}
		err = st.Err()
		st.Close()
	}
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("Connect to a process ended longer ago than envd keeps them: %v, want not_found", err)
	}
}

func TestEnvdKeepaliveZeroBreaksTheStream(t *testing.T) {
	e := newEnvd(t)
	for _, v := range []string{"0", "-5"} {
		req := shell("sleep 0.2")
		req.Header().Set("Keepalive-Ping-Interval", v)
		st, err := e.proc.Start(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		var events []*process.ProcessEvent
		for st.Receive() {
			events = append(events, st.Msg().GetEvent())
		}
		st.Close()
		if st.Err() == nil || len(events) != 1 || events[0].GetStart() == nil {
			t.Errorf("Keepalive-Ping-Interval %s: events %v, error %v; want the start event, then a broken stream", v, events, st.Err())
		}
	}
}

func TestEnvdSandboxDeathKillsEverything(t *testing.T) {
	e := newEnvd(t)
	// A child of the command, and a process it left behind when it ended.
	run(t, e, shell(`(sleep 1000 >/dev/null 2>&1 & echo $! > orphan.pid); exit 0`))
	done := make(chan struct{})
	go func() {
		defer close(done)
		st, err := e.proc.Start(context.WithoutCancel(t.Context()), shell(`sleep 1000 & echo $! > child.pid; wait`))
		if err == nil {
			for st.Receive() {
			}
			st.Close()
		}
	}()
	pids := map[string]int{}
	for _, name := range []string{"orphan.pid", "child.pid"} {
		for deadline := time.Now().Add(10 * time.Second); pids[name] == 0; time.Sleep(10 * time.Millisecond) {
			data, _ := os.ReadFile(filepath.Join(e.srv.Workdir(e.id), name))
			pids[name], _ = strconv.Atoi(strings.TrimSpace(string(data)))
			if time.Now().After(deadline) {
				t.Fatalf("no %s", name)
			}
		}
	}
	e.srv.Kill(e.id)
	<-done
	for name, pid := range pids {
		for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%s (%d) outlived its sandbox", name, pid)
				break
			}
		}
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(data), ") ")
	return !strings.HasPrefix(after, "Z")
}

func ptr[T any](v T) *T { return &v }
