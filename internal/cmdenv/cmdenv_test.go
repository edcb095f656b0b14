package cmdenv_test

import (
	"testing"

	"github.com/agentbox/agentbox/internal/cmdenv"
)

func TestCheck(t *testing.T) {
	for _, ok := range []map[string]string{nil, {"A": ""}, {"PATH_2": "x=y", "lower": "ünï"}} {
		if err := cmdenv.Check(ok); err != nil {
			t.Errorf("Check(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []map[string]string{{"": "x"}, {"A=B": "x"}, {"A\x00": "x"}, {"A": "x\x00y"}} {
		if err := cmdenv.Check(bad); err == nil {
			t.Errorf("Check(%q) = nil, want an error", bad)
		}
	}
}
