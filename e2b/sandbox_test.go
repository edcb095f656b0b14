package e2b_test

import (
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

func TestSandboxContract(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	agentboxtest.RunSandboxTests(t, func(t *testing.T) agentbox.Sandbox {
		sb, err := e2b.New(t.Context(), srv.Config())
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return sb
	})
	if st := srv.Stats(); st.Alive != 0 || st.Killed != st.Created {
		t.Errorf("after the contract tests, the fake counts %+v, want every sandbox created killed", st)
	}
}
