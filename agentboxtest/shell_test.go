package agentboxtest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/google/go-cmp/cmp"
)

func TestShell(t *testing.T) {
	env := map[string]string{"V": "x", "SPACED": "a  b"}
	for _, tt := range []struct {
		cmd, dir       string
		stdout, stderr string
		code           int
		files          map[string]string // changed files; "" means removed
	}{
		// words, quotes, escapes, expansion
		{cmd: "echo hello   world", stdout: "hello world\n"},
		{cmd: "echo -n hi", stdout: "hi"},
		{cmd: "echo -n", stdout: ""},
		{cmd: "echo", stdout: "\n"},
		{cmd: `echo 'single $V "q" \n'`, stdout: "single $V \"q\" \\n\n"},
		{cmd: `echo "double $V \"q\" \\ \$ \a"`, stdout: "double x \"q\" \\ $ \\a\n"},
		{cmd: `echo a\ b\;c\\`, stdout: "a b;c\\\n"},
		{cmd: `echo trailing\`, stdout: "trailing\\\n"},
		{cmd: `echo "a"'b'c`, stdout: "abc\n"},
		{cmd: `echo ${V}y $V$V`, stdout: "xy xx\n"},
		{cmd: `echo $UNSET end`, stdout: "end\n"},
		{cmd: `echo "$UNSET" end`, stdout: " end\n"},
		{cmd: `echo '' end`, stdout: " end\n"},
		{cmd: `echo $SPACED`, stdout: "a  b\n"},
		{cmd: `echo $ "$" ${V ${V}`, stdout: "$ $ ${V x\n"},
		{cmd: `echo $1x`, stdout: "$1x\n"},
		{cmd: `echo ${} ${1} ${V}`, stdout: "${} ${1} x\n"},
		{cmd: "echo a \\\nb", stdout: "a b\n"},
		{cmd: "echo \"a \\\nb\"", stdout: "a b\n"},
		{cmd: "# a comment\necho x # another\necho y#z", stdout: "x\ny#z\n"},
		{cmd: "echo 2>x", stdout: "\n", files: map[string]string{"x": ""}},
		{cmd: "echo a2>x", stdout: "", files: map[string]string{"x": "a2\n"}},

		// lists
		{cmd: "echo a; echo b\necho c;", stdout: "a\nb\nc\n"},
		{cmd: "\n\n;echo a;;\n", stdout: "a\n"},
		{cmd: "true && echo yes", stdout: "yes\n"},
		{cmd: "false && echo no", code: 1},
		{cmd: "false || echo alt", stdout: "alt\n"},
		{cmd: "true || echo no; echo next", stdout: "next\n"},
		{cmd: "false && echo a || echo b", stdout: "b\n"},
		{cmd: "true &&\necho continued", stdout: "continued\n"},
		{cmd: "false; true", code: 0},
		{cmd: "true; false", code: 1},

		// redirections
		{cmd: "echo err >&2", stderr: "err\n"},
		{cmd: "echo err 1>&2", stderr: "err\n"},
		{cmd: "cat missing 2>&1", stdout: "cat: missing: No such file or directory\n", code: 1},
		{cmd: "cat missing 2>&1 >out.txt", stdout: "cat: missing: No such file or directory\n", code: 1, files: map[string]string{"out.txt": ""}},
		{cmd: "echo hi > out.txt; echo again >>out.txt; cat out.txt", stdout: "hi\nagain\n", files: map[string]string{"out.txt": "hi\nagain\n"}},
		{cmd: "echo new > hello.txt", files: map[string]string{"hello.txt": "new\n"}},
		{cmd: "echo x 2>/dev/null; cat missing 2>/dev/null; echo y >/dev/null", stdout: "x\n"},
		{cmd: "cat missing 2> err.txt", code: 1, files: map[string]string{"err.txt": "cat: missing: No such file or directory\n"}},
		{cmd: "echo a > both.txt 2>&1; cat missing >>both.txt 2>&1", code: 1, files: map[string]string{"both.txt": "a\ncat: missing: No such file or directory\n"}},
		{cmd: "> empty.txt", files: map[string]string{"empty.txt": ""}},
		{cmd: "echo f > g.txt", dir: "sub", files: map[string]string{"sub/g.txt": "f\n"}},
		{cmd: "echo x > sub; echo after", stdout: "after\n", stderr: "sh: sub: Is a directory\n"},
		{cmd: "echo x > hello.txt/y", stderr: "sh: hello.txt/y: Not a directory\n", code: 1},
		{cmd: "echo x > ../../y", dir: "sub", stderr: "sh: ../../y: path is outside the workspace\n", code: 1},

		// exit
		{cmd: "exit 3; echo no", code: 3},
		{cmd: "echo a && exit 4 || echo no", stdout: "a\n", code: 4},
		{cmd: "false; exit", code: 1},
		{cmd: "exit 256", code: 0},
		{cmd: "exit -1", code: 255},
		{cmd: "exit abc", stderr: "exit: abc: numeric argument required\n", code: 2},

		// commands
		{cmd: "nosuch arg", stderr: "nosuch: command not found\n", code: 127},
		{cmd: "nosuch || echo recovered", stdout: "recovered\n", stderr: "nosuch: command not found\n"},
		{cmd: `printf '%s=%d\n' a 1 b 2`, stdout: "a=1\nb=2\n"},
		{cmd: `printf '%s,%s\n' a b c`, stdout: "a,b\nc,\n"},
		{cmd: `printf '100%%\t%s\\n' x`, stdout: "100%\tx\\n"},
		{cmd: `printf x%sy`, stdout: "xy"},
		{cmd: `printf 'no verbs\n' a b`, stdout: "no verbs\n"},
		{cmd: `printf '%d %d' " 7" ""`, stdout: "7 0"},
		{cmd: `printf '%q %' a`, stdout: "%q %"},
		{cmd: `printf '\q'`, stdout: "\\q"},
		{cmd: `printf '%d' abc`, stdout: "0", stderr: "printf: abc: invalid number\n", code: 1},
		{cmd: `printf`, stderr: "printf: usage: printf FORMAT [ARG...]\n", code: 2},
		{cmd: "cat hello.txt sub/f.txt", stdout: "hello\nf\n"},
		{cmd: "cat f.txt /hello.txt ../hello.txt", dir: "sub", stdout: "f\nhello\nhello\n"},
		{cmd: "cat", dir: "/sub/"},
		{cmd: "cat sub missing hello.txt", stdout: "hello\n", stderr: "cat: sub: Is a directory\ncat: missing: No such file or directory\n", code: 1},
		{cmd: "cat ../../x", dir: "sub", stderr: "cat: ../../x: path is outside the workspace\n", code: 1},
		{cmd: "ls", stdout: "hello.txt\nsub\n"},
		{cmd: "ls sub", stdout: "f.txt\n"},
		{cmd: "ls", dir: "sub", stdout: "f.txt\n"},
		{cmd: "ls hello.txt", stdout: "hello.txt\n"},
		{cmd: "ls missing", stderr: "ls: cannot access 'missing': No such file or directory\n", code: 2},
		{cmd: "ls -la", stderr: "ls: usage: ls [DIR]\n", code: 2},
		{cmd: "pwd", stdout: "/\n"},
		{cmd: "pwd", dir: "sub", stdout: "/sub\n"},
		{cmd: "pwd", dir: "/sub/./", stdout: "/sub\n"},
		{cmd: "sleep 0 && sleep 0.001", code: 0},
		{cmd: "sleep x", stderr: "sleep: invalid time interval 'x'\n", code: 1},
		{cmd: "sleep -1", stderr: "sleep: invalid time interval '-1'\n", code: 1},
		{cmd: "true && : && false", code: 1},
		{cmd: "rm hello.txt", files: map[string]string{"hello.txt": ""}},
		{cmd: "rm missing", stderr: "rm: cannot remove 'missing': No such file or directory\n", code: 1},
		{cmd: "rm -f missing hello.txt", files: map[string]string{"hello.txt": ""}},
		{cmd: "rm -f", code: 0},
		{cmd: "rm", stderr: "rm: missing operand\n", code: 1},
		{cmd: "rm -x f", stderr: "rm: invalid option -- 'x'\n", code: 1},
		{cmd: "rm sub", stderr: "rm: cannot remove 'sub': Is a directory\n", code: 1},
		{cmd: "rm -rf sub; ls", stdout: "hello.txt\n", files: map[string]string{"sub/f.txt": ""}},
		{cmd: "rm -r .", stderr: "rm: cannot remove '.': Is a directory\n", code: 1},
		{cmd: "rm ../x", dir: "sub", stderr: "rm: cannot remove '../x': No such file or directory\n", code: 1},
		{cmd: "mkdir new && mkdir -p sub/a/b sub && mkdir -p", code: 1, stderr: "mkdir: missing operand\n"},
		{cmd: "mkdir sub", stderr: "mkdir: cannot create directory 'sub': File exists\n", code: 1},
		{cmd: "mkdir .", stderr: "mkdir: cannot create directory '.': File exists\n", code: 1},
		{cmd: "mkdir -p .", code: 0},
		{cmd: "mkdir hello.txt", stderr: "mkdir: cannot create directory 'hello.txt': File exists\n", code: 1},
		{cmd: "mkdir -p hello.txt/x", stderr: "mkdir: cannot create directory 'hello.txt/x': Not a directory\n", code: 1},
		{cmd: "mkdir ../../x", dir: "sub", stderr: "mkdir: cannot create directory '../../x': path is outside the workspace\n", code: 1},

		// test
		{cmd: "test -f hello.txt && [ -d sub ] && [ -e sub/f.txt ] && [ -e sub ]", code: 0},
		{cmd: "[ -f sub ]", code: 1},
		{cmd: "[ -d hello.txt ]", code: 1},
		{cmd: "[ -e missing ]", code: 1},
		{cmd: "[ ! -f sub ]", code: 0},
		{cmd: "test -f ../../x", dir: "sub", code: 1},
		{cmd: `[ -n "$V" ] && [ -z "$UNSET" ] && [ a = a ] && [ a == a ] && [ x ]`, code: 0},
		{cmd: `[ a != a ]`, code: 1},
		{cmd: `[ a != b ]`, code: 0},
		{cmd: `[ -n "" ]`, code: 1},
		{cmd: `[ ]`, code: 1},
		{cmd: `[ ! ]`, code: 0},
		{cmd: `[ -f hello.txt`, stderr: "[: missing ']'\n", code: 2},
		{cmd: `test a b c d`, stderr: "test: unsupported expression: a b c d\n", code: 2},

		// syntax errors
		{cmd: "echo a | cat", stderr: "sh: syntax error: '|' is not supported\n", code: 2},
		{cmd: "echo a &", stderr: "sh: syntax error: '&' is not supported\n", code: 2},
		{cmd: "echo 'open", stderr: "sh: syntax error: unterminated '\n", code: 2},
		{cmd: `echo "open`, stderr: "sh: syntax error: unterminated \"\n", code: 2},
		{cmd: "&& echo", stderr: "sh: syntax error: unexpected \"&&\"\n", code: 2},
		{cmd: "echo a ||", stderr: "sh: syntax error: unexpected end after \"||\"\n", code: 2},
		{cmd: "echo >", stderr: "sh: syntax error: a redirection lacks its file\n", code: 2},
		{cmd: "echo > ;", stderr: "sh: syntax error: a redirection lacks its file\n", code: 2},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			sb := NewSandbox()
			defer sb.Close(t.Context())
			sb.SetFile("hello.txt", []byte("hello\n"))
			sb.SetFile("sub/f.txt", []byte("f\n"))
			before := sb.Files()
			var stdout, stderr strings.Builder
			res, err := sb.Run(t.Context(), agentbox.Command{Cmd: tt.cmd, Dir: tt.dir, Env: env, Stdout: &stdout, Stderr: &stderr})
			if err != nil || res.ExitCode != tt.code {
				t.Errorf("Run = %+v, %v, want exit code %d", res, err, tt.code)
			}
			if stdout.String() != tt.stdout || stderr.String() != tt.stderr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), tt.stdout, tt.stderr)
			}
			want := map[string]string{}
			for name, data := range before {
				want[name] = string(data)
			}
			for name, data := range tt.files {
				want[name] = data
				if data == "" && before[name] != nil {
					delete(want, name)
				}
			}
			got := map[string]string{}
			for name, data := range sb.Files() {
				got[name] = string(data)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("files mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShellDirect(t *testing.T) {
	sb := NewSandbox()
	defer sb.Close(t.Context())
	if res, err := Shell(t.Context(), sb, agentbox.Command{Cmd: "echo discarded; echo too >&2"}); err != nil || res.ExitCode != 0 {
		t.Errorf("Shell with nil writers = %+v, %v", res, err)
	}
	var stderr strings.Builder
	res, err := Shell(t.Context(), sb, agentbox.Command{Cmd: "true", Dir: "../x", Stderr: &stderr})
	if err != nil || res.ExitCode != 1 || !strings.Contains(stderr.String(), "outside the workspace") {
		t.Errorf("Shell with Dir ../x = %+v, %v, stderr %q", res, err, stderr.String())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if res, err := Shell(ctx, sb, agentbox.Command{Cmd: "echo x"}); !errors.Is(err, context.Canceled) || res.ExitCode != -1 {
		t.Errorf("Shell with a done ctx = %+v, %v", res, err)
	}
}

func TestShellSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := NewSandbox()
		defer sb.Close(context.Background())
		start := time.Now()
		if res, err := sb.Run(t.Context(), agentbox.Command{Cmd: "sleep 1.5; sleep 2"}); err != nil || res.ExitCode != 0 {
			t.Errorf("Run = %+v, %v", res, err)
		}
		if d := time.Since(start); d != 3500*time.Millisecond {
			t.Errorf("slept %v, want 3.5s", d)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if res, err := Shell(ctx, sb, agentbox.Command{Cmd: "sleep 2; echo late"}); !errors.Is(err, context.DeadlineExceeded) || res.ExitCode != -1 {
			t.Errorf("Shell with a short ctx = %+v, %v", res, err)
		}
	})
}
