package agentbox

import (
	"context"
	"io"
)

// An Observer watches runs, for tracing and metrics: package otelbox makes
// one that records them with OpenTelemetry. Set it in Options.Observer; a
// nil Observer costs nothing.
//
// Each Start method is called when something begins, with the context it
// runs in, and returns the context for what happens within it — a run's
// model calls and tool calls, a tool call's sandbox operations — and what
// to call once it has ended, which is called exactly once. The methods are
// called from a run's goroutines, concurrently for the tool calls of a
// step: they must be safe for concurrent use, return quickly, and not
// modify what they are given.
type Observer interface {
	// StartRun is called when a run (or a session's turn) starts; its end
	// gets the run's Done.
	StartRun(ctx context.Context, run RunStart) (context.Context, func(Done))
	// StartModelCall is called before each model request.
	StartModelCall(ctx context.Context, call ModelCallStart) (context.Context, ModelCallObserver)
	// StartToolCall is called when a tool call starts, after its ToolStart
	// event; its end gets the call's ToolResult.
	StartToolCall(ctx context.Context, call ToolCallStart) (context.Context, func(ToolResult))
	// StartSandboxOp is called when the run opens or closes its sandbox,
	// and when a tool uses it.
	StartSandboxOp(ctx context.Context, op SandboxOp) (context.Context, func(SandboxOpEnd))
}

// RunStart describes a run that starts.
type RunStart struct {
	// Provider names the model provider, when it has a name (a Name()
	// string method, as openrouter's has: "openrouter", or Config.Name).
	Provider string
	// Model is the agent's Options.Model; empty for the provider's default.
	Model string
	// System is the system prompt, and Messages the conversation the run
	// starts from.
	System   string
	Messages []Message
}

// ModelCallStart describes a model request about to be sent.
type ModelCallStart struct {
	Step    int
	Request *Request
}

// A ModelCallObserver follows one model call as its response streams.
type ModelCallObserver interface {
	// FirstChunk is called when the first text, reasoning or tool call of
	// the response arrives.
	FirstChunk()
	// Warning is called for each problem the provider recovered from: a
	// retry, a fallback to another model.
	Warning(err error)
	// End is called once the call has ended.
	End(ModelCallEnd)
}

// ModelCallEnd is how a model call ended.
type ModelCallEnd struct {
	// Message is the response, when it was complete enough to be kept.
	Message Message
	Usage   Usage
	// FinishReason is the response's finish reason, empty when there was
	// none.
	FinishReason FinishReason
	// Model is the model that answered, when the provider said
	// ([Chunk].Model); empty otherwise.
	Model string
	// Err is why the call failed, or nil.
	Err error
}

// ToolCallStart describes a tool call that starts.
type ToolCallStart struct {
	Step int
	Call ToolCall
}

// The operations of [SandboxOp].
const (
	OpOpen         = "open"          // the run opens its sandbox
	OpClose        = "close"         // the run closes (or gives back) its sandbox
	OpRun          = "run"           // Sandbox.Run
	OpWriteFiles   = "write_files"   // Sandbox.WriteFiles
	OpOpenFile     = "open_file"     // Sandbox.Open
	OpList         = "list"          // Sandbox.List
	OpStartProcess = "start_process" // ProcessStarter.StartProcess
	OpStopProcess  = "stop_process"  // ProcessStarter.StopProcess
	OpPreviewURL   = "preview_url"   // Previewer.PreviewURL
)

// SandboxOp describes an operation on a sandbox.
type SandboxOp struct {
	// Name is one of OpOpen, OpClose, OpRun, ….
	Name string
	// Command is the command line of OpRun and OpStartProcess; it may hold
	// what the model wrote, secrets included.
	Command string
	// Path is the path of OpOpenFile and OpList, and of OpWriteFiles when
	// it writes one file.
	Path string
	// Files and Bytes count what OpWriteFiles writes.
	Files int
	Bytes int64
	// Port is the port of OpPreviewURL, ID the process of OpStopProcess.
	Port int
	ID   string
}

// SandboxOpEnd is how a sandbox operation ended.
type SandboxOpEnd struct {
	Err error
	// Result is the command's result, for an OpRun without error.
	Result *Result
}

// observe calls the run's Observer for a sandbox operation, if it has one.
func startOp(ctx context.Context, obs Observer, op SandboxOp) (context.Context, func(SandboxOpEnd)) {
	if obs == nil {
		return ctx, func(SandboxOpEnd) {}
	}
	return obs.StartSandboxOp(ctx, op)
}

// observed returns sb with its operations reported to obs, keeping the
// optional interfaces tools use ([ProcessStarter] and [Previewer]).
func observed(sb Sandbox, obs Observer) Sandbox {
	base := &observedSandbox{sb: sb, obs: obs}
	ps, isPS := sb.(ProcessStarter)
	pv, isPV := sb.(Previewer)
	switch {
	case isPS && isPV:
		return &struct {
			*observedSandbox
			*observedProcesses
			*observedPreviews
		}{base, &observedProcesses{ps, obs}, &observedPreviews{pv, obs}}
	case isPS:
		return &struct {
			*observedSandbox
			*observedProcesses
		}{base, &observedProcesses{ps, obs}}
	case isPV:
		return &struct {
			*observedSandbox
			*observedPreviews
		}{base, &observedPreviews{pv, obs}}
	}
	return base
}

// observedSandbox reports a sandbox's operations to an Observer.
type observedSandbox struct {
	sb  Sandbox
	obs Observer
}

// unwrapSandbox returns the sandbox observed, by which the logs of its
// processes are kept.
func (o *observedSandbox) unwrapSandbox() Sandbox { return o.sb }

func (o *observedSandbox) Run(ctx context.Context, cmd Command) (Result, error) {
	ctx, end := o.obs.StartSandboxOp(ctx, SandboxOp{Name: OpRun, Command: cmd.Cmd})
	res, err := o.sb.Run(ctx, cmd)
	done := SandboxOpEnd{Err: err}
	if err == nil {
		done.Result = &res
	}
	end(done)
	return res, err
}

func (o *observedSandbox) WriteFiles(ctx context.Context, files []File) error {
	op := SandboxOp{Name: OpWriteFiles, Files: len(files)}
	for _, f := range files {
		op.Bytes += int64(len(f.Data))
	}
	if len(files) == 1 {
		op.Path = files[0].Path
	}
	ctx, end := o.obs.StartSandboxOp(ctx, op)
	err := o.sb.WriteFiles(ctx, files)
	end(SandboxOpEnd{Err: err})
	return err
}

func (o *observedSandbox) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	ctx, end := o.obs.StartSandboxOp(ctx, SandboxOp{Name: OpOpenFile, Path: path})
	rc, err := o.sb.Open(ctx, path)
	end(SandboxOpEnd{Err: err})
	return rc, err
}

func (o *observedSandbox) List(ctx context.Context, dir string) ([]FileInfo, error) {
	ctx, end := o.obs.StartSandboxOp(ctx, SandboxOp{Name: OpList, Path: dir})
	infos, err := o.sb.List(ctx, dir)
	end(SandboxOpEnd{Err: err})
	return infos, err
}

// Close is the run's to call on the sandbox itself: tools never close it.
func (o *observedSandbox) Close(ctx context.Context) error { return o.sb.Close(ctx) }

// observedProcesses reports a ProcessStarter's operations to an Observer.
type observedProcesses struct {
	ps  ProcessStarter
	obs Observer
}

func (o *observedProcesses) StartProcess(ctx context.Context, cmd Command) (Process, error) {
	ctx, end := o.obs.StartSandboxOp(ctx, SandboxOp{Name: OpStartProcess, Command: cmd.Cmd})
	p, err := o.ps.StartProcess(ctx, cmd)
	end(SandboxOpEnd{Err: err})
	return p, err
}

func (o *observedProcesses) StopProcess(ctx context.Context, id string) error {
	ctx, end := o.obs.StartSandboxOp(ctx, SandboxOp{Name: OpStopProcess, ID: id})
	err := o.ps.StopProcess(ctx, id)
	end(SandboxOpEnd{Err: err})
	return err
}

// observedPreviews reports a Previewer's operations to an Observer.
type observedPreviews struct {
	pv  Previewer
	obs Observer
}

func (o *observedPreviews) PreviewURL(ctx context.Context, port int) (string, error) {
	ctx, end := o.obs.StartSandboxOp(ctx, SandboxOp{Name: OpPreviewURL, Port: port})
	url, err := o.pv.PreviewURL(ctx, port)
	end(SandboxOpEnd{Err: err})
	return url, err
}
