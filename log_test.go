package agentbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

func TestLoggerRecordsStepsAndToolsButNoContent(t *testing.T) {
	const secret = "sk-or-v1-SECRET-FILE-CONTENT"
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := agentboxtest.NewProvider(
		calls(call("c1", "write_file", `{"files":[{"path":".env","content":"KEY=`+secret+`"}]}`)),
		calls(call("c2", "edit_file", `{"path":".env","old_string":"`+secret+`-missing","new_string":"x"}`)),
		agentboxtest.Reply("done"),
	)
	_, done := collect(t, agentbox.New(p, agentbox.Options{Sandbox: agentboxtest.NewSandbox(), Logger: log}).Run(context.Background(), "hi"))
	if done.Err != nil {
		t.Fatal(done.Err)
	}
	if strings.Contains(buf.String(), "SECRET") {
		t.Errorf("the log holds file content:\n%s", buf.String())
	}
	counts := map[string]int{}
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		counts[rec["msg"].(string)]++
		if rec["msg"] == "agentbox tool call" && (rec["tool"] == nil || rec["duration"] == nil || rec["args_bytes"] == nil) {
			t.Errorf("tool record lacks fields: %v", rec)
		}
	}
	if counts["agentbox step"] != 3 || counts["agentbox tool call"] != 2 || counts["agentbox run done"] != 1 {
		t.Errorf("log records = %v; want 3 steps, 2 tool calls, 1 run", counts)
	}
}

func TestLogLeavesOutArgumentText(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := agentboxtest.NewProvider(
		calls(call("c1", "write_file", `{"files":[{"path":".env","content":"KEY=sk-SECRET`)),
		calls(call("c2", "write_file", `{"files":[{"path":".env","content":"KEY=sk-SECRET","mode":"600"}]}`)),
		agentboxtest.Reply("done"),
	)
	all, _ := collect(t, agentbox.New(p, agentbox.Options{Sandbox: agentboxtest.NewSandbox(), Logger: log}).Run(context.Background(), "hi"))
	if !strings.Contains(result(t, all, "c1").Output, "sk-SECRET") {
		t.Errorf("the model should see what it wrote, to repair it")
	}
	if strings.Contains(buf.String(), "SECRET") || strings.Count(buf.String(), "error=\"invalid arguments\"") != 2 {
		t.Errorf("log:\n%s", buf.String())
	}
}
