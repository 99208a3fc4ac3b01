package supervisor

import (
	"fmt"
	"io"
	"os"
	"unsafe"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// trapped are the control-plane calls the supervisor answers. Data moves
// untrapped (read, write, sendfile, splice, poll, epoll, close, shutdown) over
// the AF_UNIX sockets the supervisor injected.
var trapped = []string{
	"socket", "bind", "listen", "connect", "accept", "accept4",
	"getsockname", "getpeername", "getsockopt", "setsockopt",
	"recvmsg", "sendmmsg", "recvmmsg",
	"shutdown", // only to answer ENOTCONN; continued on connected sockets
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
	// sendmsg is trapped unless it is the init stage handing its listener
	// over: that one call is on fd 3 with a flag combination (MSG_NOSIGNAL|
	// MSG_CONFIRM) no program sends a Unix socket, and it could only reach
	// a socket of the program's own anyway.
	notHandoffFd, err := seccomp.MakeCondition(0, seccomp.CompareNotEqual, handoffFd)
	if err != nil {
		return nil, fmt.Errorf("seccomp condition: %w", err)
	}
	notHandoffFlags, err := seccomp.MakeCondition(2, seccomp.CompareNotEqual, handoffFlags)
	if err != nil {
		return nil, fmt.Errorf("seccomp condition: %w", err)
	}
	for _, cond := range []seccomp.ScmpCondition{notHandoffFd, notHandoffFlags} {
		if err := add("sendmsg", seccomp.ActNotify, cond); err != nil {
			return nil, err
		}
	}
	// Interface ioctls: only these request numbers (the low 32 bits, as the
	// kernel reads them).
	ioctlNr, err := seccomp.GetSyscallFromName("ioctl")
	if err != nil {
		return nil, fmt.Errorf("seccomp: syscall ioctl: %w", err)
	}
	for _, req := range ifIoctls {
		cond, err := seccomp.MakeCondition(1, seccomp.CompareMaskedEqual, 0xffffffff, uint64(req))
		if err != nil {
			return nil, fmt.Errorf("seccomp condition: %w", err)
		}
		if err := f.AddRuleConditionalExact(ioctlNr, seccomp.ActNotify, []seccomp.ScmpCondition{cond}); err != nil {
			return nil, fmt.Errorf("seccomp rule ioctl %#x: %w", req, err)
		}
	}
	// Read-only opens with no other flag, relative to the working
	// directory: the /proc/net files that list interfaces (procnet.go).
	rdonly, err := seccomp.MakeCondition(1, seccomp.CompareMaskedEqual, 0xffffffff, unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("seccomp condition: %w", err)
	}
	if err := add("open", seccomp.ActNotify, rdonly); err != nil {
		return nil, err
	}
	fdcwd := int32(unix.AT_FDCWD)
	atCwd, err := seccomp.MakeCondition(0, seccomp.CompareMaskedEqual, 0xffffffff, uint64(uint32(fdcwd)))
	if err != nil {
		return nil, fmt.Errorf("seccomp condition: %w", err)
	}
	rdonlyAt, err := seccomp.MakeCondition(2, seccomp.CompareMaskedEqual, 0xffffffff, unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("seccomp condition: %w", err)
	}
	if err := add("openat", seccomp.ActNotify, atCwd, rdonlyAt); err != nil {
		return nil, err
	}
	for _, n := range refused {
		if err := add(n, enosys); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// buildSealFilter makes the filter the init stage adds once it has handed
// its listener over: the one sendmsg the first filter lets through (fd 3,
// MSG_NOSIGNAL|MSG_CONFIRM) now fails with EPERM. Else a program could put
// a host socket (fall-through) on fd 3 and send anywhere, untrapped.
// Filters stack and the stricter answer wins: ERRNO over USER_NOTIF.
func buildSealFilter() (*seccomp.ScmpFilter, error) {
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	if err := f.SetBadArchAction(seccomp.ActAllow); err != nil { // the first filter answers those
		return nil, fmt.Errorf("seccomp bad-arch action: %w", err)
	}
	if err := f.SetNoNewPrivsBit(true); err != nil {
		return nil, fmt.Errorf("seccomp no_new_privs: %w", err)
	}
	nr, err := seccomp.GetSyscallFromName("sendmsg")
	if err != nil {
		return nil, fmt.Errorf("seccomp: syscall sendmsg: %w", err)
	}
	isFd, err := seccomp.MakeCondition(0, seccomp.CompareEqual, handoffFd)
	if err != nil {
		return nil, fmt.Errorf("seccomp condition: %w", err)
	}
	isFlags, err := seccomp.MakeCondition(2, seccomp.CompareEqual, handoffFlags)
	if err != nil {
		return nil, fmt.Errorf("seccomp condition: %w", err)
	}
	eperm := seccomp.ActErrno.SetReturnCode(int16(unix.EPERM))
	if err := f.AddRuleConditionalExact(nr, eperm, []seccomp.ScmpCondition{isFd, isFlags}); err != nil {
		return nil, fmt.Errorf("seccomp rule sendmsg: %w", err)
	}
	return f, nil
}

// loadFilter installs f on the calling thread (the one that will exec) and
// returns the listener, loading libseccomp's program with seccomp(2)
// directly: libseccomp's Load insists on TSYNC, which the init stage does not
// need (it execs on this very thread).
//
// Not SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: it would spare non-blocking
// calls the rare EINTR a signal can cause while the supervisor answers, but a
// blocking accept or recv could then no longer be interrupted by a signal at
// all — a server blocked in accept would never run its SIGTERM handler.
func loadFilter(f *seccomp.ScmpFilter) (int, error) {
	return loadFilterFlags(f, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER)
}

func loadFilterFlags(f *seccomp.ScmpFilter, flags uintptr) (int, error) {
	mf, err := memfd("ztnc-filter")
	if err != nil {
		return -1, err
	}
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return -1, fmt.Errorf("exporting BPF: %w", err)
	}
	raw, err := io.ReadAll(io.NewSectionReader(mf, 0, 1<<20))
	if err != nil || len(raw) == 0 || len(raw)%8 != 0 {
		return -1, fmt.Errorf("reading exported BPF (%d bytes): %v", len(raw), err)
	}
	insns := unsafe.Slice((*unix.SockFilter)(unsafe.Pointer(&raw[0])), len(raw)/8)
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", err)
	}
	fd, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		flags, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", e)
	}
	return int(fd), nil
}

func memfd(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}
