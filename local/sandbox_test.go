package local_test

import (
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/local"
)

func TestSandboxContract(t *testing.T) {
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			needBubblewrap(t, iso)
			agentboxtest.RunSandboxTests(t, func(t *testing.T) agentbox.Sandbox {
				return newSandbox(t, local.Config{Isolation: iso})
			})
		})
	}
}
