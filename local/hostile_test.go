package local_test

import (
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/local"
)

func TestHostile(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			needBubblewrap(t, iso)
			opts := &agentboxtest.HostileOptions{
				Shell:    true,
				Confined: true,
				Outside:  t.TempDir(),
				Survivors: func(_ agentbox.Sandbox, marker string) []string {
					return agentboxtest.ProcessesWith(marker)
				},
			}
			if iso == local.Bubblewrap {
				// The default Limits.Processes, which only bubblewrap
				// isolation enforces.
				opts.MaxProcesses = 1024
			}
			agentboxtest.RunHostileTests(t, local.Opener(local.Config{Isolation: iso}), opts)
		})
	}
}
