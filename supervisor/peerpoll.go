package supervisor

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The supervisor's ends of the programs' sockets (the peers) wait for
// readiness here, not in Go's poller through an *os.File. A file's close
// ends in a system call made the usual way (runtime.entersyscall), one per
// connection, and that alone kept the runtime's monitor thread waking
// ~2,800 times a second on a client node (see rawsys.go). With one epoll
// set of our own every call on a peer, its close included, is raw: the
// set is waited on through Go's poller (netpoll.go), with zero-timeout
// epoll_waits. It also reports the programs' hang-ups (hangup.go): one
// registration and one wake-up per socket, not two.

var (
	errPeerClosed  = errors.New("peer closed")
	errPeerStopped = errors.New("peer reads stopped")
)

// peerPoller is one epoll set for all of a supervisor's peers.
type peerPoller struct {
	epfd int
	ep   *os.File // holds epfd, for waits in Go's poller
	wait syscall.RawConn
	mu   sync.Mutex
	// Keyed by a serial number, not the fd: an event read just before its
	// fd is closed must not wake the next owner of the number.
	m    map[uint64]*peerConn
	next uint64
}

// peerConn is one peer: its fd and what waits on it. One reader and one
// writer wait at a time (the pumps; datagram delivery is serialized by
// deliverMu).
type peerConn struct {
	pp *peerPoller
	fd int
	id uint64 // 0: not in the epoll set (the add failed); waits poll
	// Read-held around each call on fd, write-held to close it: no call
	// is made on a number that a close has freed for reuse.
	mu     sync.RWMutex
	closed bool
	// outArmed: EPOLLOUT is in the set's mask (only the writer touches it).
	outArmed bool
	rd, wr   chan struct{} // cap 1: readiness came since the last wait
	stop     chan struct{} // closed: reads end with errPeerStopped
	once     sync.Once
	done     chan struct{} // closed with fd
	// hup, under pp.mu, is the socket a hang-up closes (nil: none).
	hup *socket
	// hungUp: an event said EPOLLHUP, which stays once both directions
	// are shut (a look at fd would say so too).
	hungUp atomic.Bool
}

func newPeerPoller() (*peerPoller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("peer epoll_create1: %w", err)
	}
	ep, wait, err := pollable(fd, "peer epoll")
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	pp := &peerPoller{epfd: fd, ep: ep, wait: wait, m: map[uint64]*peerConn{}}
	go pp.run()
	return pp, nil
}

// add takes fd (non-blocking) into the set; the peerConn owns it from then.
func (pp *peerPoller) add(fd int) *peerConn {
	pc := &peerConn{pp: pp, fd: fd, rd: make(chan struct{}, 1), wr: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	pp.mu.Lock()
	pp.next++
	id := pp.next
	pp.m[id] = pc
	pp.mu.Unlock()
	// Edge-triggered: an event per change, and the waits read or write
	// until EAGAIN before they wait. Writability only once a write has
	// met a full buffer (retry): a fresh socket is writable, and each
	// read of ours by the program is a write-space edge, so with EPOLLOUT
	// from the start every connection woke the poller twice for nothing.
	ev := pp.event(id, false)
	if err := unix.EpollCtl(pp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil { // raw in x/sys
		// Out of watches: this peer works, polled (see wait).
		slog.Warn("peer epoll_ctl", "err", err)
		pp.mu.Lock()
		delete(pp.m, id)
		pp.mu.Unlock()
		return pc
	}
	pc.id = id
	return pc
}

// event is the set's entry for peer id, with or without EPOLLOUT.
func (pp *peerPoller) event(id uint64, out bool) unix.EpollEvent {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(id), Pad: int32(id >> 32)}
	if out {
		ev.Events |= unix.EPOLLOUT
	}
	return ev
}

func (pp *peerPoller) run() {
	evs := make([]unix.EpollEvent, 128)
	var werr error
	// Events are handled inside the wait's callback, which waits again
	// once a look returns less than a full batch: the set was empty then,
	// and anything added since wakes Go's poller. No empty look per wake.
	pp.wait.Read(func(uintptr) bool {
		for {
			n, err := rawEpollWaitNow(pp.epfd, evs)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			pp.dispatch(evs[:n])
			if n < len(evs) {
				return false
			}
		}
	})
	if werr != nil {
		slog.Error("peer epoll_wait", "err", werr)
	}
}

// dispatch wakes the waiters of the peers that evs are about.
func (pp *peerPoller) dispatch(evs []unix.EpollEvent) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for _, ev := range evs {
		pc := pp.m[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]
		if pc == nil {
			continue // closed since
		}
		if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			notify(pc.rd)
		}
		if ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			notify(pc.wr)
		}
		if ev.Events&unix.EPOLLHUP != 0 {
			pc.hungUp.Store(true)
		}
		if so := pc.hup; so != nil && ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			// A pump still reading sees the hang-up itself: most closes
			// then need no goroutine. (A busy lock: decide off this thread.)
			if !so.mu.TryLock() || so.hangupNeeded() {
				spawn(so.hangup)
			}
		}
	}
}

// watchHangup has a hang-up of the program close so from now on (nil: no
// more). One that came before is the caller's to see (peerHungUp).
func (pc *peerConn) watchHangup(so *socket) {
	if pc == nil || pc.id == 0 {
		return // not in the set (out of watches): no hang-up is seen
	}
	pc.pp.mu.Lock()
	pc.hup = so
	pc.pp.mu.Unlock()
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default: // one is pending already
	}
}

// read calls fn with the fd until it returns true, waiting for the peer to
// be readable each time it returns false (fn reads until EAGAIN first: the
// set is edge-triggered). It fails once the peer is closed or its reads
// are stopped.
func (pc *peerConn) read(fn func(fd int) bool) error {
	if pc == nil {
		return errPeerClosed
	}
	return pc.retry(fn, pc.rd, pc.stop, false)
}

// write is read for writing (stopping reads does not end it).
func (pc *peerConn) write(fn func(fd int) bool) error {
	if pc == nil {
		return errPeerClosed
	}
	return pc.retry(fn, pc.wr, nil, true)
}

// retry calls fn until it returns true, waiting for ready between calls;
// a closed stop (nil: none) ends it. A writer (out) arms EPOLLOUT the first
// time fn finds the peer full.
func (pc *peerConn) retry(fn func(fd int) bool, ready, stop chan struct{}, out bool) error {
	for {
		select {
		case <-stop:
			return errPeerStopped
		default:
		}
		pc.mu.RLock()
		if pc.closed {
			pc.mu.RUnlock()
			return errPeerClosed
		}
		ok := fn(pc.fd)
		arm := !ok && out && !pc.outArmed && pc.id != 0
		if arm {
			// EPOLL_CTL_MOD queues an event if the peer is writable by
			// now: no edge between the failed write and this is lost.
			ev := pc.pp.event(pc.id, true)
			pc.outArmed = unix.EpollCtl(pc.pp.epfd, unix.EPOLL_CTL_MOD, pc.fd, &ev) == nil
		}
		pc.mu.RUnlock()
		if ok {
			return nil
		}
		pc.wait(ready, stop, pc.id == 0 || out && !pc.outArmed)
	}
}

// wait waits for ready; poll: no epoll event will come (the add or the
// arming failed), so a millisecond's sleep stands in for it.
func (pc *peerConn) wait(ready, stop chan struct{}, poll bool) {
	if poll {
		t := time.NewTimer(time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
		case <-pc.done:
		}
		return
	}
	select {
	case <-ready:
	case <-stop:
	case <-pc.done:
	}
}

// control calls fn with the fd unless the peer is closed.
func (pc *peerConn) control(fn func(fd int)) error {
	if pc == nil {
		return errPeerClosed
	}
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	if pc.closed {
		return errPeerClosed
	}
	fn(pc.fd)
	return nil
}

// stopReads ends the reads, waiting or to come (resetProgram's way to stop
// the pump that reads the peer).
func (pc *peerConn) stopReads() {
	if pc != nil {
		pc.once.Do(func() { close(pc.stop) })
	}
}

// readSome is one read of what the peer has, waiting for it: a datagram
// (seqpacket) peer's next datagram, io.EOF for a zero-length read, as
// os.File's Read.
func (pc *peerConn) readSome(b []byte) (int, error) {
	var n int
	var rerr error
	err := pc.read(func(fd int) bool {
		for {
			n, rerr = rawRecvNoWait(fd, b)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// close closes the fd once the calls under way on it are done, and wakes
// the waiters. Closing the fd (ours only, close-on-exec) takes it out of
// the epoll set: no EPOLL_CTL_DEL.
func (pc *peerConn) close() error {
	if pc == nil {
		return errPeerClosed
	}
	pc.mu.Lock()
	if pc.closed {
		pc.mu.Unlock()
		return errPeerClosed
	}
	pc.closed = true
	if pc.id != 0 {
		pp := pc.pp
		pp.mu.Lock()
		delete(pp.m, pc.id)
		pp.mu.Unlock()
	}
	err := rawClose(pc.fd) // an AF_UNIX socket: no linger
	pc.mu.Unlock()
	close(pc.done)
	return err
}
