package supervisor

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"ztnc/netstack"
)

// TestConnectAnsweredOnceThePumpOwnsTheClose: a program told its connect
// succeeded may write and close at once (tests/conformance signals.c's
// storm clients do). The hang-up of its end must then be the pump's to
// handle, after it has carried what was written: when the hang-up watcher
// (or, on the path without pidfd_getfd, the reaper of held copies) could
// still close the socket at that moment, the bytes were dropped unread and
// the server read a bare EOF, now and then under load (accept_storm_*
// in TestSlowPath/signals). Each round checks the state the program's
// connect is answered in, and that the bytes arrive.
func TestConnectAnsweredOnceThePumpOwnsTheClose(t *testing.T) {
	s, st := newTestSupervisor(t)
	l, lwq, addr := loopbackListener(t, st, 64)

	for round := 0; round < 1000; round++ {
		so, prog := newTestStream(t, s)
		// The slow path's held copy of the program's end, as sysSocket keeps it.
		held, err := unix.FcntlInt(uintptr(prog), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		dup, err := unix.FcntlInt(uintptr(prog), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		e, ch := waiter.NewChannelEntry(waiter.EventOut | waiter.EventHUp | waiter.EventErr)
		so.wq.EventRegister(&e)
		so.mu.Lock()
		so.held, so.holding = held, true
		so.state = stConnecting
		so.connDone = make(chan struct{})
		done := so.connDone
		terr := so.ep.Connect(addr)
		so.mu.Unlock()
		if _, started := terr.(*tcpip.ErrConnectStarted); terr != nil && !started {
			t.Fatalf("connect: %v", terr)
		}
		<-ch
		so.wq.EventUnregister(&e)

		// The program: answered as awaitConnect answers it, it writes and closes.
		unsafe := make(chan string, 1)
		go func() {
			// Spinning, not parked: it takes the lock the moment
			// finishConnect lets go of it, as a waiter on another thread can.
			for {
				select {
				case <-done:
				default:
					continue
				}
				break
			}
			for !so.mu.TryLock() {
			}
			var why string
			switch {
			case so.state != stConnected:
				why = "not connected"
			case !so.reading:
				why = "no pump owns the hang-up yet"
			case so.holding:
				why = "the reaper could still take it for closed"
			}
			so.mu.Unlock()
			unix.Write(prog, []byte("ping"))
			unix.Close(prog)
			unsafe <- why
		}()
		if so.finishConnect(addr, dup, 0) {
			so.startStream()
		}
		if why := <-unsafe; why != "" {
			t.Fatalf("round %d: connect answered while a close of the program's end would drop its data: %s", round, why)
		}
		if got := acceptAndReadAll(t, l, lwq); got != "ping" {
			t.Fatalf("round %d: the server read %q, want %q", round, got, "ping")
		}
	}
}

// newTestStream makes a TCP socket as sysSocket does, without a program:
// it returns the socket and the program's end of its pair.
func newTestStream(t *testing.T, s *Supervisor) (*socket, int) {
	t.Helper()
	so := &socket{s: s, fam: unix.AF_INET, typ: unix.SOCK_STREAM, proto: unix.IPPROTO_TCP,
		wq: &waiter.Queue{}, opts: map[optKey][]byte{}}
	ep, terr := s.st.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, so.wq)
	if terr != nil {
		t.Fatalf("endpoint: %v", terr)
	}
	so.ep = ep
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Fstat(pair[0], &st)
	so.ino = st.Ino
	so.setPeer(pair[1])
	s.add(so)
	return so, pair[0]
}

// newTestSupervisor is a supervisor over a fresh stack, both gone with t.
func newTestSupervisor(t *testing.T) (*Supervisor, *netstack.Stack) {
	t.Helper()
	st, err := netstack.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	s, err := New(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// acceptAndReadAll accepts one connection on l and reads it to EOF.
func acceptAndReadAll(t *testing.T, l tcpip.Endpoint, lwq *waiter.Queue) string {
	t.Helper()
	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	lwq.EventRegister(&e)
	defer lwq.EventUnregister(&e)
	var (
		ep  tcpip.Endpoint
		wq  *waiter.Queue
		err tcpip.Error
	)
	for {
		ep, wq, err = l.Accept(nil)
		if _, wb := err.(*tcpip.ErrWouldBlock); !wb {
			break
		}
		<-ch
	}
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer ep.Close()
	return readToEOF(t, &socket{ep: ep, wq: wq})
}

// readToEOF reads so's endpoint to EOF.
func readToEOF(t *testing.T, so *socket) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 64)
	for {
		n, terr := so.epRead(buf)
		out = append(out, buf[:n]...)
		if terr != nil {
			if _, eof := terr.(*tcpip.ErrClosedForReceive); !eof {
				t.Fatalf("read: %v", terr)
			}
			return string(out)
		}
		if n == 0 {
			t.Fatal(io.ErrNoProgress)
		}
	}
}

// connectedTestStream connects a socket made by newTestStream to a plain
// netstack listener and returns it, its program end and the accepted
// remote endpoint with its queue.
func connectedTestStream(t *testing.T) (*socket, int, tcpip.Endpoint, *waiter.Queue) {
	t.Helper()
	s, st := newTestSupervisor(t)
	l, lwq, addr := loopbackListener(t, st, 1)
	so, prog := newTestStream(t, s)
	le, lch := waiter.NewChannelEntry(waiter.ReadableEvents)
	lwq.EventRegister(&le)
	defer lwq.EventUnregister(&le)
	ce, cch := waiter.NewChannelEntry(waiter.EventOut | waiter.EventHUp | waiter.EventErr)
	so.wq.EventRegister(&ce)
	defer so.wq.EventUnregister(&ce)
	if terr := so.ep.Connect(addr); terr != nil {
		if _, started := terr.(*tcpip.ErrConnectStarted); !started {
			t.Fatalf("connect: %v", terr)
		}
	}
	for tcp.EndpointState(so.ep.State()) != tcp.StateEstablished {
		select {
		case <-cch:
		case <-time.After(5 * time.Second):
			t.Fatalf("connect: still %v", tcp.EndpointState(so.ep.State()))
		}
	}
	for {
		r, rwq, terr := l.Accept(nil)
		if terr == nil {
			so.mu.Lock()
			so.state = stConnected
			so.mu.Unlock()
			t.Cleanup(r.Close)
			return so, prog, r, rwq
		}
		if _, wb := terr.(*tcpip.ErrWouldBlock); !wb {
			t.Fatalf("accept: %v", terr)
		}
		select {
		case <-lch:
		case <-time.After(5 * time.Second):
			t.Fatal("no connection to accept")
		}
	}
}

// waitReset waits up to 5 s for ep to be closed and returns the error
// that closed it (nil if it was not closed, or closed in order). A reset
// in CLOSE-WAIT is ErrAborted (Linux's EPIPE).
func waitReset(ep tcpip.Endpoint, wq *waiter.Queue) tcpip.Error {
	e, ch := waiter.NewChannelEntry(waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&e)
	defer wq.EventUnregister(&e)
	deadline := time.After(5 * time.Second)
	for tcp.EndpointState(ep.State()) != tcp.StateError && tcp.EndpointState(ep.State()) != tcp.StateClose {
		select {
		case <-ch:
		case <-deadline:
			return nil
		}
	}
	return ep.LastError()
}

// TestDataAfterCloseResets: the program shut down its writing side (our
// FIN went) and closed; the remote, reading EOF, writes. Linux answers
// with RST. The bytes can reach the pump before the hang-up closes the
// endpoint: they must not be dropped in silence (the endpoint then closed
// with an empty queue sends no RST, and the remote, in CLOSE-WAIT, wrote
// on without ever seeing POLLERR|POLLHUP or EPIPE: now and then, under
// load, in the tcp_shutdown conformance case).
func TestDataAfterCloseResets(t *testing.T) {
	so, prog, r, rwq := connectedTestStream(t)
	defer so.close()
	// The hang-up is seen late: the data reaches the pump before
	// anything closes the endpoint (which would make gVisor reset itself).
	so.peer.watchHangup(nil)
	// The program's shutdown and close; the endpoint's shutdown is what
	// programToNet does at its EOF.
	unix.Shutdown(prog, unix.SHUT_WR)
	unix.Close(prog)
	so.ep.Shutdown(tcpip.ShutdownWrite)
	done := make(chan struct{})
	go func() { so.netToProgram(); close(done) }()

	rs := &socket{ep: r, wq: rwq}
	if n, terr := rs.epRead(make([]byte, 8)); n != 0 || terr == nil {
		t.Fatalf("remote read: %d, %v; want EOF", n, terr)
	}
	var b bytes.Reader
	b.Reset([]byte("x"))
	if _, terr := r.Write(&b, tcpip.WriteOptions{}); terr != nil {
		t.Fatalf("remote write: %v", terr)
	}
	terr := waitReset(r, rwq)
	if _, reset := terr.(*tcpip.ErrAborted); !reset {
		t.Fatalf("remote after its bytes reached a closed socket: %v, want reset in CLOSE-WAIT (ErrAborted)", terr)
	}
	<-done
}

// TestResetAfterFINReachesProgram: the remote shut down its writing side
// and closed; the program read EOF and wrote, and the remote's stack
// answered with RST. On Linux the program's socket then polls
// POLLERR|POLLHUP and its next write fails (EPIPE): the pump, done at the
// FIN, used to leave the reset unseen and the program's writes succeeding.
func TestResetAfterFINReachesProgram(t *testing.T) {
	if !fastFDs() {
		t.Skip("without pidfd_getfd a reset reads as a clean EOF")
	}
	so, prog, r, _ := connectedTestStream(t)
	defer unix.Close(prog)
	so.mu.Lock()
	so.owner.pid, so.owner.fd = os.Getpid(), prog
	so.claimStreamLocked()
	so.mu.Unlock()
	so.startStream()
	r.Shutdown(tcpip.ShutdownWrite)
	r.Close()
	buf := make([]byte, 8)
	if n, err := unix.Read(prog, buf); n != 0 || err != nil {
		// prog is blocking: the read waits for the FIN.
		t.Fatalf("program read: %d, %v; want EOF", n, err)
	}
	if _, err := unix.Write(prog, []byte("x")); err != nil {
		t.Fatalf("program write after EOF: %v", err)
	}
	var ev int16
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p := []unix.PollFd{{Fd: int32(prog), Events: unix.POLLIN | unix.POLLOUT}}
		unix.Poll(p, 0)
		if ev = p[0].Revents; ev&(unix.POLLERR|unix.POLLHUP) == unix.POLLERR|unix.POLLHUP {
			break
		}
	}
	if ev&(unix.POLLERR|unix.POLLHUP) != unix.POLLERR|unix.POLLHUP {
		t.Fatalf("program's revents after the reset: %#x, want POLLERR|POLLHUP among them", ev)
	}
	if _, err := unix.Write(prog, []byte("x")); err != unix.EPIPE {
		t.Fatalf("program's write after the reset: %v, want EPIPE", err)
	}
}

// loopbackListener is a TCP listener of st on 127.0.0.1 (a free port) with
// its waiter queue and address, closed when the test ends.
func loopbackListener(t *testing.T, st *netstack.Stack, backlog int) (tcpip.Endpoint, *waiter.Queue, tcpip.FullAddress) {
	t.Helper()
	lwq := new(waiter.Queue)
	l, terr := st.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, lwq)
	if terr != nil {
		t.Fatalf("listener endpoint: %v", terr)
	}
	t.Cleanup(l.Close)
	addr := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 1})}
	if terr := l.Bind(addr); terr != nil {
		t.Fatalf("bind: %v", terr)
	}
	if terr := l.Listen(backlog); terr != nil {
		t.Fatalf("listen: %v", terr)
	}
	la, _ := l.GetLocalAddress()
	addr.Port = la.Port
	return l, lwq, addr
}
