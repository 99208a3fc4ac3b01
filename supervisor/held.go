package supervisor

import (
	"bytes"
	"errors"
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
	so.releaseLocked()
	so.mu.Unlock()
}

// releaseLocked is release with so.mu held.
func (so *socket) releaseLocked() {
	if so.holding {
		unix.Close(so.held)
		so.holding = false
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
	s.mu.Lock()
	hosts := len(s.hostHeld)
	s.mu.Unlock()
	if len(held) == 0 && len(nls) == 0 && hosts == 0 {
		return 0
	}
	open := openSocketInodes()
	s.reapHostHeld(open)
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

// Host sockets fall-through made: a datagram one is held, as its every
// sendto is checked on the supervisor's copy; a stream one is not (its
// closing must reach the remote), so a later connect on it fails (EBADF).

var errNoCopy = errors.New("no copy of the socket (pidfd_getfd is not allowed here)")

func (s *Supervisor) holdHost(h int) {
	if fastFDs() {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(h, &st) != nil {
		return
	}
	d, err := unix.FcntlInt(uintptr(h), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return
	}
	s.mu.Lock()
	if old, ok := s.hostHeld[st.Ino]; ok {
		unix.Close(old)
	}
	s.hostHeld[st.Ino] = d
	s.mu.Unlock()
}

// heldHost returns a copy of the held host socket with inode ino.
func (s *Supervisor) heldHost(ino uint64) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hostHeld[ino]
	if !ok {
		return -1, false
	}
	d, err := unix.FcntlInt(uintptr(h), unix.F_DUPFD_CLOEXEC, 0)
	return d, err == nil
}

// reapHostHeld closes the held host sockets no process has open any more.
func (s *Supervisor) reapHostHeld(open map[uint64]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ino, h := range s.hostHeld {
		if !open[ino] {
			unix.Close(h)
			delete(s.hostHeld, ino)
		}
	}
}

// notInet reports whether socket inode ino is an AF_UNIX or netlink one (in
// this network namespace).
func notInet(ino uint64) bool {
	if u, err := unixInodes(); err == nil && u[ino] {
		return true
	}
	b, err := os.ReadFile("/proc/net/netlink")
	if err != nil {
		return false
	}
	for i, line := range bytes.Split(b, []byte("\n")) {
		f := bytes.Fields(line)
		if i == 0 || len(f) < 10 {
			continue
		}
		if v, err := strconv.ParseUint(string(f[9]), 10, 64); err == nil && v == ino {
			return true
		}
	}
	return false
}
