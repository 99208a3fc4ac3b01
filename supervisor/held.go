package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Without pidfd_getfd (a container without CAP_SYS_PTRACE) the supervisor
// cannot copy a program's socket when a call needs it, so it keeps a copy
// ("held") of the program's end from the moment it made it, for the sockets
// whose later calls need one: unconnected and datagram sockets (connect,
// recvfrom/recvmsg with an address), listeners (accept) and netlink sockets.
// A connected stream socket is not held: the supervisor must see the
// program close it (EOF, hang-up).
//
// A held socket does not hang up when the program closes it, so reapHeld
// finds the ones no process has open any more by looking through
// /proc/*/fd, on each bind and listen (to free the port) and every few
// seconds. Until then the program's epoll sets still report a socket it
// closed without EPOLL_CTL_DEL, as they do for any socket another process
// still has open.

// hold keeps a copy of fd, the program's end of so, when the supervisor
// cannot copy it later.
func (so *socket) hold(fd int) {
	if fastFDs() {
		return
	}
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return
	}
	so.mu.Lock()
	old, had := so.held, so.holding
	so.held, so.holding = d, true
	so.mu.Unlock()
	if had {
		unix.Close(old)
	}
}

// holdLocked is hold with so.mu held.
func (so *socket) holdLocked(fd int) {
	if fastFDs() {
		return
	}
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return
	}
	if so.holding {
		unix.Close(so.held)
	}
	so.held, so.holding = d, true
}

// release drops the held copy: the program's closing it must be seen.
func (so *socket) release() {
	so.mu.Lock()
	old, had := so.held, so.holding
	so.holding = false
	so.mu.Unlock()
	if had {
		unix.Close(old)
	}
}

// progFD returns a copy of the program's end of so (its fd in pid), for the
// caller to close.
func (so *socket) progFD(pid, fd int) (int, error) {
	if fastFDs() {
		return takeFD(pid, fd)
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.progFDLocked(pid, fd)
}

// progFDLocked is progFD with so.mu held.
func (so *socket) progFDLocked(pid, fd int) (int, error) {
	if fastFDs() {
		return takeFD(pid, fd)
	}
	if !so.holding {
		return -1, fmt.Errorf("no copy of socket %d of %d (pidfd_getfd is not allowed here)", fd, pid)
	}
	return unix.FcntlInt(uintptr(so.held), unix.F_DUPFD_CLOEXEC, 0)
}

// reapHeld closes the held sockets no process has open any more. It
// returns how many.
func (s *Supervisor) reapHeld() int {
	if fastFDs() {
		return 0
	}
	// No socket lock while s.mu is held: the other order is taken elsewhere.
	s.mu.Lock()
	all := make([]*socket, 0, len(s.socks))
	for _, so := range s.socks {
		all = append(all, so)
	}
	nls := make([]*nlSock, 0, len(s.nls))
	for _, n := range s.nls {
		nls = append(nls, n)
	}
	s.mu.Unlock()
	var held []*socket
	for _, so := range all {
		so.mu.Lock()
		if so.holding {
			held = append(held, so)
		}
		so.mu.Unlock()
	}
	if len(held) == 0 && len(nls) == 0 {
		return 0
	}
	open := openSocketInodes()
	n := 0
	for _, so := range held {
		so.mu.Lock()
		ino := so.ino
		so.mu.Unlock()
		if !open[ino] {
			s.log.Debug("closing a held socket no process has open", "ino", ino)
			so.close()
			n++
		}
	}
	for _, nl := range nls {
		if !open[nl.ino] {
			nl.close()
			n++
		}
	}
	return n
}

// openSocketInodes returns the inodes of the sockets some process other
// than this one has open.
func openSocketInodes() map[uint64]bool {
	out := map[uint64]bool{}
	self := strconv.Itoa(os.Getpid())
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if p.Name() == self || p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err != nil {
				continue
			}
			if v, ok := bytes.CutPrefix([]byte(l), []byte("socket:[")); ok {
				if ino, err := strconv.ParseUint(string(bytes.TrimSuffix(v, []byte("]"))), 10, 64); err == nil {
					out[ino] = true
				}
			}
		}
	}
	return out
}
