package main

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("MCP_EXAMPLE_SERVE") == "1" {
		os.Args = []string{os.Args[0], "serve"}
		main() // the test binary is the example's MCP server
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestTheAgentUsesTheServersTool(t *testing.T) {
	t.Setenv("OPENROUTER_API_KEY", "")
	t.Setenv("OPENROUTER_BASE_URL", "")
	t.Setenv("E2B_API_KEY", "")
	t.Setenv("MCP_EXAMPLE_SERVE", "1") // for the child process
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(t.Context(), &out, []string{exe}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		`→ registry_latest_version {"package":"express"}`,
		"← express 5.1.0",
		"→ write_file",
		`"express": "^5.1.0"`,
		"completed after 4 steps",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
