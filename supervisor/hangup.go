package supervisor

import (
	"golang.org/x/sys/unix"
)

// A program has closed its end of a socket when the supervisor's end
// reports EPOLLHUP. The peer poller sees it (watchHangup, peerpoll.go) and
// closes the socket unless a pump still reading will.

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

// peerHungUp reports, with so.mu held, whether the program has closed its
// end entirely (as opposed to shutdown(SHUT_WR), which only ends its
// writing side). The poller has usually seen it already: no look then.
func (so *socket) peerHungUp() bool {
	if so.peer != nil && so.peer.hungUp.Load() {
		return true
	}
	return fdHungUp(so.peerFd)
}

// fdHungUp reports whether the other end of the AF_UNIX socket fd is closed.
func fdHungUp(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: 0}}
	n, _ := rawPollNow(p)
	return n > 0 && p[0].Revents&unix.POLLHUP != 0
}
