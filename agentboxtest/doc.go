// Package agentboxtest provides test doubles and conformance suites for
// package agentbox, in the manner of testing/fstest and net/http/httptest.
//
// The doubles:
//
//   - [Provider] is a scripted [agentbox.Provider]: each call of Stream plays
//     the next [Step] of its script and records the request it got.
//   - [Sandbox] is an in-memory [agentbox.Sandbox] that is also an
//     [agentbox.ProcessStarter] and an [agentbox.Previewer]. Commands are
//     answered by its Handler, by default [Shell], which interprets a small
//     subset of sh against the sandbox's files.
//   - [Opener] and [FailingOpener] make an [agentbox.Opener] with a delay.
//   - [Approver] answers approval requests as scripted ([agentbox.Options]
//     Approve), or waits as a person who stepped away does.
//
// The suites:
//
//   - [RunSandboxTests] checks that a sandbox meets the [agentbox.Sandbox]
//     contract (and the [agentbox.ProcessStarter] one, when it has it).
//   - [RunProviderTests] checks that a provider streams what a fake backend
//     replaying [Step.Chunks] sends, and sends the requests it is given.
//   - [RunHostileTests] drives the agent with a model that attacks the
//     sandbox (huge edits, sparse and special files, path escapes, floods,
//     fork trees and bombs, malformed and huge arguments, calls denied or
//     never approved) and checks that
//     every run ends in its limits, with its heap bounded and nothing it
//     started left running.
//
// [Collect] puts a streamed response back together, for tests of anything
// that produces an iter.Seq2[agentbox.Chunk, error].
package agentboxtest
