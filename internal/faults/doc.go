// Package faults holds the fault-injection tests of the whole stack: the
// agent, the OpenRouter provider and the E2B sandbox, against their fakes.
// TestFaults runs the agent against models and sandboxes that fail;
// TestClientFaults serves it through a uistream.Handler to hostile chat
// clients: clients that stop reading or disconnect mid-stream, slow request
// bodies, many clients on one chat, regenerations and edits during a turn,
// and more chats than the handler keeps sessions for.
//
//	go test ./internal/faults -run TestFaults -v [-faults.seed=N] [-faults.runs=N] [-faults.time=D]
//	go test ./internal/faults -run TestClientFaults -v [-faults.seed=N] [-faults.first=N] [-faults.runs=N] [-faults.time=D]
//	go test ./internal/faults -run TestFaults -timeout 0 -faults.long   # 10,000 seeds, outside CI
//
// Without -faults.time, TestFaults starts no run after 75 s and
// TestClientFaults none after 25 s; -faults.long runs 10,000 seeds of
// either.
package faults
