package supervisor

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's seccomp user-notification structures (include/uapi/linux/seccomp.h).
// x/sys/unix has the ioctl numbers but not the structs.

type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type seccompNotifAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

const auditArchX8664 = 0xc000003e

func ioctlPtr(fd int, req uint, p unsafe.Pointer) error {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p)) // RECV only once poll said ready: rawsys.go
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// recvNotif blocks for the next notification on listener fd.
func recvNotif(fd int, n *seccompNotif) error {
	*n = seccompNotif{}
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(n))
}

func sendResp(fd int, r *seccompNotifResp) error {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(r))
}

// idValid reports whether the notification is still pending: the target may
// have been interrupted by a signal (or killed) since we received it, and any
// memory we read on its behalf is only trustworthy while it is.
func idValid(fd int, id uint64) bool {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// addFD installs srcfd in the target. With send, it also completes the
// trapped call, returning the new fd number to the target.
//
// The ioctl must not be interrupted: if a signal (Go's preemption SIGURG)
// stops it after the kernel has marked an ADDFD_FLAG_SEND reply as given
// but before the target took the fd, the kernel withdraws the fd yet the
// target still wakes — its socket() returns 0, a descriptor it does not
// have. So signals are blocked on this thread for the call.
//
// The call is raw (rawsys.go) though it waits for the target: only until
// the target, woken on this CPU, has taken the fd. A target a signal (or
// the freezer) stops has its wait interrupted instead, and the call fails.
func addFD(fd int, id uint64, srcfd int, newfd int, cloexec, send bool) (int, error) {
	a := seccompNotifAddfd{ID: id, Srcfd: uint32(srcfd)}
	if newfd >= 0 {
		a.Flags |= unix.SECCOMP_ADDFD_FLAG_SETFD
		a.Newfd = uint32(newfd)
	}
	if send {
		a.Flags |= unix.SECCOMP_ADDFD_FLAG_SEND
	}
	if cloexec {
		a.NewfdFlags = unix.O_CLOEXEC
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all := unix.Sigset_t{Val: [16]uint64{^uint64(0)}}
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old); err != nil {
		return -1, fmt.Errorf("blocking signals: %w", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	for {
		r, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.SECCOMP_IOCTL_NOTIF_ADDFD), uintptr(unsafe.Pointer(&a)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

// setSyncWakeUp asks the kernel to wake the target on the CPU that answers
// (Linux 6.6+): trapped calls cost ~7 µs instead of ~35 µs.
func setSyncWakeUp(fd int) error {
	// The flags are the ioctl's argument itself, not a pointer.
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS), uintptr(unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP))
	if e != 0 {
		return fmt.Errorf("SECCOMP_IOCTL_NOTIF_SET_FLAGS: %w", e)
	}
	return nil
}

func init() {
	// Layout guards: a mismatch would corrupt every answer.
	if unsafe.Sizeof(seccompNotif{}) != 80 || unsafe.Sizeof(seccompNotifResp{}) != 24 || unsafe.Sizeof(seccompNotifAddfd{}) != 24 {
		panic("seccomp struct layout mismatch")
	}
}
