// Package choose opens the sandbox the examples run in: an E2B sandbox when
// E2B's variables ask for one, a local one otherwise.
package choose

import (
	"context"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/local"
)

// Sandbox opens an E2B sandbox when E2B_API_KEY (or E2B_DEBUG) is set, with
// the configuration of e2b.FromEnv, and a local sandbox otherwise.
func Sandbox(ctx context.Context) (agentbox.Sandbox, error) {
	return Opener()(ctx)
}

// Backend returns the backend of the sandboxes Sandbox opens: "e2b" or "local".
func Backend() string {
	if cfg := e2b.FromEnv(); cfg.APIKey != "" || cfg.Debug {
		return e2b.Backend
	}
	return local.Backend
}

// Opener returns an opener of the sandboxes Sandbox opens.
func Opener() agentbox.Opener {
	if Backend() == e2b.Backend {
		return e2b.Opener(e2b.FromEnv())
	}
	return func(ctx context.Context) (agentbox.Sandbox, error) {
		sb, err := local.New(ctx, local.Config{})
		if err != nil {
			return nil, err
		}
		return sb, nil
	}
}

// IsLocal reports whether sb runs commands on this machine, as a local
// sandbox does.
func IsLocal(sb agentbox.Sandbox) bool {
	_, ok := sb.(*local.Sandbox)
	return ok
}
