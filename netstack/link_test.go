package netstack

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// pipePort is one end of a virtual cable: frames written reach the other
// end's stack on the cable's own goroutine, as frames from a node's socket
// do on its reader.
type pipePort struct {
	mac   net.HardwareAddr
	peer  *pipePort
	mu    sync.Mutex
	queue [][]byte
	wake  chan struct{}
	recv  func([]byte)
	done  chan struct{}
}

func newPipe() (*pipePort, *pipePort) {
	a := &pipePort{mac: net.HardwareAddr{2, 0, 0, 0, 0, 1}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	b := &pipePort{mac: net.HardwareAddr{2, 0, 0, 0, 0, 2}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	a.peer, b.peer = b, a
	return a, b
}

func (p *pipePort) MAC() net.HardwareAddr { return p.mac }
func (p *pipePort) MTU() uint32           { return 2800 }
func (p *pipePort) SetReceiver(recv func([]byte)) {
	p.recv = recv
	go p.run()
}

func (p *pipePort) WriteFrame(f []byte) error {
	q := p.peer
	q.mu.Lock()
	q.queue = append(q.queue, append([]byte(nil), f...))
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

func (p *pipePort) run() {
	for {
		select {
		case <-p.wake:
		case <-p.done:
			return
		}
		p.mu.Lock()
		q := p.queue
		p.queue = nil
		p.mu.Unlock()
		for _, f := range q {
			p.recv(f)
		}
	}
}

// A bulk transfer between two stacks over ports arrives whole (frames out
// are written by the stack's own goroutines, frames in delivered by the
// port's).
func TestBatchPortBulk(t *testing.T) {
	pa, pb := newPipe()
	defer close(pa.done)
	defer close(pb.done)
	sa, sb := newLocal(t), newLocal(t)
	na, err := sa.AttachPort("a", pa)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := sb.AttachPort("b", pb)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.AddAddress(na, netip.MustParsePrefix("10.5.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddAddress(nb, netip.MustParsePrefix("10.5.0.2/24")); err != nil {
		t.Fatal(err)
	}
	addr := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 5, 0, 2}), Port: 7001}
	ln, err := gonet.ListenTCP(sb.Stack, addr, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := make([]byte, 8<<20)
	rand.Read(data)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := gonet.DialTCP(sa.Stack, addr, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	go func() { c.Write(data); c.Close() }()
	select {
	case b := <-got:
		if !bytes.Equal(b, data) {
			t.Fatalf("received %d bytes, want the %d sent", len(b), len(data))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("transfer stalled")
	}
}
