package e2btest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox/e2b"
)

// Users, as the fake models them.
//
// A sandbox has two accounts, as E2B's templates do: "user", the default,
// whose home is [Server.Home], and "root", whose home is another folder of
// the sandbox. Both run commands as the user running the tests: the fake
// cannot switch accounts, so files belong to that user, and listings name
// that user as their owner, looked up as envd looks owners up. Any other
// name is unknown, as to envd: a request naming it (Basic authorization, or
// the username parameter of /files) is refused.

// defaultUser is the account envd uses when a request names none.
const defaultUser = "user"

// An account is a user of the sandbox, as envd looks it up in passwd.
type account struct {
	name, home string
}

// account looks up a user of the sandbox; the error is os/user's.
func (sb *sandbox) account(name string) (account, error) {
	switch name {
	case defaultUser:
		return account{name, sb.home}, nil
	case "root":
		return account{name, sb.srv.rootHome(sb.id)}, nil
	}
	return account{}, user.UnknownUserError(name)
}

// rootHome is the folder that is root's home in sandbox id.
func (s *Server) rootHome(id string) string {
	return filepath.Join(s.root, id, "root")
}

// accountKey is the context key of the account a request authenticated as.
type accountKey struct{}

// authUser is the account of an RPC: the one of its Basic authorization,
// else the default user.
func (sb *sandbox) authUser(ctx context.Context) (account, error) {
	if a, ok := ctx.Value(accountKey{}).(account); ok {
		return a, nil
	}
	a, err := sb.account(defaultUser)
	if err != nil {
		return account{}, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("invalid default user: '%s'", defaultUser))
	}
	return a, nil
}

// resolve resolves a path for account a as envd does: empty is the
// template's workdir, "~" and "~/..." are in the home, other relative paths
// are relative to the home, and "~name" is refused.
func (sb *sandbox) resolve(a account, p string) (string, error) {
	if p == "" {
		p = sb.workdir
	}
	if strings.HasPrefix(p, "~") {
		if len(p) > 1 && p[1] != '/' && p[1] != '\\' {
			return "", fmt.Errorf("failed to expand path '%s' for user '%s': cannot expand user-specific home dir", p, a.name)
		}
		p = filepath.Join(a.home, p[1:])
	}
	if filepath.IsAbs(p) {
		return p, nil
	}
	return filepath.Join(a.home, p), nil
}

// envdMiddleware is envd's chain in front of its handlers: the access token
// (which /health and /files do without: /files checks it itself), then the
// user of a Basic authorization, which must exist.
func envdMiddleware(next http.Handler) http.Handler {
	errw := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb := sandboxOf(r.Context())
		switch r.Method + r.URL.Path {
		case "GET/health", "GET/files", "POST/files", "POST/init":
		default:
			if sb.token != "" && r.Header.Get("X-Access-Token") != sb.token {
				envdError(w, http.StatusUnauthorized, errors.New("unauthorized access, please provide a valid access token or method signing if supported"))
				return
			}
		}
		if name, _, ok := r.BasicAuth(); ok {
			a, err := sb.account(name)
			if err != nil {
				errw.Write(w, r, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("invalid username: '%s'", name)))
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), accountKey{}, a))
		}
		next.ServeHTTP(w, r)
	})
}

// envdError writes an error of envd's HTTP API: {code, message}, as JSON.
func envdError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{status, err.Error()})
}

// checkSigning checks a request to /files of a secure sandbox: it carries
// the access token, or a signature of the path, operation (read or write),
// user and token, unexpired.
func (sb *sandbox) checkSigning(r *http.Request, signature *string, expiration *int, username *string, path, op string) error {
	if sb.token == "" {
		return nil
	}
	if h := r.Header.Get("X-Access-Token"); h != "" {
		if h != sb.token {
			return errors.New("access token present in header but does not match")
		}
		return nil
	}
	if signature == nil {
		return errors.New("missing signature query parameter")
	}
	name := ""
	if username != nil {
		name = *username
	}
	fields := []string{path, op, name, sb.token}
	if expiration != nil {
		fields = append(fields, strconv.Itoa(*expiration))
	}
	sum := sha256.Sum256([]byte(strings.Join(fields, ":")))
	if subtle.ConstantTimeCompare([]byte("v1_"+base64.RawStdEncoding.EncodeToString(sum[:])), []byte(*signature)) != 1 {
		return errors.New("invalid signature")
	}
	if expiration != nil && int64(*expiration) < time.Now().Unix() {
		return errors.New("signature is already expired")
	}
	return nil
}

// Processes of a sandbox, beyond those envd started.
//
// envd starts its processes in its own process group, as the fake does, so
// a sandbox's processes cannot be found as one group. They are found in
// /proc: the processes envd started, their descendants, and whatever
// carries the sandbox's E2B_SANDBOX_ID in its environment or runs in one
// of the sandbox's folders (what a command left running when it ended,
// which its parent no longer leads to).

// members returns the pids of the sandbox's live processes; none where
// there is no /proc.
func (sb *sandbox) members() []int {
	sb.mu.Lock()
	roots := make([]int, 0, len(sb.procs))
	for pid := range sb.procs {
		roots = append(roots, int(pid))
	}
	sb.mu.Unlock()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var marker []byte
	if sb.id != e2b.DebugSandboxID { // a fixed ID, which fakes running side by side share
		marker = []byte("E2B_SANDBOX_ID=" + sb.id + "\x00")
	}
	folder := filepath.Join(sb.srv.root, sb.id)
	self := os.Getpid()
	children := map[int][]int{}
	in := map[int]bool{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
		if marker != nil {
			env, _ := os.ReadFile("/proc/" + d.Name() + "/environ")
			if bytes.HasPrefix(env, marker) || bytes.Contains(env, append([]byte{0}, marker...)) {
				in[pid] = true
			}
		}
		if cwd, err := os.Readlink("/proc/" + d.Name() + "/cwd"); err == nil && (cwd == folder || strings.HasPrefix(cwd, folder+"/")) {
			in[pid] = true
		}
		if slices.Contains(roots, pid) {
			in[pid] = true
		}
	}
	var pids []int
	var walk func(pid int)
	seen := map[int]bool{}
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		pids = append(pids, pid)
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for pid := range in {
		walk(pid)
	}
	return pids
}

// signalAll sends sig to every process of the sandbox.
func (sb *sandbox) signalAll(sig syscall.Signal) {
	for _, pid := range sb.members() {
		syscall.Kill(pid, sig)
	}
}

// killAll kills every process of the sandbox, stopping each first so that
// none starts another while they are being killed.
func (sb *sandbox) killAll() {
	for range 50 {
		pids := sb.members()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGSTOP)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
