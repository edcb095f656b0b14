package local

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nonblock opens files without waiting, such as a named pipe with no
// writer.
const nonblock = syscall.O_NONBLOCK

// procAttr puts a command in a session and process group of its own, away
// from the terminal, and kills it if this process dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}

// waitExit waits for c's process to exit without reaping it, so that its PID,
// and with it the IDs of its process group and session, cannot be reused
// while what it left behind is killed. It reports whether it reaped it.
func waitExit(c *exec.Cmd) (reaped bool) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, c.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return false
		}
	}
}

// killGroup kills the process group pgid. The kernel signals all its
// processes at once: none of them can escape by forking.
func killGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// stopWait bounds how long the processes of a session are given to stop
// before they are killed stopped or not: a process may be unable to stop for
// a while, such as a parent waiting for its vfork child, which was stopped.
const stopWait = 200 * time.Millisecond

// endSession kills what is left of the session sid, whose leader has exited,
// spending at most wait on it. Without scan it kills the leader's process
// group only: the rest is in a bubblewrap sandbox, whose processes die with
// its first one. With scan it kills every process of the session, also those
// that moved to process groups of their own.
//
// Those are found by looking through /proc, and a process seen there may have
// forked before it is signalled, so they are stopped before they are killed:
// a stopped process cannot fork. Every process of the session is stopped,
// and the session looked through again, until all are stopped; then all are
// killed, and the session looked through again, until it is empty. A look
// that finds nothing is the end: a session without processes can get no new
// ones. After stopWait the processes found are killed whether or not they
// are stopped, and after wait endSession gives up.
func endSession(sid int, scan bool, wait time.Duration) {
	if !scan {
		killGroup(sid)
		return
	}
	ending.Store(sid, struct{}{})
	defer ending.Delete(sid)
	start := time.Now()
	syscall.Kill(-sid, syscall.SIGSTOP) // the leader's group, at once
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, 5*time.Millisecond) {
		members := scanner.sessions()[sid]
		if len(members) == 0 {
			return
		}
		since := time.Since(start)
		if since < stopWait && !allStopped(members) {
			for _, m := range members {
				if !m.stopped {
					signal(sid, m.pid, unix.SIGSTOP)
				}
			}
		} else {
			for _, m := range members {
				signal(sid, m.pid, unix.SIGKILL)
			}
			if since >= wait {
				return
			}
		}
		time.Sleep(pause)
	}
}

// signal sends sig to pid if it is still a process of the session sid. The
// check and the signal go through a pidfd, so that a PID that was reused
// since the look through /proc is never signalled. Without pidfds (Linux
// before 5.3), it signals the PID.
func signal(sid, pid int, sig unix.Signal) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ENOSYS {
		unix.Kill(pid, sig)
		return
	}
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	var buf [1024]byte
	if s, _, ok := readStat(strconv.Itoa(pid), pid, buf[:]); !ok || s != sid {
		return // ended, and its PID taken by another process
	}
	unix.PidfdSendSignal(fd, sig, nil, 0)
}

// allStopped reports whether every one of members is stopped.
func allStopped(members []member) bool {
	for _, m := range members {
		if !m.stopped {
			return false
		}
	}
	return true
}

// A member is a live process of a session, as a look through /proc saw it.
type member struct {
	pid     int
	stopped bool // stopped by a signal or a tracer: it cannot fork
}

// ending holds the sessions whose processes endSession is killing: a look
// through /proc stops each of their processes as soon as it sees it.
var ending sync.Map // session ID → struct{}

// scanner is the one procScanner of the program.
var scanner = procScanner{running: make(chan struct{}, 1)}

// A procScanner looks through /proc for the live processes of every session,
// once for all the callers that asked while an earlier look was under way:
// killing the processes of many sessions at once, such as those of a
// sandbox being closed, costs one look per round, not one per session.
type procScanner struct {
	running chan struct{} // holds a token while a look is under way

	mu   sync.Mutex
	next *procScan // the look that starts once the running one ends, if asked for
}

// A procScan is one look through /proc.
type procScan struct {
	done     chan struct{} // closed once sessions is set
	sessions map[int][]member
}

// sessions returns the live processes of every session, by session ID, as
// seen by a look through /proc that started after the call. The map is
// shared: callers must not change it.
func (s *procScanner) sessions() map[int][]member {
	s.mu.Lock()
	scan := s.next
	first := scan == nil
	if first {
		scan = &procScan{done: make(chan struct{})}
		s.next = scan
	}
	s.mu.Unlock()
	if !first {
		<-scan.done
		return scan.sessions
	}
	s.running <- struct{}{} // the look under way, if any, ends
	s.mu.Lock()
	s.next = nil // callers from now on wait for the following look
	s.mu.Unlock()
	scan.sessions = scanProc()
	<-s.running
	close(scan.done)
	return scan.sessions
}

// maxListings bounds how often one look lists /proc.
const maxListings = 100

// scanProc looks through /proc for the live processes of every session.
// Dead processes not yet reaped (zombies) are left out: the orphans of a
// killed command are reaped by init, which may take its time.
//
// Every process alive when the look ends is in it: /proc is listed again
// until a listing shows no process that an earlier one did not, so that a
// process forked during the look is in it too. A process forked after the
// last listing is not, but its parent is, seen alive. (This holds unless a
// PID is used again during the look, which takes all the PIDs of the system
// to be used in that time.)
func scanProc() map[int][]member {
	sessions := make(map[int][]member)
	seen := make(map[int]bool)
	var buf [512]byte
	for range maxListings {
		names, err := listProc()
		if err != nil {
			break
		}
		fresh := false
		for _, name := range names {
			pid, err := strconv.Atoi(name)
			if err != nil || seen[pid] {
				continue
			}
			seen[pid] = true
			fresh = true
			if sid, m, ok := readStat(name, pid, buf[:]); ok {
				sessions[sid] = append(sessions[sid], m)
				if _, end := ending.Load(sid); end && !m.stopped {
					// Stopped now, not once the look is over: by then a
					// process may have forked and exited.
					signal(sid, pid, unix.SIGSTOP)
				}
			}
		}
		if !fresh {
			break
		}
	}
	return sessions
}

// listProc returns the names in /proc.
func listProc() ([]string, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// readStat reads /proc/name/stat, using buf, and returns the session of the
// process and what it is, or false when it is not alive.
func readStat(name string, pid int, buf []byte) (sid int, m member, ok bool) {
	fd, err := unix.Open("/proc/"+name+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, member{}, false
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		return 0, member{}, false
	}
	// pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice num_threads ...;
	// comm may hold spaces and parentheses. A stat longer than buf is cut,
	// after the fields needed.
	stat := buf[:n]
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, member{}, false
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 18 || len(f[0]) != 1 {
		return 0, member{}, false
	}
	state := f[0][0]
	switch state {
	case 'X', 'x':
		return 0, member{}, false
	case 'Z':
		// A process whose first thread exited shows as a zombie while its
		// other threads run; it counts as alive, and not stopped.
		if threads, err := strconv.Atoi(string(f[17])); err != nil || threads <= 1 {
			return 0, member{}, false
		}
	}
	sid, err = strconv.Atoi(string(f[3]))
	if err != nil {
		return 0, member{}, false
	}
	return sid, member{pid: pid, stopped: state == 'T' || state == 't'}, true
}

// A pidfd refers to a process without the risk of its PID being reused.
type pidfd int

const noPidfd pidfd = -1

// openPidfd returns a pidfd for pid, or noPidfd.
func openPidfd(pid int) pidfd {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return noPidfd
	}
	return pidfd(fd)
}

// kill kills the process, reporting whether a signal was sent.
func (f pidfd) kill() bool {
	return f != noPidfd && unix.PidfdSendSignal(int(f), unix.SIGKILL, nil, 0) == nil
}

func (f *pidfd) close() {
	if *f != noPidfd {
		unix.Close(int(*f))
		*f = noPidfd
	}
}
