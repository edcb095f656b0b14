package otelbox

import (
	"cmp"
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentbox/agentbox"
)

// providerKey is the context key of the run's provider name.
type providerKey struct{}

// otherProvider is gen_ai.provider.name when neither Options.ProviderName
// nor the provider names it.
const otherProvider = "_OTHER"

// providerIn returns the provider name of the run ctx belongs to.
func (o *Observer) providerIn(ctx context.Context) string {
	if name, ok := ctx.Value(providerKey{}).(string); ok {
		return name
	}
	return cmp.Or(o.provider, otherProvider)
}

// setError marks span as failed with err, of type errType.
func setError(span trace.Span, errType string, err error) {
	span.SetAttributes(keyErrorType.String(errType))
	desc := errType
	if err != nil {
		desc = err.Error()
	}
	span.SetStatus(codes.Error, desc)
}

// attrs returns base and more in a new slice, for a measurement.
func attrs(base []attribute.KeyValue, more ...attribute.KeyValue) metric.MeasurementOption {
	all := make([]attribute.KeyValue, 0, len(base)+len(more))
	return metric.WithAttributes(append(append(all, base...), more...)...)
}

// startRun starts the span of a run.
func (o *Observer) startRun(ctx context.Context, run agentbox.RunStart) (context.Context, func(agentbox.Done)) {
	start := time.Now()
	provider := cmp.Or(o.provider, run.Provider, otherProvider)
	ctx = context.WithValue(ctx, providerKey{}, provider)
	common := []attribute.KeyValue{
		keyOperationName.String(operationInvokeAgent),
		keyProviderName.String(provider),
		keyAgentName.String(o.agent),
	}
	if run.Model != "" {
		common = append(common, keyRequestModel.String(run.Model))
	}
	ctx, span := o.tracer.Start(ctx, "invoke_agent "+o.agent,
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(common...))
	if o.content && span.IsRecording() {
		if run.System != "" {
			span.SetAttributes(keySystemInstructions.String(systemInstructions(run.System)))
		}
		span.SetAttributes(keyInputMessages.String(inputMessages(run.Messages)))
	}
	return ctx, func(done agentbox.Done) {
		errType := runErrorType(done)
		if span.IsRecording() {
			span.SetAttributes(
				keyStopReason.String(string(done.Reason)),
				keySteps.Int(done.Steps),
				keyInputTokens.Int64(done.Usage.PromptTokens),
				keyOutputTokens.Int64(done.Usage.CompletionTokens),
			)
			if done.Usage.Cost > 0 {
				span.SetAttributes(keyCost.Float64(done.Usage.Cost))
			}
			if errType != "" {
				setError(span, errType, done.Err)
			}
		}
		if o.ins.duration.Enabled(ctx) {
			m := common
			if errType != "" {
				m = append(m[:len(m):len(m)], keyErrorType.String(errType))
			}
			o.ins.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(m...))
		}
		if o.ins.runs.Enabled(ctx) {
			o.ins.runs.Add(ctx, 1, metric.WithAttributes(keyStopReason.String(string(done.Reason)), keyAgentName.String(o.agent)))
		}
		span.End()
	}
}

// modelCall follows one model call, for its span and metrics.
type modelCall struct {
	o          *Observer
	ctx        context.Context
	span       trace.Span
	start      time.Time
	model      string        // the model asked for, if any
	firstChunk time.Duration // from start to the first chunk; 0 before it
}

// startModelCall starts the span of a model call.
func (o *Observer) startModelCall(ctx context.Context, call agentbox.ModelCallStart) (context.Context, agentbox.ModelCallObserver) {
	c := &modelCall{o: o, start: time.Now()}
	req := call.Request
	if req == nil {
		req = &agentbox.Request{}
	}
	c.model = req.Model
	name := operationChat
	if c.model != "" {
		name += " " + c.model
	}
	kv := []attribute.KeyValue{
		keyOperationName.String(operationChat),
		keyProviderName.String(o.providerIn(ctx)),
		keyStep.Int(call.Step),
	}
	if c.model != "" {
		kv = append(kv, keyRequestModel.String(c.model))
	}
	if req.MaxTokens > 0 {
		kv = append(kv, keyRequestMaxTokens.Int(req.MaxTokens))
	}
	if req.Temperature != nil {
		kv = append(kv, keyRequestTemperature.Float64(*req.Temperature))
	}
	c.ctx, c.span = o.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(kv...))
	if o.content && c.span.IsRecording() {
		if req.System != "" {
			c.span.SetAttributes(keySystemInstructions.String(systemInstructions(req.System)))
		}
		c.span.SetAttributes(keyInputMessages.String(inputMessages(req.Messages)))
	}
	return c.ctx, c
}

// FirstChunk marks when the response started.
func (c *modelCall) FirstChunk() {
	if c.firstChunk != 0 {
		return
	}
	c.firstChunk = max(time.Since(c.start), time.Nanosecond)
	c.span.AddEvent(eventFirstChunk)
}

// Warning adds an event for a problem the provider recovered from.
func (c *modelCall) Warning(err error) {
	if !c.span.IsRecording() || err == nil {
		return
	}
	kv := []attribute.KeyValue{
		keyErrorType.String(errorType(err)),
		keyWarningMessage.String(err.Error()),
	}
	if code := statusCode(err); code != 0 {
		kv = append(kv, keyHTTPResponseStatus.Int(code))
	}
	name := eventWarning
	switch {
	case errors.Is(err, agentbox.ErrFallingBack):
		name = eventFallback
	case errors.Is(err, agentbox.ErrRetrying):
		name = eventRetry
	}
	c.span.AddEvent(name, trace.WithAttributes(kv...))
}

// End ends the span of the call and records its metrics.
func (c *modelCall) End(end agentbox.ModelCallEnd) {
	o, span := c.o, c.span
	elapsed := time.Since(c.start)
	responseModel := end.Model
	if responseModel == "" {
		responseModel = c.model
	}
	errType := errorType(end.Err)
	if span.IsRecording() {
		u := end.Usage
		if responseModel != "" {
			span.SetAttributes(keyResponseModel.String(responseModel))
		}
		if end.FinishReason != "" {
			span.SetAttributes(keyFinishReasons.StringSlice([]string{string(end.FinishReason)}))
		}
		span.SetAttributes(keyInputTokens.Int64(u.PromptTokens), keyOutputTokens.Int64(u.CompletionTokens))
		if u.CachedTokens > 0 {
			span.SetAttributes(keyCacheReadTokens.Int64(u.CachedTokens))
		}
		if u.ReasoningTokens > 0 {
			span.SetAttributes(keyReasoningTokens.Int64(u.ReasoningTokens))
		}
		if u.Cost > 0 {
			span.SetAttributes(keyCost.Float64(u.Cost))
		}
		if c.firstChunk > 0 {
			span.SetAttributes(keyTimeToFirstChunk.Float64(c.firstChunk.Seconds()))
		}
		if o.content && end.Err == nil {
			span.SetAttributes(keyOutputMessages.String(outputMessages(end.Message, end.FinishReason)))
		}
		if errType != "" {
			setError(span, errType, end.Err)
		}
	}
	o.recordModelCall(c.ctx, c.model, responseModel, errType, elapsed, c.firstChunk, end.Usage)
	span.End()
}

// recordModelCall records the metrics of a model call.
func (o *Observer) recordModelCall(ctx context.Context, requestModel, responseModel, errType string, elapsed, firstChunk time.Duration, u agentbox.Usage) {
	ins := &o.ins
	if !ins.duration.Enabled(ctx) && !ins.tokens.Enabled(ctx) && !ins.timeToFirstChunk.Enabled(ctx) {
		return
	}
	base := []attribute.KeyValue{
		keyOperationName.String(operationChat),
		keyProviderName.String(o.providerIn(ctx)),
	}
	if requestModel != "" {
		base = append(base, keyRequestModel.String(requestModel))
	}
	if responseModel != "" {
		base = append(base, keyResponseModel.String(responseModel))
	}
	if errType != "" {
		ins.duration.Record(ctx, elapsed.Seconds(), attrs(base, keyErrorType.String(errType)))
	} else {
		ins.duration.Record(ctx, elapsed.Seconds(), attrs(base))
	}
	if firstChunk > 0 {
		ins.timeToFirstChunk.Record(ctx, firstChunk.Seconds(), attrs(base))
	}
	if u.PromptTokens > 0 || u.CompletionTokens > 0 {
		ins.tokens.Record(ctx, u.PromptTokens, attrs(base, keyTokenType.String(tokenTypeInput)))
		ins.tokens.Record(ctx, u.CompletionTokens, attrs(base, keyTokenType.String(tokenTypeOutput)))
	}
}

// otherTool is gen_ai.tool.name for a name no tool can have, and, in
// metrics, for a tool the agent does not have.
const otherTool = "_OTHER"

// toolName is name, the model's, when a tool can have it (1 to 64 letters,
// digits, '_' or '-'), else otherTool: a model that writes anything does
// not make spans of any size.
func toolName(name string) string {
	if len(name) == 0 || len(name) > 64 {
		return otherTool
	}
	for _, ch := range []byte(name) {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return otherTool
		}
	}
	return name
}

// startToolCall starts the span of a tool call.
func (o *Observer) startToolCall(ctx context.Context, call agentbox.ToolCallStart) (context.Context, func(agentbox.ToolResult)) {
	start := time.Now()
	name := toolName(call.Call.Name)
	ctx, span := o.tracer.Start(ctx, operationExecuteTool+" "+name,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			keyOperationName.String(operationExecuteTool),
			keyToolName.String(name),
			keyToolCallID.String(call.Call.ID),
			keyToolType.String("function"),
			keyStep.Int(call.Step),
		))
	if o.content && span.IsRecording() {
		span.SetAttributes(keyToolCallArguments.String(call.Call.Arguments))
	}
	return ctx, func(res agentbox.ToolResult) {
		errType := errorType(res.Err)
		if span.IsRecording() {
			if x := res.Exit; x != nil {
				span.SetAttributes(keyToolExitCode.Int(x.Code))
				if x.Killed {
					span.SetAttributes(keyToolKilled.Bool(true))
				}
				if x.TimedOut {
					span.SetAttributes(keyToolTimedOut.Bool(true))
				}
			}
			if errors.Is(res.Err, agentbox.ErrDenied) {
				span.SetAttributes(keyToolDenied.Bool(true))
			}
			if o.content {
				span.SetAttributes(keyToolCallResult.String(res.Output))
			}
			if errType != "" {
				setError(span, errType, res.Err)
			}
		}
		if o.ins.duration.Enabled(ctx) {
			if errors.Is(res.Err, agentbox.ErrUnknownTool) {
				name = otherTool // the model may make up any number of names
			}
			kv := []attribute.KeyValue{
				keyOperationName.String(operationExecuteTool),
				keyProviderName.String(o.providerIn(ctx)),
				keyToolName.String(name),
			}
			if errType != "" {
				kv = append(kv, keyErrorType.String(errType))
			}
			o.ins.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(kv...))
		}
		span.End()
	}
}

// startSandboxOp starts the span of a sandbox operation.
func (o *Observer) startSandboxOp(ctx context.Context, op agentbox.SandboxOp) (context.Context, func(agentbox.SandboxOpEnd)) {
	start := time.Now()
	kv := []attribute.KeyValue{keySandboxOp.String(op.Name)}
	if op.Path != "" {
		kv = append(kv, keySandboxPath.String(op.Path))
	}
	if op.Name == agentbox.OpWriteFiles {
		kv = append(kv, keySandboxFiles.Int(op.Files), keySandboxBytes.Int64(op.Bytes))
	}
	if op.Port != 0 {
		kv = append(kv, keySandboxPort.Int(op.Port))
	}
	if op.ID != "" {
		kv = append(kv, keySandboxProcess.String(op.ID))
	}
	if o.content && op.Command != "" {
		kv = append(kv, keySandboxCommand.String(op.Command))
	}
	ctx, span := o.tracer.Start(ctx, "sandbox "+op.Name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(kv...))
	return ctx, func(end agentbox.SandboxOpEnd) {
		errType := errorType(end.Err)
		if span.IsRecording() {
			if end.Result != nil && end.Err == nil {
				span.SetAttributes(keySandboxExitCode.Int(end.Result.ExitCode))
			}
			if errType != "" {
				setError(span, errType, end.Err)
			}
		}
		if o.ins.sandboxDuration.Enabled(ctx) {
			if errType != "" {
				o.ins.sandboxDuration.Record(ctx, time.Since(start).Seconds(),
					metric.WithAttributes(keySandboxOp.String(op.Name), keyErrorType.String(errType)))
			} else {
				o.ins.sandboxDuration.Record(ctx, time.Since(start).Seconds(),
					metric.WithAttributes(keySandboxOp.String(op.Name)))
			}
		}
		span.End()
	}
}
