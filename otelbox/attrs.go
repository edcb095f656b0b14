package otelbox

import "go.opentelemetry.io/otel/attribute"

// The attributes of the semantic conventions that otelbox records.
const (
	keyOperationName       = attribute.Key("gen_ai.operation.name")
	keyProviderName        = attribute.Key("gen_ai.provider.name")
	keyAgentName           = attribute.Key("gen_ai.agent.name")
	keyRequestModel        = attribute.Key("gen_ai.request.model")
	keyRequestMaxTokens    = attribute.Key("gen_ai.request.max_tokens")
	keyRequestTemperature  = attribute.Key("gen_ai.request.temperature")
	keyResponseModel       = attribute.Key("gen_ai.response.model")
	keyFinishReasons       = attribute.Key("gen_ai.response.finish_reasons")
	keyTimeToFirstChunk    = attribute.Key("gen_ai.response.time_to_first_chunk")
	keyInputTokens         = attribute.Key("gen_ai.usage.input_tokens")
	keyOutputTokens        = attribute.Key("gen_ai.usage.output_tokens")
	keyCacheReadTokens     = attribute.Key("gen_ai.usage.cache_read.input_tokens")
	keyReasoningTokens     = attribute.Key("gen_ai.usage.reasoning.output_tokens")
	keyTokenType           = attribute.Key("gen_ai.token.type")
	keyToolName            = attribute.Key("gen_ai.tool.name")
	keyToolCallID          = attribute.Key("gen_ai.tool.call.id")
	keyToolType            = attribute.Key("gen_ai.tool.type")
	keyToolCallArguments   = attribute.Key("gen_ai.tool.call.arguments")
	keyToolCallResult      = attribute.Key("gen_ai.tool.call.result")
	keySystemInstructions  = attribute.Key("gen_ai.system_instructions")
	keyInputMessages       = attribute.Key("gen_ai.input.messages")
	keyOutputMessages      = attribute.Key("gen_ai.output.messages")
	keyErrorType           = attribute.Key("error.type")
	keyHTTPResponseStatus  = attribute.Key("http.response.status_code")
	operationChat          = "chat"
	operationInvokeAgent   = "invoke_agent"
	operationExecuteTool   = "execute_tool"
	tokenTypeInput         = "input"
	tokenTypeOutput        = "output"
	errorTypeOther         = "_OTHER"
	defaultAgentName       = "agentbox"
	instrumentationName    = "github.com/agentbox/agentbox/otelbox"
	semanticConventionsURL = "https://opentelemetry.io/schemas/1.41.0"
)

// The attributes of agentbox's own.
const (
	keyStopReason      = attribute.Key("agentbox.stop_reason")
	keySteps           = attribute.Key("agentbox.steps")
	keyStep            = attribute.Key("agentbox.step")
	keyCost            = attribute.Key("agentbox.usage.cost")
	keyWarningMessage  = attribute.Key("agentbox.warning.message")
	keyToolExitCode    = attribute.Key("agentbox.tool.exit_code")
	keyToolKilled      = attribute.Key("agentbox.tool.killed")
	keyToolTimedOut    = attribute.Key("agentbox.tool.timed_out")
	keyToolDenied      = attribute.Key("agentbox.tool.denied")
	keySandboxOp       = attribute.Key("agentbox.sandbox.operation")
	keySandboxPath     = attribute.Key("agentbox.sandbox.path")
	keySandboxFiles    = attribute.Key("agentbox.sandbox.files")
	keySandboxBytes    = attribute.Key("agentbox.sandbox.bytes")
	keySandboxPort     = attribute.Key("agentbox.sandbox.port")
	keySandboxProcess  = attribute.Key("agentbox.sandbox.process_id")
	keySandboxCommand  = attribute.Key("agentbox.sandbox.command")
	keySandboxExitCode = attribute.Key("agentbox.sandbox.exit_code")
	eventFirstChunk    = "agentbox.first_chunk"
	eventWarning       = "agentbox.provider.warning"
	eventRetry         = "agentbox.provider.retry"
	eventFallback      = "agentbox.provider.fallback"
)
