package local

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
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

// killTree kills the process group led by sid and, when scan is set, every
// process of the session sid, also those that moved to a group of their own.
func killTree(sid int, scan bool) {
	syscall.Kill(-sid, syscall.SIGKILL)
	if scan {
		for _, pid := range sessionMembers(sid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// waitTreeGone kills what is alive of the session sid until nothing is, for
// at most wait: killed processes take a moment to die, and may fork before
// they do. Without scan it has nothing to wait for.
func waitTreeGone(sid int, scan bool, wait time.Duration) {
	if !scan {
		return
	}
	deadline := time.Now().Add(wait)
	for pause := 100 * time.Microsecond; time.Now().Before(deadline); pause = min(2*pause, 10*time.Millisecond) {
		members := sessionMembers(sid)
		if len(members) == 0 {
			return
		}
		for _, pid := range members {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(pause)
	}
}

// sessionMembers returns the live processes of the session or process group
// sid. Dead processes not yet reaped (zombies) are left out: the orphans of a
// killed command are reaped by init, which may take its time.
func sessionMembers(sid int) []int {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(strconv.Itoa(sid))
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces
		// and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 4 || f[0][0] == 'Z' || f[0][0] == 'X' {
			continue
		}
		if bytes.Equal(f[2], want) || bytes.Equal(f[3], want) {
			pids = append(pids, pid)
		}
	}
	return pids
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
