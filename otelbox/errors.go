package otelbox

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"github.com/agentbox/agentbox"
)

// sentinels are agentbox's errors that have a name of their own as
// error.type.
var sentinels = []struct {
	err  error
	name string
}{
	{agentbox.ErrDenied, "denied"},
	{agentbox.ErrUnknownTool, "unknown_tool"},
	{agentbox.ErrInvalidArguments, "invalid_arguments"},
	{agentbox.ErrNoSandbox, "no_sandbox"},
	{agentbox.ErrNotSupported, "not_supported"},
	{agentbox.ErrClosed, "closed"},
	{agentbox.ErrBudget, "budget"},
	{agentbox.ErrMaxSteps, "max_steps"},
	{context.Canceled, "canceled"},
	{context.DeadlineExceeded, "deadline_exceeded"},
}

// errorType returns the error.type of err, a name of few values: its
// agentbox kind, the name of the agentbox or context error it matches, its
// Go type, or "_OTHER". It returns "" for a nil err.
func errorType(err error) string {
	if err == nil {
		return ""
	}
	if k := agentbox.KindOf(err); k != agentbox.KindUnknown {
		return string(k)
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	name := reflect.TypeOf(err).String()
	if strings.HasPrefix(name, "*errors.") || strings.HasPrefix(name, "*fmt.") {
		return errorTypeOther
	}
	return name
}

// runErrorType returns the error.type of a run that ended with done, or ""
// when the run did not fail: it completed, or waits for approval.
func runErrorType(done agentbox.Done) string {
	switch done.Reason {
	case agentbox.StopCompleted, agentbox.StopApproval:
		return ""
	case agentbox.StopCanceled, agentbox.StopBudget, agentbox.StopMaxSteps:
		return string(done.Reason)
	}
	if t := errorType(done.Err); t != "" {
		return t
	}
	return errorTypeOther
}

// statusCode returns the HTTP status of the provider error in err's chain,
// or 0.
func statusCode(err error) int {
	if pe, ok := errors.AsType[*agentbox.ProviderError](err); ok {
		return pe.StatusCode
	}
	return 0
}
