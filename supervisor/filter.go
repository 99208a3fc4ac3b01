package supervisor

import (
	"fmt"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// trapped are the control-plane calls the supervisor answers. Data moves
// untrapped (read, write, sendfile, splice, poll, epoll, close, shutdown) over
// the AF_UNIX sockets the supervisor injected.
var trapped = []string{
	"socket", "bind", "listen", "connect", "accept", "accept4",
	"getsockname", "getpeername", "getsockopt", "setsockopt",
	"sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
}

// trappedWithAddr are trapped only when they carry an address (argument 4):
// plain send/recv on a connected socket stay native.
var trappedWithAddr = []string{"sendto", "recvfrom"}

// refused would let a program open sockets behind the filter's back.
var refused = []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}

// buildFilter makes the filter the init stage loads. Calls from any other
// ABI (i386 int 0x80, x32) get ENOSYS: they could otherwise reach
// socketcall(2) unfiltered.
func buildFilter() (*seccomp.ScmpFilter, error) {
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	enosys := seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))
	if err := f.SetBadArchAction(enosys); err != nil {
		return nil, fmt.Errorf("seccomp bad-arch action: %w", err)
	}
	if err := f.SetNoNewPrivsBit(true); err != nil {
		return nil, fmt.Errorf("seccomp no_new_privs: %w", err)
	}
	add := func(name string, act seccomp.ScmpAction, conds ...seccomp.ScmpCondition) error {
		nr, err := seccomp.GetSyscallFromName(name)
		if err != nil {
			return fmt.Errorf("seccomp: syscall %s: %w", name, err)
		}
		if len(conds) > 0 {
			err = f.AddRuleConditionalExact(nr, act, conds)
		} else {
			err = f.AddRuleExact(nr, act)
		}
		if err != nil {
			return fmt.Errorf("seccomp rule %s: %w", name, err)
		}
		return nil
	}
	for _, n := range trapped {
		if err := add(n, seccomp.ActNotify); err != nil {
			return nil, err
		}
	}
	hasAddr, err := seccomp.MakeCondition(4, seccomp.CompareNotEqual, 0)
	if err != nil {
		return nil, fmt.Errorf("seccomp condition: %w", err)
	}
	for _, n := range trappedWithAddr {
		if err := add(n, seccomp.ActNotify, hasAddr); err != nil {
			return nil, err
		}
	}
	for _, n := range refused {
		if err := add(n, enosys); err != nil {
			return nil, err
		}
	}
	return f, nil
}
