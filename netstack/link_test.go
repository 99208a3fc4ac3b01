package netstack

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
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

	hold, release func()       // set when the port is a holdingPipePort
	tap           func([]byte) // if set (before use), sees each valid frame written
	// shape, if set (before use), says when a valid frame written reaches
	// the other end: now (0), that much later, or never (below 0).
	shape func([]byte) time.Duration

	batches atomic.Int64 // WriteFrames calls
	bad     atomic.Int64 // frames a real receiver would reject
	lastBad atomic.Value
}

// checkWire checks what the receiving stack here does not (ports mark
// checksums validated): size within the MTU and valid IP and TCP checksums.
func checkWire(f []byte, mtu uint32) error {
	const eth = header.EthernetMinimumSize
	if len(f) > eth+int(mtu) {
		return fmt.Errorf("frame of %d bytes over MTU %d", len(f), mtu)
	}
	var l4 []byte
	var src, dst tcpip.Address
	switch header.Ethernet(f).Type() {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(f[eth:])
		if !ip.IsValid(len(f)-eth) || !ip.IsChecksumValid() || int(ip.TotalLength()) != len(f)-eth {
			return fmt.Errorf("bad IPv4 header")
		}
		if ip.TransportProtocol() != header.TCPProtocolNumber {
			return nil
		}
		l4, src, dst = ip.Payload(), ip.SourceAddress(), ip.DestinationAddress()
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(f[eth:])
		if !ip.IsValid(len(f)-eth) || int(ip.PayloadLength())+header.IPv6MinimumSize != len(f)-eth {
			return fmt.Errorf("bad IPv6 header")
		}
		if ip.NextHeader() != uint8(header.TCPProtocolNumber) {
			return nil
		}
		l4, src, dst = ip.Payload(), ip.SourceAddress(), ip.DestinationAddress()
	default:
		return nil
	}
	if checksum.Checksum(l4, header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(l4)))) != 0xffff {
		return fmt.Errorf("bad TCP checksum")
	}
	return nil
}

// holdingPipePort is a batchPipePort that holds deliveries around each run
// of frames it delivers, as a ZeroTier network's port does around a read.
type holdingPipePort struct{ batchPipePort }

func (p holdingPipePort) SetHolder(hold, release func()) {
	p.mu.Lock()
	p.hold, p.release = hold, release
	p.mu.Unlock()
}

// batchPipePort is a pipePort taking frames in batches, as a ZeroTier
// network's port does.
type batchPipePort struct{ *pipePort }

func (p batchPipePort) WriteFrames(frames [][]byte) error {
	p.batches.Add(1)
	for _, f := range frames {
		p.WriteFrame(f)
	}
	return nil
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
	if err := checkWire(f, p.MTU()); err != nil {
		p.bad.Add(1)
		p.lastBad.Store(err.Error())
		return nil // dropped, as a receiver would drop it
	}
	if p.tap != nil {
		p.tap(f)
	}
	if p.shape != nil {
		switch d := p.shape(f); {
		case d < 0:
			return nil
		case d > 0:
			f = append([]byte(nil), f...)
			time.AfterFunc(d, func() { p.deliver(f) })
			return nil
		}
	}
	p.deliver(f)
	return nil
}

// deliver queues f for the other end.
func (p *pipePort) deliver(f []byte) {
	p.mu.Lock()
	q := p.peer
	p.mu.Unlock()
	q.mu.Lock()
	q.queue = append(q.queue, append([]byte(nil), f...))
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// setPeer moves the cable's other end to q (a restarted machine's port).
func (p *pipePort) setPeer(q *pipePort) {
	p.mu.Lock()
	p.peer = q
	p.mu.Unlock()
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
		hold, release := p.hold, p.release
		p.mu.Unlock()
		if hold != nil {
			hold()
		}
		for _, f := range q {
			p.recv(f)
		}
		if release != nil {
			release()
		}
	}
}

// A bulk transfer between two stacks over ports arrives whole (frames out
// are written by the stack's own goroutines, frames in delivered by the
// port's), in valid frames within the MTU whether the port takes frames one
// at a time or in batches, over IPv4 and IPv6 (large TCP segments are cut
// by us: gso.go), and with deliveries held and merged (gro.go).
func TestBatchPortBulk(t *testing.T) {
	for _, mode := range []string{"frames", "batch", "hold"} {
		for _, v6 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/v6=%v", mode, v6), func(t *testing.T) { bulk(t, mode, v6) })
		}
	}
}

func bulk(t *testing.T, mode string, v6 bool) {
	batch := mode != "frames"
	pa, pb := newPipe()
	defer close(pa.done)
	defer close(pb.done)
	var porta, portb Port = pa, pb
	switch mode {
	case "batch":
		porta, portb = batchPipePort{pa}, batchPipePort{pb}
	case "hold":
		porta, portb = holdingPipePort{batchPipePort{pa}}, holdingPipePort{batchPipePort{pb}}
	}
	sa, sb := newLocal(t), newLocal(t)
	pfa, pfb := netip.MustParsePrefix("10.5.0.1/24"), netip.MustParsePrefix("10.5.0.2/24")
	proto := ipv4.ProtocolNumber
	if v6 {
		pfa, pfb = netip.MustParsePrefix("fd00:5::1/64"), netip.MustParsePrefix("fd00:5::2/64")
		proto = ipv6.ProtocolNumber
	}
	attachAt(t, sa, "a", porta, pfa)
	attachAt(t, sb, "b", portb, pfb)
	addr := tcpip.FullAddress{Addr: tcpip.AddrFromSlice(pfb.Addr().AsSlice()), Port: 7001}
	ln, err := gonet.ListenTCP(sb.Stack, addr, proto)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := make([]byte, 8<<20)
	rand.Read(data)
	got := readFirstConn(ln)
	c, err := gonet.DialTCP(sa.Stack, addr, proto)
	if err != nil {
		t.Fatal(err)
	}
	go func() { c.Write(data); c.Close() }()
	select {
	case b := <-got:
		if n := pa.bad.Load() + pb.bad.Load(); n > 0 {
			t.Fatalf("%d frames a receiver would drop, e.g. %v", n, pa.lastBad.Load())
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("received %d bytes, want the %d sent", len(b), len(data))
		}
		if batch && pa.batches.Load() == 0 {
			t.Fatal("the batch port got no batch")
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("transfer stalled (%d bad frames, e.g. %v)", pa.bad.Load()+pb.bad.Load(), pa.lastBad.Load())
	}
}
