// Package supervisor answers the socket calls of supervised programs. A
// seccomp filter traps their control-plane calls (socket, connect, accept,
// …); the supervisor answers them against a userspace network stack and
// injects AF_UNIX sockets that carry the data untrapped.
package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"ztnc/netstack"
)

// Supervisor serves the seccomp listeners of supervised programs.
type Supervisor struct {
	st  *netstack.Stack
	log *slog.Logger

	mu    sync.Mutex
	socks map[uint64]*socket // by the inode of the program's end
	// stream sockets being connected, by the caller's pid and fd (connlookup.go)
	connecting map[fdKey]*socket
	nls        map[uint64]*nlSock // emulated netlink sockets, likewise
	// host sockets fall-through made, held without pidfd_getfd (held.go)
	hostHeld map[uint64]int

	peers   *peerPoller
	fall    *FallThrough // nil: nothing reaches the host's network
	free53  func()       // frees port 53 for a program's DNS server (SetPort53Owner)
	addrs53 []netip.Addr // where it holds port 53

	hostSockets atomic.Bool // a program may hold a host socket (checked.go)

	Stats Stats
}

// Stats counts what the supervisor did; exposed for tests and benchmarks.
type Stats struct {
	Calls       atomic.Uint64 // notifications received
	Continued   atomic.Uint64 // handed back to the kernel
	Faults      atomic.Uint64 // calls answered EFAULT
	FellThrough atomic.Uint64 // virtual sockets replaced by host sockets
	Checked     atomic.Uint64 // calls done by the supervisor instead of continued (checked.go)
}

// New returns a supervisor whose programs' sockets live on st.
func New(st *netstack.Stack, log *slog.Logger) (*Supervisor, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Supervisor{st: st, log: log, socks: map[uint64]*socket{}, connecting: map[fdKey]*socket{}, nls: map[uint64]*nlSock{}, hostHeld: map[uint64]int{}}
	var err error
	if s.peers, err = newPeerPoller(); err != nil {
		return nil, err
	}
	go s.reapListenersEvery(2 * time.Second)
	return s, nil
}

// Serve answers notifications on the seccomp listener lfd until no process
// using its filter is left, then closes lfd. Several Serve may run at once,
// one per program tree (ztnc service): they share the stack, and nothing of
// a program is kept by listener — sockets are known by inode and each call
// carries its own pid (in our pid namespace) and listener.
func (s *Supervisor) Serve(lfd int) error {
	if err := setSyncWakeUp(lfd); err != nil {
		s.log.Debug("sync wake-up unavailable", "err", err)
	}
	f, rc, err := pollable(lfd, "seccomp listener")
	if err != nil {
		unix.Close(lfd)
		return err
	}
	defer f.Close()
	pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	for {
		// Non-blocking looks, with waits in Go's poller (netpoll.go).
		var perr error
		err := rc.Read(func(uintptr) bool {
			pfd[0].Revents = 0
			_, perr = rawPollNow(pfd)
			return perr != unix.EINTR && (perr != nil || pfd[0].Revents != 0)
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			return fmt.Errorf("poll seccomp listener: %w", err)
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			if pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
				return nil // every supervised process is gone
			}
			continue
		}
		var n seccompNotif
		if err := recvNotif(lfd, &n); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // the caller died or was interrupted meanwhile
			}
			return fmt.Errorf("SECCOMP_IOCTL_NOTIF_RECV: %w", err)
		}
		s.Stats.Calls.Add(1)
		c := &call{s: s, lfd: lfd, id: n.ID, pid: int(n.Pid), nr: int(n.Data.Nr), args: n.Data.Args}
		s.dispatch(c)
	}
}

func (s *Supervisor) dispatch(c *call) {
	if s.fall != nil && s.hostCall(c) {
		return
	}
	switch c.nr {
	case unix.SYS_SOCKET:
		s.sysSocket(c)
	case unix.SYS_BIND:
		s.sysBind(c)
	case unix.SYS_LISTEN:
		s.sysListen(c)
	case unix.SYS_CONNECT:
		s.sysConnect(c)
	case unix.SYS_ACCEPT:
		s.sysAccept(c, c.args[0], c.args[1], c.args[2], 0)
	case unix.SYS_ACCEPT4:
		s.sysAccept(c, c.args[0], c.args[1], c.args[2], int(c.args[3]))
	case unix.SYS_GETSOCKNAME:
		s.sysGetName(c, false)
	case unix.SYS_GETPEERNAME:
		s.sysGetName(c, true)
	case unix.SYS_GETSOCKOPT:
		s.sysGetsockopt(c)
	case unix.SYS_SETSOCKOPT:
		s.sysSetsockopt(c)
	case unix.SYS_SENDTO:
		s.sysSendto(c)
	case unix.SYS_RECVFROM:
		s.sysRecvfrom(c)
	case unix.SYS_SENDMSG:
		s.sysSendmsg(c)
	case unix.SYS_RECVMSG:
		s.sysRecvmsg(c)
	case unix.SYS_SENDMMSG:
		s.sysSendmmsg(c)
	case unix.SYS_RECVMMSG:
		s.sysRecvmmsg(c)
	case unix.SYS_SHUTDOWN:
		s.sysShutdown(c)
	case unix.SYS_IOCTL:
		s.sysIoctl(c)
	case unix.SYS_OPEN:
		s.sysOpen(c, c.args[0])
	case unix.SYS_OPENAT:
		s.sysOpen(c, c.args[1])
	default:
		c.cont()
	}
}

// call is one trapped system call awaiting its answer.
type call struct {
	s    *Supervisor
	lfd  int
	id   uint64
	pid  int
	nr   int
	args [6]uint64
}

// respond answers the call; false when the caller was no longer waiting.
func (c *call) respond(val int64, e unix.Errno, flags uint32) bool {
	r := seccompNotifResp{ID: c.id, Val: val, Error: -int32(e), Flags: flags}
	if err := sendResp(c.lfd, &r); err != nil {
		if !errors.Is(err, unix.ENOENT) {
			c.s.log.Warn("answering a trapped call", "nr", c.nr, "pid", c.pid, "err", err)
		}
		return false
	}
	return true
}

func (c *call) ret(v int64) bool { return c.respond(v, 0, 0) }

func (c *call) fail(e unix.Errno) bool {
	if e == unix.EFAULT {
		c.s.Stats.Faults.Add(1)
	}
	return c.respond(0, e, 0)
}

// cont lets the kernel run the call itself: only for calls that cannot reach
// the network (AF_UNIX and netlink sockets, non-socket fds).
func (c *call) cont() {
	if guardedNr(c.nr) && c.s.hostSockets.Load() {
		c.s.checkedCall(c) // the fd number could be another file by now
		return
	}
	if c.nr == unix.SYS_SETSOCKOPT && c.s.hostSockets.Load() && routingOpt(int32(c.args[1]), int32(c.args[2])) {
		c.fail(unix.ENOPROTOOPT) // the fd may be, or become, a host socket
		return
	}
	c.s.Stats.Continued.Add(1)
	c.respond(0, 0, unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE)
}

// valid reports whether the caller is still waiting for this answer.
func (c *call) valid() bool { return idValid(c.lfd, c.id) }

// inject installs fd in the caller and completes the call with its number.
func (c *call) inject(fd int, cloexec bool) (int, error) {
	return addFD(c.lfd, c.id, fd, -1, cloexec, true)
}

// waitFD blocks until fd has one of events, polling the call's validity so
// that an interrupted call does not leave us waiting forever. It reports
// false when the call went away.
func (c *call) waitFD(fd int, events int16) bool {
	return c.waitFDUntil(fd, events, time.Time{})
}

// waitFDUntil is waitFD with a deadline (zero: none); false when it passed.
func (c *call) waitFDUntil(fd int, events int16, deadline time.Time) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: events}}
	for {
		p[0].Revents = 0
		ms := 100
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false
			}
			ms = min(ms, int(left/time.Millisecond)+1)
		}
		// In Go's poller (fdwait.go); poll(2) only for an fd epoll refuses.
		if ready, ok := c.s.peers.watchFD(fd, events, time.Duration(ms)*time.Millisecond); ok {
			if ready {
				return true
			}
			if !c.valid() {
				return false
			}
			continue
		}
		n, err := unix.Poll(p, ms)
		if n > 0 {
			return true
		}
		if err != nil && err != unix.EINTR {
			return false
		}
		if !c.valid() {
			return false
		}
	}
}

// waitChan blocks until ch is closed or the call went away.
func (c *call) waitChan(ch <-chan struct{}) bool {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ch:
			return true
		case <-t.C:
			if !c.valid() {
				return false
			}
		}
	}
}
