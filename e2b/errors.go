package e2b

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/internal/secret"
)

// Errors that match an [*Error] by its Kind, with errors.Is. Each kind
// matches one sentinel:
//
//   - [agentbox.KindAuth]: [ErrAuth]
//   - [agentbox.KindRateLimited]: [ErrRateLimited]
//   - [agentbox.KindSandboxGone]: [agentbox.ErrSandboxGone] (404 from the
//     control plane, 502 from E2B's edge)
//   - [agentbox.KindNotFound]: [fs.ErrNotExist] (a missing file or process)
//   - [agentbox.KindPaused]: [ErrPaused]
//
// [agentbox.KindUpstream] (a 5xx from E2B) matches no sentinel.
var (
	// ErrAuth means E2B rejected the API key or the sandbox's access token.
	ErrAuth = errors.New("e2b: not authorized")
	// ErrRateLimited means E2B refused the request for now: on create, the
	// account's quota of concurrent sandboxes is used up.
	ErrRateLimited = errors.New("e2b: rate limited")
)

// An Error is a failed call to E2B's control plane or to envd.
type Error struct {
	// Op is what was being done, e.g. "create sandbox".
	Op string
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// Code is the Connect error code ("not_found") or E2B's error code,
	// when there is one.
	Code string
	// Message is what the server said, or why there was no answer.
	Message string
	// Kind classifies the error, as [agentbox.KindOf] reports it: one of
	// KindAuth, KindRateLimited, KindSandboxGone, KindNotFound, KindPaused
	// or KindUpstream, or "" when E2B's answer fits none.
	Kind agentbox.ErrorKind
	// err is the underlying error, if any.
	err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("e2b: ")
	b.WriteString(e.Op)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Code != "" && (e.StatusCode == 0 || !strings.EqualFold(e.Code, http.StatusText(e.StatusCode))) {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// ErrorKind returns e.Kind, for [agentbox.KindOf].
func (e *Error) ErrorKind() agentbox.ErrorKind { return e.Kind }

// Unwrap returns the sentinel of the error's Kind (ErrAuth, ErrRateLimited,
// agentbox.ErrSandboxGone, fs.ErrNotExist, ErrPaused), if any, and its cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if s := sentinel(e.Kind); s != nil {
		errs = append(errs, s)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// sentinel returns the error that an Error of kind k matches, or nil.
func sentinel(k agentbox.ErrorKind) error {
	switch k {
	case agentbox.KindAuth:
		return ErrAuth
	case agentbox.KindRateLimited:
		return ErrRateLimited
	case agentbox.KindSandboxGone:
		return agentbox.ErrSandboxGone
	case agentbox.KindNotFound:
		return fs.ErrNotExist
	case agentbox.KindPaused:
		return ErrPaused
	}
	return nil
}

// where says whose error a status is: for the control plane a 404 of an
// operation on a sandbox means it is gone, for envd a 404 is a missing file.
type where int

const (
	controlPlane where = iota // an operation on a sandbox
	account                   // one on no sandbox in particular (create, list): 404 is not a sandbox gone
	envd                      // envd, behind E2B's edge
)

// statusError makes the Error of an HTTP response with the given status and
// body ({code, message} on E2B's APIs and its edge).
func statusError(op string, status int, body []byte, w where, secrets ...string) *Error {
	e := &Error{Op: op, StatusCode: status}
	var parsed struct {
		Message   string  `json:"message"`
		ErrorCode *string `json:"error_code"`
		Code      any     `json:"code"`
	}
	if json.Unmarshal(body, &parsed) == nil && parsed.Message != "" {
		e.Message = parsed.Message
		if parsed.ErrorCode != nil {
			e.Code = *parsed.ErrorCode
		} else if s, ok := parsed.Code.(string); ok {
			e.Code = s
		}
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "…"
		}
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = agentbox.KindAuth
	case status == http.StatusTooManyRequests:
		e.Kind = agentbox.KindRateLimited
	case status == http.StatusNotFound && w == controlPlane:
		e.Kind = agentbox.KindSandboxGone
	case status == http.StatusNotFound && w == envd:
		e.Kind = agentbox.KindNotFound
	case status == http.StatusBadGateway && w == envd && !portClosed(e.Message):
		e.Kind = agentbox.KindSandboxGone // E2B's edge: "The sandbox was not found"
	case status == http.StatusConflict && w == envd && strings.Contains(strings.ToLower(e.Message), "paused"):
		e.Kind = agentbox.KindPaused // E2B's edge: "The sandbox is paused"
	case status >= 500 && !(status == http.StatusBadGateway && portClosed(e.Message)):
		e.Kind = agentbox.KindUpstream // not for a 502 of a port nothing listens on
	}
	e.Code = redact(e.Code, secrets...)
	e.Message = redact(e.Message, secrets...)
	return e
}

// portClosed reports whether a 502 message from E2B's edge says that the
// sandbox runs but nothing listens on the port.
func portClosed(msg string) bool { return strings.Contains(msg, "port is not open") }

// transportError makes the Error of a request that got no response.
func transportError(op string, err error, secrets ...string) *Error {
	return &Error{Op: op, Message: redact(err.Error(), secrets...), err: secret.HideError(err, secrets...)}
}

// rpcError makes the Error of a failed Connect call to envd.
func rpcError(op string, err error, secrets ...string) *Error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return transportError(op, err, secrets...)
	}
	e := &Error{Op: op, Code: ce.Code().String(), Message: redact(ce.Message(), secrets...)}
	switch ce.Code() {
	case connect.CodeNotFound:
		e.Kind = agentbox.KindNotFound
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		e.Kind = agentbox.KindAuth
	case connect.CodeResourceExhausted:
		e.Kind = agentbox.KindRateLimited
	}
	if e.Message == "" {
		e.Message = redact(ce.Error(), secrets...)
	}
	return e
}

// redact removes secrets from s.
func redact(s string, secrets ...string) string { return secret.Hide(s, secrets...) }
