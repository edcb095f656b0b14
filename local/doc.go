// Package local is the sandbox that needs no account: a workspace folder on
// this machine, where commands run as real processes.
//
//	sb, err := local.New(ctx, local.Config{})     // a new temporary workspace
//	defer sb.Close(ctx)                            // kills what runs, removes the folder
//	agent := agentbox.New(provider, agentbox.Options{Sandbox: sb})
//
// or let each run open and close its own with [Opener]:
//
//	agent := agentbox.New(provider, agentbox.Options{Open: local.Opener(local.Config{})})
//
// # Files
//
// File operations ([Sandbox.WriteFiles], [Sandbox.Open], [Sandbox.List]) are
// confined to the workspace with [os.Root]: a path with "..", an absolute
// path outside the workspace, or a symbolic link that points out of it is
// refused with an error matching [ErrOutsideWorkspace]. Absolute paths inside
// the workspace are accepted.
//
// # Commands
//
// Commands run as /bin/bash -l -c CMD in the workspace, each in a session and
// process group of its own. Whatever a command starts ends with it: when the
// shell exits, is cancelled or times out, the whole group is killed, so a
// command that leaves a background child behind leaves nothing running. Long
// lived programs, such as dev servers, belong in [Sandbox.StartProcess]; they
// are killed by [Sandbox.StopProcess] or [Sandbox.Close].
//
// Commands get a small, clean environment, not the host's: PATH, HOME (a
// private folder of the sandbox), TMPDIR, LANG, SHELL, USER and LOGNAME, plus
// [Config.Env] and the command's own variables. Secrets in the host's
// environment, such as OPENROUTER_API_KEY or E2B_API_KEY, never reach them.
//
// # Isolation
//
// With [Bubblewrap] isolation (the bwrap program, Debian package
// "bubblewrap") each command runs in a bubblewrap sandbox: the whole system is
// mounted read-only; only the workspace, the sandbox's private home and its
// private /tmp are writable; the command gets new PID, IPC and UTS namespaces,
// no capabilities, a new session (it cannot reach the terminal), and it dies
// with its parent. The network is shared with the host, so that package
// installs work and servers can be previewed, unless [Config.NoNetwork] cuts
// it off. Commands can still read every file that the user running the
// program can, the home folder included: list what they must not read (keys,
// tokens, cloud credentials) in [Config.Hide].
//
// With [None] isolation, commands run directly on the host as the user
// running the program. The clean environment and the process-group kill still
// apply, but nothing else protects the host: a command can read and write
// every file that user can (home directory, SSH keys, other projects), read
// other processes' environments under /proc, reach the network, and start a
// process in a new session that outlives the sandbox. If the program using the
// sandbox is killed without closing it, only each command's shell is killed
// with it; what the shell started lives on (with bubblewrap, everything dies).
// Use None only for code you would run yourself.
//
// [Auto], the zero value, uses bubblewrap when it is installed and works, and
// None otherwise; [Sandbox.Isolation] tells which was chosen.
//
// # Previews
//
// A port that a process listens on is reached at http://127.0.0.1:PORT;
// [Sandbox.PreviewURL] hands the URL out only once the port accepts
// connections.
package local
