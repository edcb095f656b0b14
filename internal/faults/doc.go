// Package faults holds the fault-injection test of the whole stack: the
// agent, the OpenRouter provider and the E2B sandbox, against their fakes.
//
//	go test ./internal/faults -run TestFaults -v [-faults.seed=N] [-faults.runs=N] [-faults.time=D]
package faults
