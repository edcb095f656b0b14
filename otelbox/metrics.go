package otelbox

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The bucket boundaries the semantic conventions advise for
// gen_ai.client.token.usage and for durations in seconds.
var (
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
)

// instruments are the metrics an Observer records.
type instruments struct {
	tokens           metric.Int64Histogram   // gen_ai.client.token.usage
	duration         metric.Float64Histogram // gen_ai.client.operation.duration
	timeToFirstChunk metric.Float64Histogram // gen_ai.client.operation.time_to_first_chunk
	sandboxDuration  metric.Float64Histogram // agentbox.sandbox.operation.duration
	runs             metric.Int64Counter     // agentbox.runs
}

// newInstruments makes the instruments of meter. An instrument it fails to
// make is the no-op one, and the error says which.
func newInstruments(meter metric.Meter) (instruments, error) {
	var ins instruments
	var errs []error
	var err error
	ins.tokens, err = meter.Int64Histogram("gen_ai.client.token.usage",
		metric.WithDescription("Number of input and output tokens used."),
		metric.WithUnit("{token}"),
		metric.WithExplicitBucketBoundaries(tokenBuckets...))
	errs = append(errs, err)
	ins.duration, err = meter.Float64Histogram("gen_ai.client.operation.duration",
		metric.WithDescription("GenAI operation duration."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	ins.timeToFirstChunk, err = meter.Float64Histogram("gen_ai.client.operation.time_to_first_chunk",
		metric.WithDescription("Time to receive the first chunk of a streamed model response."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	ins.sandboxDuration, err = meter.Float64Histogram("agentbox.sandbox.operation.duration",
		metric.WithDescription("Duration of an operation on a sandbox."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	ins.runs, err = meter.Int64Counter("agentbox.runs",
		metric.WithDescription("Number of agent runs that ended, by stop reason."),
		metric.WithUnit("{run}"))
	errs = append(errs, err)
	if ins.tokens == nil {
		ins.tokens = noop.Int64Histogram{}
	}
	if ins.duration == nil {
		ins.duration = noop.Float64Histogram{}
	}
	if ins.timeToFirstChunk == nil {
		ins.timeToFirstChunk = noop.Float64Histogram{}
	}
	if ins.sandboxDuration == nil {
		ins.sandboxDuration = noop.Float64Histogram{}
	}
	if ins.runs == nil {
		ins.runs = noop.Int64Counter{}
	}
	if err := errors.Join(errs...); err != nil {
		return ins, fmt.Errorf("otelbox: making the instruments: %w", err)
	}
	return ins, nil
}
