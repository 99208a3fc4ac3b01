package supervisor

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// watchFD on a copy of a blocking socket (as a trapped call holds a copy of
// the program's): it wakes on data, on space, on a hang-up, times out
// otherwise, and leaves nothing in the epoll set (the program still has the
// file open, so only an EPOLL_CTL_DEL ends the watch).
func TestWatchFD(t *testing.T) {
	pp, err := newPeerPoller()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	prog, peer := pair[0], pair[1]
	defer unix.Close(prog)
	cp, err := unix.Dup(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cp)

	gone := func(what string) {
		t.Helper()
		ev := unix.EpollEvent{Events: unix.EPOLLIN}
		if err := unix.EpollCtl(pp.epfd, unix.EPOLL_CTL_ADD, cp, &ev); err != nil {
			t.Fatalf("%s: the watch stayed in the set (add: %v)", what, err)
		}
		unix.EpollCtl(pp.epfd, unix.EPOLL_CTL_DEL, cp, nil)
		pp.mu.Lock()
		n := len(pp.m)
		pp.mu.Unlock()
		if n != 0 {
			t.Fatalf("%s: %d watches left in the map", what, n)
		}
	}

	if ready, ok := pp.watchFD(cp, unix.POLLIN, 20*time.Millisecond); !ok || ready {
		t.Fatalf("empty socket: ready %v ok %v, want a timeout", ready, ok)
	}
	gone("timeout")

	go func() {
		time.Sleep(10 * time.Millisecond)
		unix.Write(peer, []byte("x"))
	}()
	if ready, ok := pp.watchFD(cp, unix.POLLIN, 5*time.Second); !ok || !ready {
		t.Fatalf("datagram sent: ready %v ok %v", ready, ok)
	}
	gone("readable")

	if ready, ok := pp.watchFD(cp, unix.POLLOUT, 5*time.Second); !ok || !ready {
		t.Fatalf("writable socket: ready %v ok %v", ready, ok)
	}
	gone("writable")

	buf := make([]byte, 8)
	unix.Read(prog, buf) // the datagram
	unix.Close(peer)
	if ready, ok := pp.watchFD(cp, unix.POLLIN, 5*time.Second); !ok || !ready {
		t.Fatalf("peer closed: ready %v ok %v", ready, ok)
	}
	gone("hang-up")
}
