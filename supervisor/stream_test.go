package supervisor

import (
	"io"
	"testing"

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
	st, err := netstack.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := New(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lwq waiter.Queue
	l, terr := st.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &lwq)
	if terr != nil {
		t.Fatalf("listener endpoint: %v", terr)
	}
	defer l.Close()
	addr := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 1})}
	if terr := l.Bind(addr); terr != nil {
		t.Fatalf("bind: %v", terr)
	}
	if terr := l.Listen(64); terr != nil {
		t.Fatalf("listen: %v", terr)
	}
	la, _ := l.GetLocalAddress()
	addr.Port = la.Port

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
		if got := acceptAndReadAll(t, l, &lwq); got != "ping" {
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
	so := &socket{ep: ep, wq: wq}
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
