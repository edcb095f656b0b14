package e2b_test

import (
	"slices"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestHostile runs the hostile-model suite on sandboxes of the fake. An E2B
// sandbox's file system is all its own, so the file tools are not confined
// to a workspace; the fake runs commands on this machine, so what they leave
// running is found in its /proc.
func TestHostile(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	agentboxtest.RunHostileTests(t, e2b.Opener(srv.Config()), &agentboxtest.HostileOptions{
		Shell: true,
		Survivors: func(sb agentbox.Sandbox, marker string) []string {
			left := agentboxtest.ProcessesWith(marker)
			if id := sb.(*e2b.Sandbox).ID(); slices.Contains(srv.Sandboxes(), id) {
				left = append(left, "sandbox "+id+" is alive")
			}
			return left
		},
	})
	if st := srv.Stats(); st.Alive != 0 || st.Killed != st.Created {
		t.Errorf("after the hostile tests, the fake counts %+v, want every sandbox created killed", st)
	}
}
