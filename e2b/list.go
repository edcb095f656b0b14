package e2b

import (
	"context"
	"time"

	"github.com/agentbox/agentbox/e2b/internal/api"
)

// Info describes a sandbox that List found.
type Info struct {
	ID        string            `json:"id"`
	Template  string            `json:"template"`
	Alias     string            `json:"alias,omitempty"`
	State     string            `json:"state"` // "running" or "paused"
	StartedAt time.Time         `json:"started_at"`
	EndAt     time.Time         `json:"end_at"` // when its lifetime ends
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// List lists the account's running and paused sandboxes whose metadata has
// all the given pairs (all of them when metadata is empty).
func List(ctx context.Context, cfg Config, metadata map[string]string) ([]Info, error) {
	if cfg.Debug {
		return []Info{{ID: DebugSandboxID, State: string(api.Running)}}, nil
	}
	c, err := newControl(cfg)
	if err != nil {
		return nil, err
	}
	return c.list(ctx, metadata)
}

func infoOf(l api.ListedSandbox) Info {
	info := Info{
		ID:        l.SandboxID,
		Template:  l.TemplateID,
		State:     string(l.State),
		StartedAt: l.StartedAt,
		EndAt:     l.EndAt,
	}
	if l.Alias != nil {
		info.Alias = *l.Alias
	}
	if l.Metadata != nil {
		info.Metadata = *l.Metadata
	}
	return info
}
