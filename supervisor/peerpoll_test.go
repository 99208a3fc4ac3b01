package supervisor

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func testPeerPair(t *testing.T, pp *peerPoller) (*peerConn, int) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(pair[1]) })
	return pp.add(pair[0]), pair[1]
}

func within(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not woken", what)
		return nil
	}
}

// readAll is a read function for peerConn.read: it drains fd, and is done
// once it has read something.
func readAll(got *int) func(fd int) bool {
	buf := make([]byte, 64<<10)
	return func(fd int) bool {
		before := *got
		for {
			n, err := rawRead(fd, buf)
			if n > 0 {
				*got += n
				continue
			}
			if err == unix.EINTR {
				continue
			}
			return err != unix.EAGAIN || *got > before
		}
	}
}

// fill writes to fd until it is full; the write function then waits.
func fill(fd int) {
	buf := make([]byte, 64<<10)
	for {
		if _, err := rawWrite(fd, buf); err != nil {
			return
		}
	}
}

func TestPeerPollerWakesReaderAndWriter(t *testing.T) {
	pp, err := newPeerPoller()
	if err != nil {
		t.Fatal(err)
	}
	pc, other := testPeerPair(t, pp)
	defer pc.close()

	// A reader waiting on an empty peer is woken when the program writes.
	var got int
	rdone := make(chan error, 1)
	go func() { rdone <- pc.read(readAll(&got)) }()
	time.Sleep(20 * time.Millisecond)
	unix.Write(other, []byte("hello"))
	if err := within(t, "reader", rdone); err != nil || got != 5 {
		t.Fatalf("read: %v, %d bytes", err, got)
	}

	// A writer waiting on a full peer is woken when the program reads.
	fill(pc.fd)
	const more = 1 << 20 // more than the buffers hold: several waits
	wdone := make(chan error, 1)
	go func() {
		buf := make([]byte, 16<<10)
		left := more
		wdone <- pc.write(func(fd int) bool {
			for left > 0 {
				n, err := rawWrite(fd, buf[:min(left, len(buf))])
				if err != nil {
					return err != unix.EAGAIN
				}
				left -= n
			}
			return true
		})
	}()
	drained := 0
	buf := make([]byte, 64<<10)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-wdone:
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer not woken (%d bytes read by the program)", drained)
		}
		n, _ := unix.Read(other, buf)
		if n > 0 {
			drained += n
		} else {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestPeerPollerStopAndClose(t *testing.T) {
	pp, err := newPeerPoller()
	if err != nil {
		t.Fatal(err)
	}
	pc, other := testPeerPair(t, pp)

	// Stopping ends a waiting read, and the reads after it, without a call.
	var got int
	rdone := make(chan error, 1)
	go func() { rdone <- pc.read(readAll(&got)) }()
	time.Sleep(20 * time.Millisecond)
	pc.stopReads()
	if err := within(t, "stopped reader", rdone); !errors.Is(err, errPeerStopped) {
		t.Fatalf("stopped read: %v", err)
	}
	unix.Write(other, []byte("x"))
	called := false
	if err := pc.read(func(int) bool { called = true; return true }); !errors.Is(err, errPeerStopped) || called {
		t.Fatalf("read after stop: %v, called %v", err, called)
	}
	// Writes go on.
	if err := pc.write(func(fd int) bool { _, err := rawWrite(fd, []byte("y")); return err == nil }); err != nil {
		t.Fatalf("write after stop: %v", err)
	}

	// Closing wakes a waiting writer, closes the fd, and forgets the peer.
	fill(pc.fd)
	wdone := make(chan error, 1)
	go func() {
		wdone <- pc.write(func(fd int) bool { _, err := rawWrite(fd, []byte("z")); return err != unix.EAGAIN })
	}()
	time.Sleep(20 * time.Millisecond)
	fd := pc.fd
	if err := pc.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := within(t, "writer at close", wdone); !errors.Is(err, errPeerClosed) {
		t.Fatalf("write at close: %v", err)
	}
	if _, err := rawGetfl(fd); err != unix.EBADF {
		t.Fatalf("fd %d after close: %v, want EBADF", fd, err)
	}
	if err := pc.control(func(int) { called = true }); !errors.Is(err, errPeerClosed) || called {
		t.Fatalf("control after close: %v, called %v", err, called)
	}
	if !errors.Is(pc.close(), errPeerClosed) {
		t.Fatal("second close succeeded")
	}
	pp.mu.Lock()
	n := len(pp.m)
	pp.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d peers known after close", n)
	}

	// A socket's peer is nil once it is closed: every call says so.
	var gone *peerConn
	never := func(int) bool { called = true; return true }
	if !errors.Is(gone.read(never), errPeerClosed) || !errors.Is(gone.write(never), errPeerClosed) ||
		!errors.Is(gone.control(func(int) { called = true }), errPeerClosed) || called {
		t.Fatal("a nil peer did not refuse a call")
	}
}

// An event read for a peer just before it closed must not wake the next
// owner of its fd number; and the poller stays bounded: closed peers are
// forgotten, and events for a peer nobody waits on never block it.
func TestPeerPollerStaleEventsAndBounds(t *testing.T) {
	pp, err := newPeerPoller()
	if err != nil {
		t.Fatal(err)
	}
	old, _ := testPeerPair(t, pp)
	oldFd, oldID := old.fd, old.id
	old.close()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(pair[1]) })
	if pair[0] != oldFd {
		if err := unix.Dup3(pair[0], oldFd, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		unix.Close(pair[0])
	}
	pc := pp.add(oldFd) // not closed by a defer: a stuck dispatch holds pp.mu
	if pc.id == oldID {
		t.Fatal("a peer's id was reused")
	}
	time.Sleep(20 * time.Millisecond) // the add's own events (writable) are through
	select {
	case <-pc.rd:
		t.Fatal("an empty new peer is readable")
	default:
	}
	pp.dispatch([]unix.EpollEvent{{Events: unix.EPOLLIN | unix.EPOLLHUP, Fd: int32(oldID), Pad: int32(oldID >> 32)}})
	select {
	case <-pc.rd:
		t.Fatal("the closed peer's event woke the new owner of its fd number")
	default:
	}

	evs := make([]unix.EpollEvent, 1000)
	for i := range evs {
		evs[i] = unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT, Fd: int32(pc.id), Pad: int32(pc.id >> 32)}
	}
	done := make(chan struct{})
	go func() { pp.dispatch(evs); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("events for a peer with no waiter block the poller")
	}
	if len(pc.rd) != 1 || len(pc.wr) != 1 {
		t.Fatalf("pending wake-ups: %d readable, %d writable; want 1 each", len(pc.rd), len(pc.wr))
	}

	for range 1000 {
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		pp.add(pair[0]).close()
		unix.Close(pair[1])
	}
	pp.mu.Lock()
	n := len(pp.m)
	pp.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d peers known, want the 1 open", n)
	}
	pc.close()
}
