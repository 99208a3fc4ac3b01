package supervisor

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"ztnc/netstack"
)

// cable is one end of a virtual Ethernet cable between two stacks: frames
// written reach the other end's stack on a goroutine of the cable's, and are
// kept for the test to look at.
type cable struct {
	mac  net.HardwareAddr
	peer *cable
	in   chan []byte
	recv func([]byte)

	mu   sync.Mutex
	sent [][]byte
}

func newCable() (*cable, *cable) {
	a := &cable{mac: net.HardwareAddr{2, 0, 0, 0, 0, 1}, in: make(chan []byte, 256)}
	b := &cable{mac: net.HardwareAddr{2, 0, 0, 0, 0, 2}, in: make(chan []byte, 256)}
	a.peer, b.peer = b, a
	return a, b
}

func (c *cable) MAC() net.HardwareAddr { return c.mac }
func (c *cable) MTU() uint32           { return 2800 }
func (c *cable) WriteFrame(f []byte) error {
	f = append([]byte(nil), f...)
	c.mu.Lock()
	c.sent = append(c.sent, f)
	c.mu.Unlock()
	c.peer.in <- f
	return nil
}
func (c *cable) SetReceiver(recv func([]byte)) {
	if recv == nil || c.recv != nil {
		return
	}
	c.recv = recv
	go func() {
		for f := range c.in {
			c.recv(f)
		}
	}()
}

// A program that writes its answer and closes before the pump has read
// (an HTTP server answering "Connection: close"): the answer and the FIN
// leave in one segment, and the remote reads the answer, then EOF.
func TestLastWriteAndCloseGoAsOneSegment(t *testing.T) {
	so, prog, ca, l, lwq := newCabledStream(t)
	answer := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"
	unix.Write(prog, []byte(answer))
	unix.Close(prog)
	so.startStream()

	if got := acceptAndReadAll(t, l, lwq); got != answer {
		t.Fatalf("the remote read %q, want %q", got, answer)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	var fins []header.TCP
	for _, f := range ca.sent {
		ip := header.IPv4(f[header.EthernetMinimumSize:])
		if ip.TransportProtocol() != header.TCPProtocolNumber {
			continue
		}
		if th := header.TCP(ip.Payload()); th.Flags()&header.TCPFlagFin != 0 {
			fins = append(fins, th)
		}
	}
	if len(fins) != 1 || string(fins[0].Payload()) != answer {
		for _, th := range fins {
			t.Logf("FIN segment with %d bytes", len(th.Payload()))
		}
		t.Fatalf("%d segments with FIN, want 1 carrying the answer", len(fins))
	}
}

// The last write is larger than the endpoint's send buffer: the pump must
// not wait for room while it holds the frames whose ACKs would make room.
func TestLastWriteLargerThanTheSendBuffer(t *testing.T) {
	so, prog, _, l, lwq := newCabledStream(t)
	so.ep.SocketOptions().SetSendBufferSize(4096, true)
	// Not all of it fills the pump's first buffer: the rest is the last
	// short read, followed by EOF.
	data := bytes.Repeat([]byte("0123456789abcdef"), (pumpBuf+pumpBuf/3)/16)
	go func() {
		unix.Write(prog, data)
		unix.Close(prog)
	}()
	time.Sleep(50 * time.Millisecond) // all written before the pump reads
	so.startStream()
	got := make(chan string, 1)
	go func() { got <- acceptAndReadAll(t, l, lwq) }()
	select {
	case g := <-got:
		if g != string(data) {
			t.Fatalf("the remote read %d bytes, want the %d written", len(g), len(data))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stalled: the pump waits for send-buffer room with its frames held")
	}
}

// newCabledStream makes a stack with a supervisor whose one TCP socket is
// connected, over a cable, to a listener on a second stack (l, which has
// accepted nothing yet); the socket's pumps are claimed but not started.
// It returns the socket, the program's end, and the cable's end on the
// supervisor's side.
func newCabledStream(t *testing.T) (*socket, int, *cable, tcpip.Endpoint, *waiter.Queue) {
	t.Helper()
	sa, err := netstack.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sa.Close)
	sb, err := netstack.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	ca, cb := newCable()
	na, err := sa.AttachPort("a", ca)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := sb.AttachPort("b", cb)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.AddAddress(na, netip.MustParsePrefix("10.8.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddAddress(nb, netip.MustParsePrefix("10.8.0.2/24")); err != nil {
		t.Fatal(err)
	}
	s, err := New(sa, nil)
	if err != nil {
		t.Fatal(err)
	}
	lwq := &waiter.Queue{}
	l, terr := sb.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, lwq)
	if terr != nil {
		t.Fatalf("listener endpoint: %v", terr)
	}
	t.Cleanup(l.Close)
	addr := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 8, 0, 2}), Port: 8080}
	if terr := l.Bind(addr); terr != nil {
		t.Fatalf("bind: %v", terr)
	}
	if terr := l.Listen(8); terr != nil {
		t.Fatalf("listen: %v", terr)
	}

	so, prog := newTestStream(t, s)
	e, ch := waiter.NewChannelEntry(waiter.EventOut | waiter.EventHUp | waiter.EventErr)
	so.wq.EventRegister(&e)
	if terr := so.ep.Connect(addr); terr != nil {
		if _, started := terr.(*tcpip.ErrConnectStarted); !started {
			t.Fatalf("connect: %v", terr)
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("connect timed out")
		}
	}
	so.wq.EventUnregister(&e)
	so.mu.Lock()
	so.state = stConnected
	so.claimStreamLocked()
	so.mu.Unlock()
	return so, prog, ca, l, lwq
}

// An accepted socket's outgoing pump waits for the poller before its first
// read: what the program wrote before the pump started, on a connection it
// keeps open (a keep-alive answer), must still go out.
func TestAcceptedPumpSendsWhatCameBeforeIt(t *testing.T) {
	so, prog, _, l, lwq := newCabledStream(t)
	defer unix.Close(prog)
	answer := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"
	unix.Write(prog, []byte(answer))
	time.Sleep(50 * time.Millisecond) // the poller has seen the bytes come
	so.startAcceptedStream()

	got := make(chan string, 1)
	go func() {
		e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
		lwq.EventRegister(&e)
		defer lwq.EventUnregister(&e)
		ep, wq, err := l.Accept(nil)
		for _, wb := err.(*tcpip.ErrWouldBlock); wb; _, wb = err.(*tcpip.ErrWouldBlock) {
			<-ch
			ep, wq, err = l.Accept(nil)
		}
		if err != nil {
			got <- "accept: " + err.String()
			return
		}
		defer ep.Close()
		e2, ch2 := waiter.NewChannelEntry(waiter.ReadableEvents)
		wq.EventRegister(&e2)
		defer wq.EventUnregister(&e2)
		var w bytes.Buffer
		for w.Len() < len(answer) {
			_, terr := ep.Read(&w, tcpip.ReadOptions{})
			if _, wb := terr.(*tcpip.ErrWouldBlock); wb {
				<-ch2
			} else if terr != nil {
				got <- "read: " + terr.String()
				return
			}
		}
		got <- w.String()
	}()
	select {
	case s := <-got:
		if s != answer {
			t.Fatalf("the remote read %q, want %q", s, answer)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("what the program wrote before the pump started never left")
	}
}
