package agentbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// Limits of the command tools.
const (
	commandDefaultTimeout = 120 * time.Second
	commandMaxTimeout     = 600 * time.Second
	processSettle         = time.Second            // how long start_process watches a process without a port
	processPortWait       = 60 * time.Second       // how long start_process waits for a port
	processQuiet          = 100 * time.Millisecond // how long without output a started server has said what it had to
	processSettleMost     = time.Second            // the most start_process waits for that, once the port answers
)

// RunCommandArgs are the arguments of the built-in tool run_command, which
// runs a shell command (bash) and waits for it to end:
//
//	{"command": "npm test", "cwd": "app", "timeout_seconds": 120}
//
// command is required; cwd defaults to the workspace, timeout_seconds (1 to
// 600) to 120. It returns the command's stdout and stderr, interleaved (the
// beginning and end of long output), and a last line "[exit code N]"; the
// [ToolResult] has the code in Exit, and Err nil even when the code is not
// 0. A command killed at its timeout gives an error, and Exit.TimedOut. It
// is an [ExclusiveTool].
type RunCommandArgs struct {
	// Command is the command line, run by bash.
	Command string `json:"command" jsonschema:"the shell command line, run by bash in the workspace"`
	// Cwd is the working directory; "" means the workspace.
	Cwd string `json:"cwd,omitempty" jsonschema:"working directory relative to the workspace; default the workspace"`
	// TimeoutSeconds kills the command after that many seconds, 1 to 600; 0 means 120.
	TimeoutSeconds int `json:"timeout_seconds,omitempty" jsonschema:"seconds before the command is killed; default 120, at most 600"`
}

func runCommandTool() Tool {
	schema := mustSchema[RunCommandArgs]()
	schema.Properties["timeout_seconds"].Minimum = jsonschema.Ptr(1.0)
	schema.Properties["timeout_seconds"].Maximum = jsonschema.Ptr(commandMaxTimeout.Seconds())
	return Exclusive(newTypedTool("run_command",
		"Run a shell command in the workspace and wait for it to finish, e.g. \"npm install\", \"go test ./...\", \"ls -la\". Returns its combined stdout and stderr followed by its exit code; an exit code other than 0 means the command failed. Long output keeps its beginning and end. The command is killed after timeout_seconds (default 120). Do not use it for servers or watchers that never exit: use start_process.",
		schema, runCommand))
}

func runCommand(ctx context.Context, env *Env, in RunCommandArgs) (string, error) {
	if strings.TrimSpace(in.Command) == "" {
		return "", errors.New("command is empty")
	}
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	timeout := commandDefaultTimeout
	if in.TimeoutSeconds > 0 {
		timeout = time.Duration(in.TimeoutSeconds) * time.Second
	}
	// End the command a little before the tool call's own deadline, so that
	// the model learns it was the command that ran out of time.
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline) - time.Second; left < timeout {
			timeout = max(left, time.Second)
		}
	}
	if err := checkPath(in.Cwd); err != nil {
		return "", err
	}
	out := newCapBuffer(env.outputLimit())
	res, err := sb.Run(ctx, Command{
		Cmd:     in.Command,
		Dir:     in.Cwd,
		Stdout:  io.MultiWriter(env.Stdout(), out),
		Stderr:  io.MultiWriter(env.Stderr(), out),
		Timeout: timeout,
	})
	text := out.String()
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			env.SetExit(Exit{Code: -1, Killed: true, TimedOut: true})
			return text, fmt.Errorf("the command was killed after %s; use start_process for servers, or a longer timeout_seconds", timeout)
		}
		if ctx.Err() != nil { // the run ended, or the call's own timeout
			env.SetExit(Exit{Code: -1, Killed: true, TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded)})
		}
		return text, err
	}
	env.SetExit(Exit{Code: res.ExitCode, Killed: res.ExitCode == -1})
	return fmt.Sprintf("%s[exit code %d]", text, res.ExitCode), nil
}

// StartProcessArgs are the arguments of the built-in tool start_process,
// which starts a program in the background, such as a dev server:
//
//	{"command": "npm run dev", "port": 5173, "cwd": "app"}
//
// command is required; port (1 to 65535) and cwd are optional. With port,
// it waits up to 60 seconds for the port to answer. It returns "Process ID
// is running; port N answers at URL" (and sends a [Preview]), or "Process
// ID is running.", followed by the output so far; a program that exits
// within the wait gives "Process ID exited with code N." and its output,
// with Exit set, and an error when the code is not 0. It needs a
// [ProcessStarter], and a [Previewer] for URLs. It is an [ExclusiveTool].
type StartProcessArgs struct {
	// Command is the command line that starts the program.
	Command string `json:"command" jsonschema:"the shell command line that starts the program, e.g. npm run dev"`
	// Port is the TCP port the program listens on, if it is a server.
	Port int `json:"port,omitempty" jsonschema:"the TCP port the program listens on, if it is a server; its preview URL is returned once the port answers"`
	// Cwd is the working directory; "" means the workspace.
	Cwd string `json:"cwd,omitempty" jsonschema:"working directory relative to the workspace; default the workspace"`
}

func startProcessTool() Tool {
	schema := mustSchema[StartProcessArgs]()
	schema.Properties["port"].Minimum = jsonschema.Ptr(1.0)
	schema.Properties["port"].Maximum = jsonschema.Ptr(65535.0)
	return Exclusive(newTypedTool("start_process",
		"Start a long-running program in the background, such as a dev server, and return without waiting for it to exit. Returns the process id (for stop_process) and its first output. With port, waits up to 60 seconds until the port answers and returns the preview URL where the user can open the program; make the server listen on 0.0.0.0 and on exactly that port. If the program exits early, returns its exit code and output instead.",
		schema, startProcess))
}

func startProcess(ctx context.Context, env *Env, in StartProcessArgs) (string, error) {
	if strings.TrimSpace(in.Command) == "" {
		return "", errors.New("command is empty")
	}
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	ps, ok := sb.(ProcessStarter)
	if !ok {
		return "", fmt.Errorf("start_process is %w: it cannot run background processes; run commands that finish with run_command", ErrNotSupported)
	}
	if err := checkPath(in.Cwd); err != nil {
		return "", err
	}
	out := newCapBuffer(env.outputLimit())
	// Env drops what the process writes once the call has returned: later
	// output is the process's own business.
	p, err := startLogged(ctx, ps, Command{
		Cmd:    in.Command,
		Dir:    in.Cwd,
		Stdout: io.MultiWriter(out, env.Stdout()),
		Stderr: io.MultiWriter(out, env.Stderr()),
	})
	if err != nil {
		return "", err
	}
	pv, canPreview := sb.(Previewer)
	wait := processSettle
	if in.Port > 0 && canPreview {
		wait = processPortWait
	}
	url, exit, err := watchProcess(ctx, p, pv, in.Port, wait)
	if ctx.Err() != nil {
		// The run was cancelled: nobody will learn this process's ID, so it
		// must not outlive the call.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ps.StopProcess(stopCtx, p.ID()) == nil {
			env.SetExit(Exit{Code: -1, Killed: true})
		}
		return "", fmt.Errorf("process %s stopped: %w", p.ID(), context.Cause(ctx))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Process %s", p.ID())
	switch {
	case exit != nil:
		env.SetExit(Exit{Code: exit.ExitCode, Killed: exit.ExitCode == -1})
		fmt.Fprintf(&b, " exited with code %d.\n%s", exit.ExitCode, out.String())
		if exit.ExitCode != 0 {
			return b.String(), fmt.Errorf("the process exited with code %d", exit.ExitCode)
		}
		return b.String(), nil
	case err != nil:
		b.WriteString(":\n")
	case url != "":
		// A server says it listens about when its port answers: that line
		// belongs to this call, so the output is given a moment to arrive.
		settle(ctx, out, processQuiet, processSettleMost)
		fmt.Fprintf(&b, " is running; port %d answers at %s\n", in.Port, url)
		env.Preview(in.Port, url)
	case in.Port > 0 && !canPreview:
		fmt.Fprintf(&b, " is running. This sandbox gives no preview URLs, so port %d cannot be opened from outside it.\n", in.Port)
	default:
		b.WriteString(" is running.\n")
	}
	if o := out.String(); o != "" {
		fmt.Fprintf(&b, "Output so far:\n%s", o)
	}
	return b.String(), err
}

// watchProcess waits up to wait for the process to exit or, when pv is set
// and port positive, for the port's URL. It returns the URL, or how the
// process exited, or neither when the process is still running. The error
// says why there is no URL when one was expected, or why the process could
// not be watched.
func watchProcess(ctx context.Context, p Process, pv Previewer, port int, wait time.Duration) (url string, exit *Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	type exited struct {
		res Result
		err error
	}
	exits := make(chan exited, 1)
	wg.Go(func() {
		res, err := p.Wait(ctx)
		exits <- exited{res, err}
	})
	// A Wait error after the wait is over only means the process still runs.
	waitFailed := func(x exited) error {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("cannot watch the process: %w", x.err)
	}
	if pv == nil || port <= 0 {
		x := <-exits
		if x.err == nil {
			return "", &x.res, nil
		}
		return "", nil, waitFailed(x)
	}
	urls := make(chan string, 1)
	errs := make(chan error, 1)
	wg.Go(func() {
		u, err := pv.PreviewURL(ctx, port)
		if err != nil {
			errs <- err
			return
		}
		urls <- u
	})
	for {
		select {
		case u := <-urls:
			return u, nil, nil
		case x := <-exits:
			if x.err == nil {
				return "", &x.res, nil
			}
			if err := waitFailed(x); err != nil {
				return "", nil, err
			}
			exits = nil // the wait is over: the preview's answer decides
		case err := <-errs:
			const running = "the process is still running; stop it with stop_process"
			if errors.Is(err, context.DeadlineExceeded) {
				return "", nil, fmt.Errorf("port %d did not answer within %s (%s): %w", port, wait, running, err)
			}
			return "", nil, fmt.Errorf("port %d cannot be previewed (%s): %w", port, running, err)
		}
	}
}

// settle waits until nothing was written to out for quiet, for at most
// most, or until ctx is done.
func settle(ctx context.Context, out *capBuffer, quiet, most time.Duration) {
	deadline := time.Now().Add(most)
	for time.Now().Before(deadline) {
		before := out.Len()
		select {
		case <-ctx.Done():
			return
		case <-time.After(quiet):
		}
		if out.Len() == before {
			return
		}
	}
}

// StopProcessArgs are the arguments of the built-in tool stop_process,
// which stops a process start_process started, and everything it started:
//
//	{"id": "..."}
//
// id is required. It returns "Stopped process ID." It is an
// [ExclusiveTool].
type StopProcessArgs struct {
	// ID is the process ID start_process returned.
	ID string `json:"id" jsonschema:"the process id start_process returned"`
}

func stopProcessTool() Tool {
	return Exclusive(newTypedTool("stop_process",
		"Stop a background process started with start_process, and everything it started.",
		mustSchema[StopProcessArgs](), stopProcess))
}

func stopProcess(ctx context.Context, env *Env, in StopProcessArgs) (string, error) {
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	ps, ok := sb.(ProcessStarter)
	if !ok {
		return "", fmt.Errorf("stop_process is %w: it runs no background processes", ErrNotSupported)
	}
	if err := ps.StopProcess(ctx, in.ID); err != nil {
		return "", err
	}
	if l, _ := processLogs.find(sb, in.ID); l != nil {
		// The process has ended: let its log say so before the next
		// process_output reads it.
		l.awaitExit(ctx, time.Second)
	}
	return fmt.Sprintf("Stopped process %s.", in.ID), nil
}
