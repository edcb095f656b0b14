package agentboxtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/agentbox/agentbox"
)

// Shell answers commands by interpreting a small subset of POSIX sh against
// the sandbox's files, so that tests and the conformance suite can use
// ordinary commands without a real shell. It is the default Handler of a
// [Sandbox].
//
// A command line is a list of simple commands separated by newlines, ";",
// "&&" and "||"; "a && b || c" runs as in sh. There are no pipes, subshells,
// background jobs, variable assignments, globs or input redirections.
//
// Words are separated by spaces and tabs. Characters are quoted by
// '...', by "..." (inside which \", \\, \$ and \` are escapes), and by a
// backslash before them; a backslash before a newline joins the lines. A "#"
// at the start of a word begins a comment that runs to the end of the line.
// $NAME and ${NAME} expand to cmd.Env[NAME], empty when unset, except inside
// single quotes; the value is not split into fields, and an unquoted empty
// expansion makes no word.
//
// A command may redirect its output: ">FILE" and "1>FILE" write stdout to
// FILE, ">>FILE" appends to it, "2>FILE" and "2>>FILE" do the same for
// stderr, ">&2" and "1>&2" send stdout to stderr, "2>&1" sends stderr to
// stdout. Redirections apply left to right. Files are in the sandbox,
// relative to cmd.Dir; "/dev/null" discards.
//
// The commands are builtins:
//
//	echo [-n] [ARG...]         ARGs joined by spaces, then a newline unless -n
//	printf FORMAT [ARG...]     FORMAT with %s, %d, %% and the escapes \n, \t,
//	                           \\; it is reused while ARGs remain
//	cat [FILE...]              the FILEs' contents
//	ls [DIR]                   the names in DIR (or cmd.Dir), one a line
//	pwd                        "/" followed by cmd.Dir, cleaned
//	sleep SECONDS              waits, SECONDS being a decimal number
//	exit [N]                   ends the command line with status N (or that
//	                           of the last command)
//	true, :                    status 0
//	false                      status 1
//	rm [-f] [-r] FILE...       removes FILEs (-r: directories too)
//	mkdir [-p] DIR...          checks that DIRs could be made; directories
//	                           exist only while they hold a file
//	test EXPR, [ EXPR ]        EXPR is -e, -f or -d FILE, -n or -z STRING,
//	                           S1 = S2, S1 != S2, or STRING, maybe after !
//
// Any other command writes "NAME: command not found" to stderr and has
// status 127. Failing builtins write a message to stderr and have a non-zero
// status; a syntax error has status 2. The status of the command line is that
// of the last command run. When ctx is done, Shell stops and returns
// ExitCode -1 and ctx.Err().
func Shell(ctx context.Context, sb *Sandbox, cmd agentbox.Command) (agentbox.Result, error) {
	cmd = prepare(cmd)
	sh := &shell{sb: sb, env: cmd.Env, stdout: cmd.Stdout, stderr: cmd.Stderr}
	dir, err := clean("chdir", cmd.Dir)
	if err != nil {
		fmt.Fprintf(sh.stderr, "sh: %v\n", err)
		return agentbox.Result{ExitCode: 1}, nil
	}
	sh.dir = dir
	stmts, err := parse(cmd.Cmd, cmd.Env)
	if err != nil {
		fmt.Fprintf(sh.stderr, "sh: syntax error: %v\n", err)
		return agentbox.Result{ExitCode: 2}, nil
	}
	for _, st := range stmts {
		if err := ctx.Err(); err != nil {
			return agentbox.Result{ExitCode: -1}, err
		}
		if (st.conn == "&&" && sh.status != 0) || (st.conn == "||" && sh.status == 0) {
			continue
		}
		var exit exitStatus
		switch err := sh.run(ctx, st); {
		case errors.As(err, &exit):
			return agentbox.Result{ExitCode: int(exit)}, nil
		case err != nil:
			return agentbox.Result{ExitCode: -1}, err
		}
	}
	return agentbox.Result{ExitCode: sh.status}, nil
}

// exitStatus is returned by the exit builtin to end the command line.
type exitStatus int

func (e exitStatus) Error() string { return "exit " + strconv.Itoa(int(e)) }

// A token is a word or an operator of a command line.
type token struct {
	op   string // "" for a word; ";", "&&", "||"; ">" for a redirection
	word string // the word, or the file of a redirection
	fd   int    // the descriptor a redirection redirects, 1 or 2
	app  bool   // ">>": append
	dup  int    // ">&N": the descriptor duplicated, else 0
}

// A stmt is a simple command.
type stmt struct {
	conn   string // the operator before it: ";", "&&" or "||"
	args   []string
	redirs []token
}

// parse splits src into simple commands, expanding variables from env.
func parse(src string, env map[string]string) ([]stmt, error) {
	toks, err := lex(src, env)
	if err != nil {
		return nil, err
	}
	var stmts []stmt
	cur := stmt{conn: ";"}
	for i := 0; i < len(toks); i++ {
		switch t := toks[i]; t.op {
		case "":
			cur.args = append(cur.args, t.word)
		case ">":
			if t.dup == 0 {
				if i+1 == len(toks) || toks[i+1].op != "" {
					return nil, errors.New("a redirection lacks its file")
				}
				i++
				t.word = toks[i].word
			}
			cur.redirs = append(cur.redirs, t)
		default:
			if len(cur.args) == 0 && len(cur.redirs) == 0 {
				if t.op == ";" {
					continue
				}
				return nil, fmt.Errorf("unexpected %q", t.op)
			}
			stmts = append(stmts, cur)
			cur = stmt{conn: t.op}
		}
	}
	if len(cur.args) > 0 || len(cur.redirs) > 0 {
		stmts = append(stmts, cur)
	} else if cur.conn != ";" {
		return nil, fmt.Errorf("unexpected end after %q", cur.conn)
	}
	return stmts, nil
}

// A lexer splits a command line into tokens.
type lexer struct {
	src    string
	i      int
	env    map[string]string
	toks   []token
	word   strings.Builder
	inWord bool // whether word holds a word, maybe empty ('')
}

// lex splits src into tokens, expanding variables from env.
func lex(src string, env map[string]string) ([]token, error) {
	l := &lexer{src: src, env: env}
	for l.i < len(src) {
		c := src[l.i]
		rest := src[l.i:]
		switch {
		case c == ' ' || c == '\t':
			l.flush()
			l.i++
		case c == '\n' || c == ';':
			l.op(";", 1)
		case strings.HasPrefix(rest, "&&") || strings.HasPrefix(rest, "||"):
			l.op(rest[:2], 2)
		case strings.IndexByte("&|<()`", c) >= 0:
			return nil, fmt.Errorf("%q is not supported", c)
		case c == '#' && !l.inWord:
			for l.i < len(src) && src[l.i] != '\n' {
				l.i++
			}
		case c == '>' || !l.inWord && (c == '1' || c == '2') && strings.HasPrefix(rest[1:], ">"):
			l.redirect()
		case c == '\\':
			l.i++
			if l.i == len(src) {
				l.add("\\")
			} else if src[l.i] != '\n' {
				l.add(src[l.i : l.i+1])
			}
			l.i++
		case c == '\'':
			end := strings.IndexByte(rest[1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated '")
			}
			l.add(rest[1 : 1+end])
			l.i += end + 2
		case c == '"':
			if err := l.quoted(); err != nil {
				return nil, err
			}
		case c == '$':
			if v := l.expand(); v != "" {
				l.add(v)
			}
		default:
			l.add(src[l.i : l.i+1])
			l.i++
		}
	}
	l.flush()
	return l.toks, nil
}

// add adds s to the current word.
func (l *lexer) add(s string) {
	l.word.WriteString(s)
	l.inWord = true
}

// flush ends the current word, if any.
func (l *lexer) flush() {
	if l.inWord {
		l.toks = append(l.toks, token{word: l.word.String()})
		l.word.Reset()
		l.inWord = false
	}
}

// op ends the current word and adds the operator op, n bytes long.
func (l *lexer) op(op string, n int) {
	l.flush()
	l.toks = append(l.toks, token{op: op})
	l.i += n
}

// redirect reads a redirection: [1|2]>, [1|2]>>, [1|2]>&[1|2].
func (l *lexer) redirect() {
	l.flush()
	t := token{op: ">", fd: 1}
	if c := l.src[l.i]; c != '>' {
		t.fd = int(c - '0')
		l.i++
	}
	l.i++
	rest := l.src[l.i:]
	switch {
	case strings.HasPrefix(rest, ">"):
		t.app = true
		l.i++
	case strings.HasPrefix(rest, "&1") || strings.HasPrefix(rest, "&2"):
		t.dup = int(rest[1] - '0')
		l.i += 2
	}
	l.toks = append(l.toks, t)
}

// quoted reads a double-quoted string.
func (l *lexer) quoted() error {
	l.add("")
	for l.i++; l.i < len(l.src); {
		switch c := l.src[l.i]; {
		case c == '"':
			l.i++
			return nil
		case c == '\\' && l.i+1 < len(l.src) && strings.IndexByte("\"\\$`\n", l.src[l.i+1]) >= 0:
			if l.src[l.i+1] != '\n' {
				l.add(l.src[l.i+1 : l.i+2])
			}
			l.i += 2
		case c == '$':
			l.add(l.expand())
		default:
			l.add(l.src[l.i : l.i+1])
			l.i++
		}
	}
	return errors.New(`unterminated "`)
}

// expand reads $NAME or ${NAME} and returns the variable's value; a "$" not
// followed by a name is itself.
func (l *lexer) expand() string {
	rest := l.src[l.i+1:]
	if strings.HasPrefix(rest, "{") {
		if end := strings.IndexByte(rest, '}'); end > 1 && isName(rest[1:end]) {
			l.i += end + 2
			return l.env[rest[1:end]]
		}
		l.i++
		return "$"
	}
	n := 0
	for n < len(rest) && isNameByte(rest[n], n == 0) {
		n++
	}
	l.i += 1 + n
	if n == 0 {
		return "$"
	}
	return l.env[rest[:n]]
}

// isName reports whether s is a variable name.
func isName(s string) bool {
	for i := range len(s) {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return s != ""
}

// isNameByte reports whether c may be in a variable name, at its start when
// first is set.
func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// A shell runs simple commands.
type shell struct {
	sb             *Sandbox
	dir            string // clean
	env            map[string]string
	stdout, stderr io.Writer
	status         int // of the last command run
}

// run runs st, setting sh.status. It returns an exitStatus for exit, and
// ctx.Err() when ctx is done.
func (sh *shell) run(ctx context.Context, st stmt) error {
	stdout, stderr := sh.stdout, sh.stderr
	for _, r := range st.redirs {
		var w io.Writer
		switch {
		case r.dup == 1:
			w = stdout
		case r.dup == 2:
			w = stderr
		case r.word == "/dev/null":
			w = io.Discard
		default:
			p, err := sh.path(r.word)
			if err == nil {
				err = sh.sb.appendFile(p, nil, !r.app)
			}
			if err != nil {
				fmt.Fprintf(stderr, "sh: %s: %s\n", r.word, describe(err))
				sh.status = 1
				return nil
			}
			w = fileWriter{sh.sb, p}
		}
		if r.fd == 1 {
			stdout = w
		} else {
			stderr = w
		}
	}
	if len(st.args) == 0 {
		sh.status = 0
		return nil
	}
	status, err := sh.builtin(ctx, st.args[0], st.args[1:], stdout, stderr)
	sh.status = status
	return err
}

// builtin runs the builtin name and returns its status.
func (sh *shell) builtin(ctx context.Context, name string, args []string, stdout, stderr io.Writer) (int, error) {
	switch name {
	case "echo":
		end := "\n"
		for len(args) > 0 && args[0] == "-n" {
			end, args = "", args[1:]
		}
		io.WriteString(stdout, strings.Join(args, " ")+end)
	case "printf":
		if len(args) == 0 {
			io.WriteString(stderr, "printf: usage: printf FORMAT [ARG...]\n")
			return 2, nil
		}
		return printf(stdout, stderr, args[0], args[1:]), nil
	case "cat":
		status := 0
		for _, a := range args {
			data, err := sh.read(a)
			if err != nil {
				fmt.Fprintf(stderr, "cat: %s: %s\n", a, describe(err))
				status = 1
				continue
			}
			stdout.Write(data)
		}
		return status, nil
	case "ls":
		return sh.ls(args, stdout, stderr), nil
	case "pwd":
		io.WriteString(stdout, path.Clean("/"+sh.dir)+"\n")
	case "sleep":
		secs, err := strconv.ParseFloat(strings.Join(args, " "), 64)
		if err != nil || secs < 0 {
			fmt.Fprintf(stderr, "sleep: invalid time interval '%s'\n", strings.Join(args, " "))
			return 1, nil
		}
		if err := sleep(ctx, time.Duration(secs*float64(time.Second))); err != nil {
			return -1, err
		}
	case "exit":
		n := sh.status
		if len(args) > 0 {
			var err error
			if n, err = strconv.Atoi(args[0]); err != nil {
				fmt.Fprintf(stderr, "exit: %s: numeric argument required\n", args[0])
				n = 2
			}
		}
		return n & 255, exitStatus(n & 255)
	case "true", ":":
	case "false":
		return 1, nil
	case "rm":
		return sh.rm(args, stderr), nil
	case "mkdir":
		return sh.mkdir(args, stderr), nil
	case "test", "[":
		return sh.test(name, args, stderr), nil
	default:
		fmt.Fprintf(stderr, "%s: command not found\n", name)
		return 127, nil
	}
	return 0, nil
}

// printf writes format to w with args, reusing format while args remain, and
// returns the status.
func printf(w, stderr io.Writer, format string, args []string) int {
	var b strings.Builder
	status := 0
	for {
		used := 0
		for i := 0; i < len(format); i++ {
			c := format[i]
			if (c != '\\' && c != '%') || i+1 == len(format) {
				b.WriteByte(c)
				continue
			}
			i++
			switch verb := format[i]; {
			case c == '\\' && verb == 'n':
				b.WriteByte('\n')
			case c == '\\' && verb == 't':
				b.WriteByte('\t')
			case c == '\\' && verb == '\\', c == '%' && verb == '%':
				b.WriteByte(verb)
			case c == '%' && (verb == 's' || verb == 'd'):
				arg := ""
				if used < len(args) {
					arg = args[used]
				}
				used++
				if verb == 'd' {
					n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
					if err != nil && arg != "" {
						fmt.Fprintf(stderr, "printf: %s: invalid number\n", arg)
						status = 1
					}
					arg = strconv.FormatInt(n, 10)
				}
				b.WriteString(arg)
			default:
				b.WriteByte(c)
				b.WriteByte(verb)
			}
		}
		if used == 0 || used >= len(args) {
			break
		}
		args = args[used:]
	}
	io.WriteString(w, b.String())
	return status
}

func (sh *shell) ls(args []string, stdout, stderr io.Writer) int {
	dir := "."
	switch {
	case len(args) > 1 || len(args) == 1 && strings.HasPrefix(args[0], "-"):
		io.WriteString(stderr, "ls: usage: ls [DIR]\n")
		return 2
	case len(args) == 1:
		dir = args[0]
	}
	p, err := sh.path(dir)
	var infos []agentbox.FileInfo
	if err == nil {
		sh.sb.lock()
		infos, err = sh.sb.list(p)
		sh.sb.mu.Unlock()
	}
	switch {
	case errors.Is(err, errNotDir):
		fmt.Fprintln(stdout, dir)
	case err != nil:
		fmt.Fprintf(stderr, "ls: cannot access '%s': %s\n", dir, describe(err))
		return 2
	}
	for _, info := range infos {
		fmt.Fprintln(stdout, info.Name)
	}
	return 0
}

func (sh *shell) rm(args []string, stderr io.Writer) int {
	force, recursive := false, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		for _, f := range args[0][1:] {
			switch f {
			case 'f':
				force = true
			case 'r', 'R':
				recursive = true
			default:
				fmt.Fprintf(stderr, "rm: invalid option -- '%c'\n", f)
				return 1
			}
		}
		args = args[1:]
	}
	if len(args) == 0 && !force {
		io.WriteString(stderr, "rm: missing operand\n")
		return 1
	}
	status := 0
	for _, a := range args {
		p, err := sh.path(a)
		if err == nil {
			err = sh.sb.remove(p, recursive)
		}
		if err != nil && !(force && errors.Is(err, fs.ErrNotExist)) {
			fmt.Fprintf(stderr, "rm: cannot remove '%s': %s\n", a, describe(err))
			status = 1
		}
	}
	return status
}

func (sh *shell) mkdir(args []string, stderr io.Writer) int {
	parents := len(args) > 0 && args[0] == "-p"
	if parents {
		args = args[1:]
	}
	if len(args) == 0 {
		io.WriteString(stderr, "mkdir: missing operand\n")
		return 1
	}
	status := 0
	for _, a := range args {
		if err := sh.checkDir(a, parents); err != nil {
			fmt.Fprintf(stderr, "mkdir: cannot create directory '%s': %s\n", a, describe(err))
			status = 1
		}
	}
	return status
}

// checkDir returns an error when a directory cannot be made at a.
func (sh *shell) checkDir(a string, parents bool) error {
	p, err := sh.path(a)
	if err != nil {
		return err
	}
	for d := p; d != "."; d = path.Dir(d) {
		file, dir, _ := sh.sb.stat(d)
		switch {
		case file && d == p:
			return fs.ErrExist
		case file:
			return errNotDir
		case dir && d == p && !parents:
			return fs.ErrExist
		}
	}
	if p == "." && !parents {
		return fs.ErrExist
	}
	return nil
}

func (sh *shell) test(name string, args []string, stderr io.Writer) int {
	if name == "[" {
		if len(args) == 0 || args[len(args)-1] != "]" {
			io.WriteString(stderr, "[: missing ']'\n")
			return 2
		}
		args = args[:len(args)-1]
	}
	negate := len(args) > 0 && args[0] == "!"
	if negate {
		args = args[1:]
	}
	var ok bool
	switch {
	case len(args) == 0:
	case len(args) == 1:
		ok = args[0] != ""
	case len(args) == 2 && args[0] == "-n":
		ok = args[1] != ""
	case len(args) == 2 && args[0] == "-z":
		ok = args[1] == ""
	case len(args) == 2 && (args[0] == "-e" || args[0] == "-f" || args[0] == "-d"):
		if p, err := sh.path(args[1]); err == nil {
			file, dir, _ := sh.sb.stat(p)
			ok = args[0] == "-e" && (file || dir) || args[0] == "-f" && file || args[0] == "-d" && dir
		}
	case len(args) == 3 && (args[1] == "=" || args[1] == "=="):
		ok = args[0] == args[2]
	case len(args) == 3 && args[1] == "!=":
		ok = args[0] != args[2]
	default:
		fmt.Fprintf(stderr, "%s: unsupported expression: %s\n", name, strings.Join(args, " "))
		return 2
	}
	if ok != negate {
		return 0
	}
	return 1
}

// path returns the clean path of the file a, relative to the working
// directory unless it begins with "/".
func (sh *shell) path(a string) (string, error) {
	if !strings.HasPrefix(a, "/") {
		a = sh.dir + "/" + a
	}
	return clean("open", a)
}

// read returns the contents of the file a.
func (sh *shell) read(a string) ([]byte, error) {
	p, err := sh.path(a)
	if err != nil {
		return nil, err
	}
	sh.sb.lock()
	defer sh.sb.mu.Unlock()
	return sh.sb.read("open", p)
}

// describe says what err is, in the words of Unix commands.
func describe(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrExist):
		return "File exists"
	case errors.Is(err, errIsDir):
		return "Is a directory"
	case errors.Is(err, errNotDir):
		return "Not a directory"
	case errors.Is(err, errOutside):
		return errOutside.Error()
	}
	return err.Error()
}

// A fileWriter appends what it is given to a file of a sandbox.
type fileWriter struct {
	sb   *Sandbox
	path string
}

func (w fileWriter) Write(p []byte) (int, error) {
	if err := w.sb.appendFile(w.path, p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}
