package supervisor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// System calls on the per-connection path, made without telling Go's
// scheduler (RawSyscall). A call made the usual way marks the goroutine's P
// as in a system call; when the runtime's monitor thread (sysmon) sleeps
// deeply, that wakes it, and when such a call lasts past one of its 20 µs
// ticks (on a 2-CPU machine, a call that wakes the program is often
// preempted by it) the monitor hands the P to another thread. Either resets
// the monitor to 20 µs naps: under a connection benchmark it woke ~3,000
// times a second per supervisor, and node A made 21 such calls per request.
//
// Only calls that cannot block belong here: non-blocking fds, MSG_DONTWAIT
// sends and receives, fstat, fcntl F_GETFL, memory copies, and the seccomp
// ioctls (RECV only after poll said a notification is pending). A raw call that blocked would hold the
// only P and stall every goroutine.

func rawErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// rawRead is read(2) on a non-blocking fd.
func rawRead(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawWrite is write(2) on a non-blocking fd.
func rawWrite(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawClose closes an fd that is not in Go's poller and has no linger.
func rawClose(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	return rawErr(e)
}

// rawClose2 is rawClose of a and b, in one close_range when they are
// adjacent numbers (as an accept's copy of the listener and the connection
// it took mostly are).
func rawClose2(a, b int) {
	lo, hi := min(a, b), max(a, b)
	if hi == lo+1 {
		if _, _, e := unix.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(lo), uintptr(hi), 0); e == 0 {
			return
		}
	}
	rawClose(a)
	rawClose(b)
}

// rawSocket is socket(2), for the AF_UNIX sockets it never blocks making.
func rawSocket(domain, typ, proto int) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(domain), uintptr(typ), uintptr(proto))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawFstat(fd int, st *unix.Stat_t) error {
	_, _, e := unix.RawSyscall(unix.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(st)), 0)
	return rawErr(e)
}

// rawGetfl is fcntl(fd, F_GETFL).
func rawGetfl(fd int) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETFL, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func rawPidfdGetfd(pidfd, fd int) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_PIDFD_GETFD, uintptr(pidfd), uintptr(fd), 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawProcessVM(nr uintptr, pid int, local []unix.Iovec, remote []unix.RemoteIovec) (int, error) {
	var l, r unsafe.Pointer
	if len(local) > 0 {
		l = unsafe.Pointer(&local[0])
	}
	if len(remote) > 0 {
		r = unsafe.Pointer(&remote[0])
	}
	n, _, e := unix.RawSyscall6(nr, uintptr(pid), uintptr(l), uintptr(len(local)), uintptr(r), uintptr(len(remote)), 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawPollNow is poll(fds, 0): a look, never a wait.
func rawPollNow(fds []unix.PollFd) (int, error) {
	var ts unix.Timespec
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawUnixAddr fills sa with an AF_UNIX name as x/sys/unix spells it (a
// leading '@' for the abstract namespace) and returns its length.
func rawUnixAddr(sa *unix.RawSockaddrUnix, name string) (uintptr, bool) {
	if len(name) >= len(sa.Path) {
		return 0, false
	}
	*sa = unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	for i := 0; i < len(name); i++ {
		sa.Path[i] = int8(name[i])
	}
	l := unsafe.Offsetof(sa.Path) + uintptr(len(name))
	if len(name) > 0 && name[0] == '@' {
		sa.Path[0] = 0 // abstract: no terminating NUL counted
	} else if len(name) > 0 {
		l++
	}
	return l, true
}

// rawBindUnix binds fd to an AF_UNIX name.
func rawBindUnix(fd int, name string) error {
	var sa unix.RawSockaddrUnix
	l, ok := rawUnixAddr(&sa, name)
	if !ok {
		return unix.EINVAL
	}
	_, _, e := unix.RawSyscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa)), l)
	return rawErr(e)
}

// rawConnectUnix connects a non-blocking fd to an AF_UNIX name (EAGAIN:
// the listener's backlog is full).
func rawConnectUnix(fd int, name string) error {
	var sa unix.RawSockaddrUnix
	l, ok := rawUnixAddr(&sa, name)
	if !ok {
		return unix.EINVAL
	}
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), l)
	return rawErr(e)
}

// rawAcceptUnix is accept4 on a non-blocking AF_UNIX listener; it returns
// the peer's name as x/sys/unix spells it.
func rawAcceptUnix(fd int, flags int) (int, string, error) {
	var sa unix.RawSockaddrUnix
	l := uint32(unsafe.Sizeof(sa))
	r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&l)), uintptr(flags), 0, 0)
	if e != 0 {
		return -1, "", e
	}
	n := int(l) - int(unsafe.Offsetof(sa.Path))
	if n <= 0 || sa.Family != unix.AF_UNIX {
		return int(r), "", nil
	}
	if n > len(sa.Path) {
		n = len(sa.Path)
	}
	b := make([]byte, 0, n)
	for i := 0; i < n; i++ {
		c := byte(sa.Path[i])
		if i == 0 && c == 0 {
			c = '@'
		} else if c == 0 {
			break // a pathname's terminating NUL
		}
		b = append(b, c)
	}
	return int(r), string(b), nil
}

// rawSetfl is fcntl(fd, F_SETFL, fl).
func rawSetfl(fd int, fl int) error {
	_, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_SETFL, uintptr(fl))
	return rawErr(e)
}

func rawGetsockoptInt(fd, level, opt int) (int, error) {
	var v int32
	l := uint32(4)
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	return int(v), rawErr(e)
}

func rawSetsockoptInt(fd, level, opt, value int) error {
	v := int32(value)
	_, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
	return rawErr(e)
}

// rawSendNoWait is send(fd, p, MSG_DONTWAIT|MSG_NOSIGNAL).
func rawSendNoWait(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawRecvNoWait is recv(fd, p, MSG_DONTWAIT): a read that never waits,
// whatever the fd's mode.
func rawRecvNoWait(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawShutdown(fd, how int) error {
	_, _, e := unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	return rawErr(e)
}

// rawEpollWaitNow is epoll_wait(epfd, evs, 0): a look, never a wait.
func rawEpollWaitNow(epfd int, evs []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
