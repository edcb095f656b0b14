package choose_test

import (
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
	"github.com/agentbox/agentbox/examples/internal/choose"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLocalByDefault(t *testing.T) {
	t.Setenv("E2B_API_KEY", "")
	t.Setenv("E2B_DEBUG", "")
	sb, err := choose.Sandbox(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(t.Context())
	if !choose.IsLocal(sb) {
		t.Errorf("Sandbox() = %T with no E2B variables, want a local sandbox", sb)
	}
}

// TestE2BFromTheEnvironment chooses E2B through its variables: debug mode,
// with envd's address (E2B_SANDBOX_URL) the fake's.
func TestE2BFromTheEnvironment(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{Debug: true})
	t.Setenv("E2B_API_KEY", "")
	t.Setenv("E2B_DEBUG", "true")
	t.Setenv("E2B_SANDBOX_URL", srv.DebugURL())
	sb, err := choose.Sandbox(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(t.Context())
	if e, ok := sb.(*e2b.Sandbox); !ok || e.ID() != e2b.DebugSandboxID || choose.IsLocal(sb) {
		t.Fatalf("Sandbox() = %v with E2B_DEBUG set, want E2B's debug sandbox", sb)
	}
	var out strings.Builder
	if _, err := sb.Run(t.Context(), agentbox.Command{Cmd: "echo in e2b", Stdout: &out}); err != nil || out.String() != "in e2b\n" {
		t.Errorf("Run = %q, %v", out.String(), err)
	}
}
