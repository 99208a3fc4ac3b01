package supervisor

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// While a connect is under way the supervisor holds a copy of the program's
// socket (connect.go), and programs often set options on it then (wrk sets
// TCP_NODELAY right after its non-blocking connect). A call on the fd the
// connect was made with is matched to the socket by kcmp(2) of that fd
// against the copy: one system call instead of pidfd_getfd, fstat and
// close. Any other answer than "the same file" takes the usual lookup.

type fdKey struct{ pid, fd int }

const kcmpFile = 0 // KCMP_FILE

var (
	selfPid = os.Getpid()
	kcmpOff atomic.Bool // kcmp is refused here (ENOSYS, EPERM)
)

// connectingLookup returns the socket the caller's fd is when that fd is
// one the caller is connecting; nil otherwise.
func (s *Supervisor) connectingLookup(pid int, fd uint64) *socket {
	if kcmpOff.Load() || int64(int32(fd)) < 0 || fd > 1<<31 {
		return nil
	}
	s.mu.Lock()
	so := s.connecting[fdKey{pid, int(fd)}]
	s.mu.Unlock()
	if so == nil {
		return nil
	}
	so.mu.Lock() // the copy stays open while held
	defer so.mu.Unlock()
	if so.state != stConnecting || so.connDup < 0 {
		return nil
	}
	r, _, e := unix.RawSyscall6(unix.SYS_KCMP, uintptr(pid), uintptr(selfPid), kcmpFile, uintptr(fd), uintptr(so.connDup), 0)
	if e == unix.ENOSYS || e == unix.EPERM {
		kcmpOff.Store(true)
	}
	if e != 0 || r != 0 {
		return nil
	}
	return so
}

// setConnectingLocked records, with so.mu held, that so's owner is
// connecting it and dup is the supervisor's copy (-1: over).
func (so *socket) setConnectingLocked(dup int) {
	s := so.s
	key := fdKey{so.owner.pid, so.owner.fd}
	s.mu.Lock()
	if dup >= 0 {
		s.connecting[key] = so
	} else if s.connecting[key] == so {
		delete(s.connecting, key)
	}
	s.mu.Unlock()
	so.connDup = dup
}
