package supervisor

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// hupWatcher learns when a program has closed its end of a socket: the
// supervisor's end then reports EPOLLHUP. One thread watches them all.
type hupWatcher struct {
	epfd int
	// ep holds epfd, for waits in Go's poller (netpoll.go).
	ep   *os.File
	wait syscall.RawConn
	mu   sync.Mutex
	// Keyed by a serial number, not the fd: an event read just before its fd
	// is closed and reused must not hang up the fd's next owner.
	m    map[uint64]*socket
	next uint64
}

func newHupWatcher() (*hupWatcher, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	ep, wait, err := pollable(fd, "hang-up epoll")
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	h := &hupWatcher{epfd: fd, ep: ep, wait: wait, m: map[uint64]*socket{}}
	go h.run()
	return h, nil
}

func (h *hupWatcher) watch(so *socket) {
	h.mu.Lock()
	h.next++
	id := h.next
	h.m[id] = so
	so.watchID = id
	h.mu.Unlock()
	// No EPOLLIN: only hang-up and errors, edge-triggered.
	ev := unix.EpollEvent{Events: unix.EPOLLET, Fd: int32(id), Pad: int32(id >> 32)}
	unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, so.peerFd, &ev)
}

// unwatch forgets so; its caller closes so.peer next. No EPOLL_CTL_DEL:
// closing the supervisor's end (the only file of it: ours, close-on-exec)
// takes it out of the epoll set, one system call less per connection. An
// event read before then finds its serial number gone.
func (h *hupWatcher) unwatch(so *socket) {
	h.mu.Lock()
	delete(h.m, so.watchID)
	h.mu.Unlock()
}

func (h *hupWatcher) run() {
	evs := make([]unix.EpollEvent, 64)
	for {
		var n int
		var werr error
		err := h.wait.Read(func(uintptr) bool {
			n, werr = rawEpollWaitNow(h.epfd, evs)
			return werr != unix.EINTR && (werr != nil || n > 0)
		})
		if err != nil || werr != nil {
			return
		}
		for _, ev := range evs[:n] {
			if ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) == 0 {
				continue
			}
			h.mu.Lock()
			so := h.m[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]
			h.mu.Unlock()
			// A pump still reading sees the hang-up itself: most closes
			// then need no goroutine. (A busy lock: decide off this thread.)
			if so != nil && (!so.mu.TryLock() || so.hangupNeeded()) {
				spawn(so.hangup)
			}
		}
	}
}

// hangup: the program closed its last reference to the socket. A pump still
// reading the supervisor's end drains what the program wrote first.
func (so *socket) hangup() {
	so.mu.Lock()
	if so.hangupNeeded() {
		so.close()
	}
}

// hangupNeeded reports, with so.mu held, whether a hang-up closes so; it
// unlocks so.mu.
func (so *socket) hangupNeeded() bool {
	r := so.reading
	// A listener's original pair is dropped at listen(); its hang-up can
	// arrive just after. Listeners are reaped, not hung up.
	listening := so.state == stListening
	so.mu.Unlock()
	return !r && !listening
}

// peerHungUp reports whether the program has closed its end entirely (as
// opposed to shutdown(SHUT_WR), which only ends its writing side).
func (so *socket) peerHungUp() bool { return fdHungUp(so.peerFd) }

// fdHungUp reports whether the other end of the AF_UNIX socket fd is closed.
func fdHungUp(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: 0}}
	n, _ := rawPollNow(p)
	return n > 0 && p[0].Revents&unix.POLLHUP != 0
}
