package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPrintsTheSpans(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, name := range []string{
		"invoke_agent example",
		"chat scripted/model",
		"execute_tool write_file",
		"execute_tool run_command",
		"sandbox open",
		"sandbox write_files",
		"sandbox run",
		"sandbox close",
	} {
		if !strings.Contains(out.String(), `"Name": "`+name+`"`) {
			t.Errorf("the output has no span %q", name)
		}
	}
	if !strings.Contains(out.String(), "run: completed after 3 steps") {
		t.Errorf("the output does not say the run completed:\n%s", out.String())
	}
}
