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
// the workspace are accepted. Only regular files are read and written: a
// named pipe or a device made by a command is refused, never waited on.
//
// # Folders left behind
//
// A sandbox's private folder (HOME, TMPDIR and, unless [Config.Dir] is
// given, the workspace) is agentbox-* in the system's temporary folder,
// removed by Close. A program killed before Close leaves it behind; the
// first New of a later program removes such folders, and [Clean] does on
// demand. A folder is removed only when no program holds the lock on its
// owner.lock file, which its sandbox keeps locked (flock) from the start
// until Close: the kernel lets go of it when the program ends, SIGKILL
// included, and a reused process ID cannot fool it. Live programs' folders,
// other users', links and folders without a lock (made before this scheme)
// are left alone.
//
// # Commands
//
// Commands run as /bin/bash -l -c CMD in the workspace, each in a session and
// process group of its own, with none of the host program's open files but
// stdin (/dev/null), stdout and stderr. Whatever a command starts ends with
// it: when the shell exits, is cancelled or times out, every process of its
// session is killed, also those that moved to a process group of their own,
// so a command that leaves a background child behind leaves nothing running.
// Long-lived programs, such as dev servers, belong in [Sandbox.StartProcess];
// they are killed by [Sandbox.StopProcess] or [Sandbox.Close].
//
// Output is written to [agentbox.Command] Stdout and Stderr as the command
// writes it, by one goroutine at a time, and all of it before Run returns: a
// writer that blocks holds Run up, even past its Timeout.
//
// Commands get a small, clean environment, not the host's: PATH, HOME (a
// private folder of the sandbox), TMPDIR (another, kept across the sandbox's
// commands), LANG, SHELL, USER and LOGNAME, then [Config.Env], then the
// command's own variables. Secrets in the host's environment, such as
// OPENROUTER_API_KEY or E2B_API_KEY, never reach them.
//
// Each command's processes get the resource limits of [Config.Limits], set
// as hard limits that they cannot raise: by default files of at most 1 GiB,
// 8 GiB of data memory and 65,536 open files per process, no core dumps,
// and, with bubblewrap, at most 1,024 processes per command, past which the
// command is killed with an error matching [ErrLimit].
//
// # Isolation
//
// With [Bubblewrap] isolation (the bwrap program, Debian package
// "bubblewrap") each command runs in a bubblewrap sandbox:
//
//   - the whole system is mounted read-only; only the workspace, HOME and
//     TMPDIR are writable, and /tmp is a new, empty one for each command;
//   - the files and folders of [Config.Hide] are replaced by empty ones, and
//     so are the sockets of Docker, containerd and Podman, which would run
//     anything as root;
//   - the command gets new PID, IPC and UTS namespaces, no capabilities and a
//     new session (it cannot reach the terminal); every process it starts is
//     in its PID namespace, whatever it does (setsid, double forks), and when
//     the command ends, or the program using the sandbox dies, every process
//     in that namespace dies;
//   - a seccomp filter keeps it from setting the setuid or setgid bit of a
//     file (chmod, open, creat, mknod), so that nothing it leaves in the
//     workspace runs with its owner's rights when another user starts it,
//     and refuses io_uring and openat2, which the filter cannot see into.
//     Programs fall back to other calls; 32-bit programs cannot run.
//
// The network is shared with the host, so that package installs work and
// servers can be previewed, unless [Config.NoNetwork] cuts it off. Two things
// stay within reach of a bubblewrapped command: every file that the user
// running the program can read, the home folder included (list keys, tokens
// and cloud credentials in [Config.Hide]), and, with the network on, the
// host's services: its ports, its abstract Unix sockets, and the Unix sockets
// in its file system that are not hidden.
//
// With NoNetwork, a command has a network of its own with only a loopback
// interface: the host's ports and abstract Unix sockets are out of reach,
// and it cannot make a Unix domain socket at all (socket(AF_UNIX) fails with
// EAFNOSUPPORT), so the host's socket files, which the read-only system
// still shows, cannot be reached either. Pipes and socketpair work; servers
// it starts answer only on its own loopback. What it can still read is the
// file system, as above.
//
// With [None] isolation, commands run directly on the host as the user
// running the program. The clean environment, the closed files and the kill
// of the whole session still apply, but nothing else protects the host: a
// command can read and write every file that user can (home folder, SSH keys,
// other projects), read other processes' environments under /proc, and reach
// the network. What a command started is found by its session and killed,
// also the processes that moved to process groups of their own or whose
// parents exited: they are stopped first, so that none forks while they are
// killed. Only a process that leaves the session escapes, with what it
// starts: one that calls setsid, as the setsid program does and a daemon's
// double fork, or one that a program outside the session starts for the
// command, such as systemd-run, at or a container engine. Those outlive the
// sandbox. If the program using the sandbox is killed without closing it,
// only each command's shell is killed with it; what the shell started lives
// on. Use None only for code you would run yourself.
//
// [Auto], the zero value, uses bubblewrap when it is installed and works, and
// None otherwise; [Sandbox.Isolation] tells which was chosen.
//
// # Previews
//
// [Sandbox.PreviewURL] hands out the URL of a port only once something
// accepts connections on it: http://127.0.0.1:PORT, or http://[::1]:PORT for
// a server listening on IPv6 loopback only. With the network shared, that
// may also be a host service that happens to use the port.
package local
