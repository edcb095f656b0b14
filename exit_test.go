package agentbox_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

// wantExit checks a result's Exit and Failed.
func wantExit(t *testing.T, what string, res agentbox.ToolResult, want *agentbox.Exit, failed bool) {
	t.Helper()
	switch {
	case (res.Exit == nil) != (want == nil), res.Exit != nil && *res.Exit != *want:
		t.Errorf("%s: Exit = %+v, want %+v", what, res.Exit, want)
	case res.Failed() != failed:
		t.Errorf("%s: Failed() = %t, want %t (Err %v, Exit %+v)", what, res.Failed(), failed, res.Err, res.Exit)
	}
}

func TestRunCommandReportsItsExit(t *testing.T) {
	sb := agentboxtest.NewSandbox()
	res := tool(t, sb, "run_command", `{"command":"echo out; exit 3"}`)
	// The model's text is as it was; the code is a field as well.
	wantOK(t, res, "out\n[exit code 3]")
	wantExit(t, "exit 3", res, &agentbox.Exit{Code: 3}, true)
	b, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(b), `"exit":{"code":3,"killed":false,"timed_out":false}`) {
		t.Errorf("ToolResult JSON = %s, %v; want the exit in it", b, err)
	}

	wantExit(t, "true", tool(t, sb, "run_command", `{"command":"true"}`), &agentbox.Exit{}, false)
	wantExit(t, "an empty command", tool(t, sb, "run_command", `{"command":" "}`), nil, true)
	wantExit(t, "invalid arguments", tool(t, sb, "run_command", `{"cmd":"true"}`), nil, true)
	res = tool(t, sb, "write_file", `{"files":[{"path":"a","content":"b"}]}`)
	wantExit(t, "write_file", res, nil, false)
	if b, _ := json.Marshal(res); strings.Contains(string(b), `"exit"`) {
		t.Errorf("a call that ran no command marshals with an exit: %s", b)
	}

	synctest.Test(t, func(t *testing.T) {
		res := tool(t, agentboxtest.NewSandbox(), "run_command", `{"command":"sleep 100","timeout_seconds":2}`)
		wantErr(t, res, "the command was killed after 2s")
		wantExit(t, "a command past its timeout", res, &agentbox.Exit{Code: -1, Killed: true, TimedOut: true}, true)
	})
}

func TestStartProcessReportsAnEarlyExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := agentboxtest.NewSandbox()
		sb.Handler = server
		defer sb.Close(context.Background())
		res := tool(t, sb, "start_process", `{"command":"crash"}`)
		wantErr(t, res, "the process exited with code 1")
		wantExit(t, "crash", res, &agentbox.Exit{Code: 1}, true)
		wantExit(t, "build", tool(t, sb, "start_process", `{"command":"build"}`), &agentbox.Exit{}, false)
		wantExit(t, "a server", tool(t, sb, "start_process", `{"command":"serve 3000","port":3000}`), nil, false)
		wantExit(t, "stop_process", tool(t, sb, "stop_process", `{"id":"p3"}`), nil, false)
	})
}

func TestCustomToolsReportAnExit(t *testing.T) {
	type args struct {
		Code int `json:"code"`
	}
	check := agentbox.NewTool("check", "Run the checks.", func(_ context.Context, env *agentbox.Env, in args) (string, error) {
		env.SetExit(agentbox.Exit{Code: 1})
		env.SetExit(agentbox.Exit{Code: in.Code}) // the last one counts
		if in.Code == 99 {
			panic("checker crashed")
		}
		return "checked", nil
	})
	wantExit(t, "check 2", callTool(t, check, `{"code":2}`), &agentbox.Exit{Code: 2}, true)
	wantExit(t, "check 0", callTool(t, check, `{"code":0}`), &agentbox.Exit{}, false)
	// A panic's result is the panic, whatever was set before it.
	wantExit(t, "a panic", callTool(t, check, `{"code":99}`), nil, true)
}
