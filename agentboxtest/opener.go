package agentboxtest

import (
	"context"
	"time"

	"github.com/agentbox/agentbox"
)

// Opener returns an [agentbox.Opener] that waits delay (or until ctx is
// done, returning ctx.Err()) and returns sb. Every run gets the same sb, and
// the first run to end closes it: for an agent that runs more than once, write
// an Opener that makes a new sandbox each time.
func Opener(sb agentbox.Sandbox, delay time.Duration) agentbox.Opener {
	return func(ctx context.Context) (agentbox.Sandbox, error) {
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
		return sb, nil
	}
}

// FailingOpener returns an [agentbox.Opener] that waits delay (or until ctx
// is done, returning ctx.Err()) and fails with err.
func FailingOpener(err error, delay time.Duration) agentbox.Opener {
	return func(ctx context.Context) (agentbox.Sandbox, error) {
		if cerr := sleep(ctx, delay); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
}
