package main

import (
	"context"
	"strings"
	"testing"

	"github.com/agentbox/agentbox/agentboxtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestQuickstartOffline(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	var out strings.Builder
	if err := run(context.Background(), &out, sb, defaultPrompt); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if got, _ := sb.File("index.html"); string(got) != indexHTML {
		t.Errorf("index.html = %q", got)
	}
	if got, _ := sb.File("server.js"); string(got) != serverJS {
		t.Errorf("server.js = %q", got)
	}
	for _, want := range []string{
		"replaying a recorded session offline",
		"  ▶ write_file index.html, server.js\n",
		"  ✓ write_file ok (",
		"    │ both files present\n",
		"    │ const http = require(\"http\");\n",
		"  ✓ run_command ok (",
		"completed: 3 steps, 2 tool calls, 5825 tokens,",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
