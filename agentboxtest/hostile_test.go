package agentboxtest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
)

func TestHostile(t *testing.T) {
	RunHostileTests(t, func(context.Context) (agentbox.Sandbox, error) { return NewSandbox(), nil }, &HostileOptions{
		Confined: true, // "/" is the workspace's root, ".." is refused
		Survivors: func(sb agentbox.Sandbox, _ string) []string {
			if n := sb.(*Sandbox).Running(); n > 0 {
				return []string{fmt.Sprintf("%d background processes", n)}
			}
			return nil
		},
	})
}

func TestProcessesWith(t *testing.T) {
	marker := "agentboxtestmarker" + fmt.Sprint(time.Now().UnixNano())
	cmd := exec.Command("sleep", "1000")
	cmd.Env = []string{"AGENTBOX_HOSTILE=" + marker}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	found := ProcessesWith(marker)
	want := fmt.Sprintf("%d: sleep 1000", cmd.Process.Pid)
	if !slices.Contains(found, want) {
		t.Errorf("ProcessesWith(marker in the environment) = %q, want %q", found, want)
	}
	if found := ProcessesWith(marker + "x"); len(found) != 0 {
		t.Errorf("ProcessesWith(a marker nothing has) = %q", found)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if found := ProcessesWith(marker); len(found) != 0 {
		t.Errorf("ProcessesWith(marker) after the process ended = %q", found)
	}
}
