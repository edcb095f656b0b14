// Package e2b is an [agentbox.Sandbox] on E2B: each sandbox a small cloud VM,
// created in about a second, where the agent's commands run and its apps are
// served at public URLs.
//
//	sb, err := e2b.New(ctx, e2b.FromEnv()) // E2B_API_KEY, E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL, E2B_DEBUG
//	...
//	defer sb.Close(ctx) // kills the sandbox
//
// or, for the agent to create one per run, in parallel with its first model
// request, and kill it when the run ends:
//
//	agent := agentbox.New(provider, agentbox.Options{Open: e2b.Opener(cfg)})
//
// # The wire
//
// Two APIs are spoken, from clients generated from E2B's own specs
// (spec/e2b in this module): the control plane's REST API (oapi-codegen),
// which creates, connects to, extends and kills sandboxes; and envd, the
// daemon in each sandbox, over Connect RPC with the JSON codec (connect-go),
// as E2B's official SDKs do. Commands run as /bin/bash -l -c CMD through
// envd's Process.Start, whose stream carries the output as it is written and
// the exit code; files are uploaded in one multipart request, read as a
// download and listed with ListDir.
//
// Relative paths resolve against the user's home directory (/home/user in
// E2B's templates), and a command with no Dir runs there too, on every
// template: one that sets another workdir included. The whole VM is the
// agent's: paths outside the home directory are not refused.
//
// The client speaks Connect's binary codec to envd, uncompressed, and reads
// every stream to its end, so that a sandbox's commands, uploads and
// downloads share one connection. A sandbox made with no HTTPClient has
// connections of its own, closed by Close.
//
// # Lifetimes and cleanup
//
// A sandbox lives Config.Lifetime (5 minutes unless set) and then E2B kills
// it; [Sandbox.SetLifetime] extends it. E2B calls that its "timeout"; it has
// nothing to do with the deadlines of requests, which come from each call's
// ctx. Close kills the sandbox (a sandbox already gone is not an error).
//
// A command whose ctx ends, or whose Timeout passes, is killed with every
// process it started: envd signals only the process it started itself, so
// its descendants are found and killed first. The Timeout also goes to envd
// (Connect-Timeout-Ms), a few seconds later, in case this program is gone by
// then. Without a Timeout or a ctx deadline no Connect-Timeout-Ms is sent
// (the JS SDK sends 60 seconds by default): a command runs as long as its
// caller lets it, and an agent's commands get their Timeout from the run. A
// background process started with StartProcess has no time limit; when its
// stream drops while the sandbox lives, it is re-attached, and envd reports
// the exit code of one that ended meanwhile.
//
// # Pausing and forking
//
// [Sandbox.Pause] pauses a sandbox that idles, so that it costs no compute:
// E2B snapshots it, memory included, and [Sandbox.Resume], [Connect], or
// simply using the Sandbox again resumes it as it was, in a second or so. A
// sandbox created with Config.AutoPause is paused, not killed, when its
// lifetime ends. An [agentbox.Session] pauses its sandbox once it has idled
// for SessionOptions.PauseAfter, and resumes it at its next turn.
// [Sandbox.Fork] makes new sandboxes from a snapshot of a running one, to
// try several approaches from one state.
//
// # Errors
//
// Failures are [*Error] values with the operation, the HTTP status, the
// Connect code and the server's message. A bad key or access token matches
// [ErrAuth]; 429 matches [ErrRateLimited] (creating a sandbox retries it,
// with backoff, until ctx is done: it means the account's sandboxes are all
// in use); a sandbox that died, expired or was killed matches
// [agentbox.ErrSandboxGone] (the control plane's 404, E2B's edge's 502); a
// paused one that could not be resumed matches [ErrPaused]; a missing file
// or process matches [fs.ErrNotExist]. Error.Kind says the same as one
// [agentbox.ErrorKind] (KindAuth, KindRateLimited, KindSandboxGone,
// KindPaused, KindNotFound, and KindUpstream for E2B's 5xx), which
// [agentbox.KindOf] reports for provider errors too.
//
// # Credentials
//
// The API key goes to the control plane only, and a sandbox's access token
// (with Config.User's authorization) to its envd only: each to its own
// origin, scheme, host and port. net/http would copy them onto the requests
// of redirects, so the origin of every request is checked below the
// redirects it follows, whatever the CheckRedirect of Config.HTTPClient: a
// redirect to another origin (another host, port or subdomain, or from https
// to http) is refused with an error, and nothing, not even the request's
// body, is sent there. Config.HTTPClient itself is left as it is.
//
// The API key and the sandbox's tokens never appear in errors (in no field,
// nor in the errors they wrap), nor in String output.
//
// # Warm pools
//
// E2B takes a second or two to create a sandbox. A [Pool] keeps some
// created, and their lifetimes extended, so that a run gets one at once.
//
// # Debug mode
//
// With Config.Debug (E2B_DEBUG=true) there is no control plane: the sandbox
// is an envd running on this machine at localhost:49983, as with E2B's
// official SDKs, and previews are at localhost.
//
// Package [github.com/agentbox/agentbox/e2b/e2btest] is a fake E2B, on the
// same wire protocols, for tests.
package e2b
