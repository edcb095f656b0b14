package local

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// The seccomp filter that bwrap installs (--seccomp) for every command of a
// bubblewrap sandbox refuses, in every process of the command:
//   - setting the setuid or setgid bit of a file (chmod, fchmod, fchmodat,
//     fchmodat2, and open, openat, creat and mknod with such a mode), so that
//     nothing a command leaves in the workspace runs with its owner's rights
//     when someone else starts it;
//   - openat2 and io_uring, whose arguments a filter cannot see (callers fall
//     back to openat and to plain system calls);
//   - with NoNetwork, Unix domain sockets (socket with AF_UNIX), through which
//     the host's services listening on socket files would still be reached;
//     socketpair, for pipes between processes, is left alone;
//   - every system call of another ABI than the program's own (such as 32-bit
//     x86 programs), whose numbers differ.

// A syscallRule refuses a system call: always, when its argument arg has one
// of the bits of mask set, or when that argument equals value.
type syscallRule struct {
	nr    uint32
	arg   int    // the argument checked, when mask or value is set
	mask  uint32 // refuse when the argument has one of these bits
	value uint32 // refuse when the argument is this (and mask is 0)
	check bool   // whether the argument is checked
	errno syscall.Errno
}

// setIDBits are the mode bits the filter keeps commands from setting.
const setIDBits = syscall.S_ISUID | syscall.S_ISGID

// Numbers of system calls that are the same on every architecture.
const (
	sysIOUringSetup = 425
	sysOpenat2      = 437
	sysFchmodat2    = 452
)

// modeRule refuses system call nr when its argument arg, a file mode, has
// the setuid or setgid bit.
func modeRule(nr uint32, arg int) syscallRule {
	return syscallRule{nr: nr, arg: arg, mask: setIDBits, check: true, errno: syscall.EPERM}
}

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16 // each argument takes 8 bytes; the low 32 bits come first here
)

// seccompProgram returns the filter as the compiled classic BPF program
// bwrap reads from a file: the rules of each ABI seccompABIs knows, and
// every system call of another refused. It returns nil where there are no
// rules for this architecture.
func seccompProgram(noNetwork bool) []byte {
	abis := seccompABIs(noNetwork)
	if len(abis) == 0 {
		return nil
	}
	var prog []unix.SockFilter
	for _, abi := range abis {
		block := []unix.SockFilter{stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)}
		if abi.below != 0 {
			block = append(block,
				jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, abi.below, 0, 1),
				ret(unix.SECCOMP_RET_ERRNO|uint32(syscall.EPERM)))
		}
		for _, r := range abi.rules {
			block = append(block, r.code()...)
		}
		block = append(block, ret(unix.SECCOMP_RET_ALLOW))
		prog = append(prog,
			stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
			jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, abi.arch, 0, uint8(len(block))))
		prog = append(prog, block...)
	}
	prog = append(prog, ret(unix.SECCOMP_RET_ERRNO|uint32(syscall.EPERM)))
	out := make([]byte, 0, 8*len(prog))
	for _, f := range prog {
		out = binary.LittleEndian.AppendUint16(out, f.Code)
		out = append(out, f.Jt, f.Jf)
		out = binary.LittleEndian.AppendUint32(out, f.K)
	}
	return out
}

// A seccompABI is the rules for the system calls of one ABI.
type seccompABI struct {
	arch  uint32 // its AUDIT_ARCH_ value
	below uint32 // when not 0, numbers from this one on are refused
	rules []syscallRule
}

// code returns the instructions of r, which start with the system call's
// number in the accumulator and leave it there when r lets the call through.
func (r syscallRule) code() []unix.SockFilter {
	deny := ret(unix.SECCOMP_RET_ERRNO | uint32(r.errno))
	if !r.check {
		return []unix.SockFilter{
			jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, r.nr, 0, 1),
			deny,
		}
	}
	test := jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, r.value, 0, 1)
	if r.mask != 0 {
		test = jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, r.mask, 0, 1)
	}
	return []unix.SockFilter{
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, r.nr, 0, 4),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, uint32(offArgs+8*r.arg)),
		test,
		deny,
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	}
}

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

func ret(k uint32) unix.SockFilter { return stmt(unix.BPF_RET|unix.BPF_K, k) }
