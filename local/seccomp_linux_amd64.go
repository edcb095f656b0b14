package local

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// seccompABIs returns the filter's rules for x86-64 programs, and refuses
// the x32 ABI. 32-bit x86 programs, whose system calls have other numbers,
// are refused whole.
func seccompABIs(noNetwork bool) []seccompABI {
	rules := []syscallRule{
		modeRule(unix.SYS_CHMOD, 1),
		modeRule(unix.SYS_FCHMOD, 1),
		modeRule(unix.SYS_FCHMODAT, 2),
		modeRule(sysFchmodat2, 2),
		modeRule(unix.SYS_OPEN, 2),
		modeRule(unix.SYS_OPENAT, 3),
		modeRule(unix.SYS_CREAT, 1),
		modeRule(unix.SYS_MKNOD, 1),
		modeRule(unix.SYS_MKNODAT, 2),
		{nr: sysOpenat2, errno: syscall.ENOSYS},
		{nr: sysIOUringSetup, errno: syscall.ENOSYS},
	}
	if noNetwork {
		rules = append(rules, syscallRule{nr: unix.SYS_SOCKET, arg: 0, value: unix.AF_UNIX, check: true, errno: syscall.EAFNOSUPPORT})
	}
	return []seccompABI{{arch: unix.AUDIT_ARCH_X86_64, below: 0x40000000, rules: rules}}
}
