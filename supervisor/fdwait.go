package supervisor

import (
	"time"

	"golang.org/x/sys/unix"
)

// A trapped call that has to wait (a blocking recvmsg, a send on a full
// socket, a blocking accept) waits for its fd in the peer poller's epoll
// set (peerpoll.go), not in poll(2) on its goroutine. With one P (ztnc-run's
// GOMAXPROCS), a goroutine blocked in poll(2) holds the P until the
// runtime's monitor takes it back: for ping, the echo request its sendto
// had just queued waited that long (~150 µs, the monitor first woken from
// its deep sleep) for the node's flusher to send it, and the reply woke
// the poll's thread only to have it hand the goroutine over to the thread
// that holds the P.

// watchFD waits until fd has one of events (POLLIN or POLLOUT; a hang-up
// or an error counts), or until d has passed. It reports ok false when the
// fd cannot be watched (the caller then polls).
func (pp *peerPoller) watchFD(fd int, events int16, d time.Duration) (ready, ok bool) {
	if pp == nil {
		return false, false
	}
	pc := &peerConn{pp: pp, fd: fd, rd: make(chan struct{}, 1), wr: make(chan struct{}, 1)}
	pp.mu.Lock()
	pp.next++
	id := pp.next
	pp.m[id] = pc
	pp.mu.Unlock()
	defer func() {
		pp.mu.Lock()
		delete(pp.m, id)
		pp.mu.Unlock()
	}()
	wake := pc.rd
	var mask uint32 = unix.EPOLLIN | unix.EPOLLRDHUP
	if events&unix.POLLOUT != 0 {
		wake, mask = pc.wr, unix.EPOLLOUT
	}
	// One-shot: one event per wait, which the caller consumes (or finds
	// gone) before it waits again. Adding an fd that is ready already
	// queues its event at once, so no readiness before the add is lost.
	ev := unix.EpollEvent{Events: mask | unix.EPOLLONESHOT, Fd: int32(id), Pad: int32(id >> 32)}
	if err := unix.EpollCtl(pp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil { // raw in x/sys
		return false, false
	}
	// The watch is on the file the fd (our copy of the program's) refers
	// to, which the program keeps open: closing our copy would not end it.
	defer unix.EpollCtl(pp.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
		return true, true
	case <-t.C:
		return false, true
	}
}
