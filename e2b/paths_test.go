package e2b_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestRelativePathsNameOneFile checks that a relative path names the same
// file for the file tools and for commands, on a template whose workdir is
// not the user's home (the fake's never is): envd resolves relative file
// paths against the home but runs a command sent with no cwd in the
// workdir.
func TestRelativePathsNameOneFile(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	ctx := t.Context()
	if srv.Workdir(sb.ID()) == srv.Home(sb.ID()) {
		t.Fatal("the fake's workdir is its home: this test would prove nothing")
	}
	files := []agentbox.File{{Path: "hello.txt", Data: []byte("hi\n")}, {Path: "sub/there.txt", Data: []byte("there\n")}}
	if err := sb.WriteFiles(ctx, files); err != nil {
		t.Fatal(err)
	}
	run := func(cmd agentbox.Command) string {
		t.Helper()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		res, err := sb.Run(ctx, cmd)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("%q in %q: exit %d, %v: %s", cmd.Cmd, cmd.Dir, res.ExitCode, err, out.String())
		}
		return out.String()
	}
	if got := run(agentbox.Command{Cmd: "cat hello.txt sub/there.txt"}); got != "hi\nthere\n" {
		t.Errorf("cat of the written files = %q", got)
	}
	if got := run(agentbox.Command{Cmd: "pwd"}); strings.TrimSpace(got) != srv.Home(sb.ID()) {
		t.Errorf("a command with no Dir ran in %q, want the home %q", strings.TrimSpace(got), srv.Home(sb.ID()))
	}
	if got := run(agentbox.Command{Cmd: "cat there.txt && echo made > made.txt", Dir: "sub"}); got != "there\n" {
		t.Errorf("cat in Dir sub = %q", got)
	}
	r, err := sb.Open(ctx, "sub/made.txt")
	if err != nil {
		t.Fatalf("Open of the file a command wrote in Dir sub: %v", err)
	}
	data, _ := io.ReadAll(r)
	r.Close()
	if string(data) != "made\n" {
		t.Errorf("sub/made.txt = %q", data)
	}
	list, err := sb.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range list {
		names = append(names, fi.Path)
	}
	if strings.Join(names, " ") != "hello.txt sub" {
		t.Errorf("List of the home = %q, want hello.txt sub", names)
	}
	var out bytes.Buffer
	p, err := sb.StartProcess(ctx, agentbox.Command{Cmd: "cat hello.txt", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.Wait(ctx); err != nil || res.ExitCode != 0 || out.String() != "hi\n" {
		t.Errorf("a background cat of hello.txt: exit %d, %v, %q", res.ExitCode, err, out.String())
	}
}
