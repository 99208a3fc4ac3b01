package netstack

import (
	"sync"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// portEndpoint is the NIC's link endpoint for a Port: Ethernet framing, and
// frames handed over on the caller's goroutine both ways (no queue and no
// goroutine per frame: each hand-off costs a wake-up).
//
// Frames out are written by the goroutine that made them (a TCP sender, a
// processor sending an ACK) straight to the port. Frames in are delivered up
// the stack by the goroutine that received them (the node's reader).
type portEndpoint struct {
	port Port
	mtu  uint32
	mac  tcpip.LinkAddress

	mu      sync.RWMutex
	disp    stack.NetworkDispatcher
	onClose func()

	gro groState // gro.go

	// The stack and NIC the port is attached as (timewait.go); set before
	// the NIC exists, so before any frame comes in.
	stack *stack.Stack
	nic   tcpip.NICID

	// The stack's held flows (sendhold.go); nil for a bare endpoint.
	holds *sendHolds
}

func newPortEndpoint(port Port) *portEndpoint {
	e := &portEndpoint{port: port, mtu: port.MTU(), mac: tcpip.LinkAddress(port.MAC())}
	e.gro.init()
	port.SetReceiver(e.receive)
	if hp, ok := port.(HoldingPort); ok {
		hp.SetHolder(e.hold, e.release)
	}
	return e
}

// txBuf holds one WritePackets call's frames: the packets flattened, then
// cut into segments where gVisor left that to us (gso.go).
type txBuf struct {
	flat   []byte
	segs   []byte
	frames [][]byte
}

var txPool = sync.Pool{New: func() any {
	return &txBuf{flat: make([]byte, 0, gsoMaxSize+header.EthernetMinimumSize), segs: make([]byte, 0, 2*gsoMaxSize)}
}}

// WritePackets implements stack.LinkWriter: each packet, with its Ethernet
// header, goes out as one frame, or as several if it is an offloaded TCP
// segment; all of them are handed to the port at once when it takes batches.
func (e *portEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	tb := txPool.Get().(*txBuf)
	defer txPool.Put(tb)
	tb.segs, tb.frames = tb.segs[:0], tb.frames[:0]
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if pkt.GSOOptions.Type == stack.GSONone {
			start := len(tb.segs)
			for _, s := range pkt.AsSlices() {
				tb.segs = append(tb.segs, s...)
			}
			tb.frames = append(tb.frames, tb.segs[start:])
			n++
			continue
		}
		// Flattened apart: its segments are appended to tb.segs.
		tb.flat = tb.flat[:0]
		for _, s := range pkt.AsSlices() {
			tb.flat = append(tb.flat, s...)
		}
		var err error
		tb.segs, tb.frames, err = segmentTCP(tb.segs, tb.frames, tb.flat, int(pkt.GSOOptions.MSS))
		if err != nil {
			// Only a TCP segment can be offloaded, and its checksum is
			// incomplete: sending it as is would only corrupt the flow.
			continue
		}
		n++
	}
	if e.holds != nil && e.holds.n.Load() > 0 {
		tb.frames = e.holds.take(e, tb.frames)
	}
	if e.holds != nil && e.holds.fins.n.Load() > 0 {
		tb.frames = e.holds.fins.hold(e, tb.frames)
	}
	if len(tb.frames) == 0 {
		return n, nil
	}
	if err := e.write(tb.frames); err != nil {
		return 0, &tcpip.ErrClosedForSend{}
	}
	return n, nil
}

// write sends frames in one call if the port takes batches.
func (e *portEndpoint) write(frames [][]byte) error {
	if bw, ok := e.port.(BatchPort); ok {
		return bw.WriteFrames(frames)
	}
	for i, f := range frames {
		if err := e.port.WriteFrame(f); err != nil && i == 0 {
			return err
		}
	}
	return nil
}

// packetOf wraps a frame in; false when it has no Ethernet header.
func (e *portEndpoint) packetOf(frame []byte) (*stack.PacketBuffer, bool) {
	if len(frame) < header.EthernetMinimumSize {
		return nil, false
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	hdr, _ := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	eth := header.Ethernet(hdr)
	switch dst := eth.DestinationAddress(); {
	case dst == header.EthernetBroadcastAddress:
		pkt.PktType = tcpip.PacketBroadcast
	case header.IsMulticastEthernetAddress(dst):
		pkt.PktType = tcpip.PacketMulticast
	case dst == e.mac:
		pkt.PktType = tcpip.PacketHost
	default:
		pkt.PktType = tcpip.PacketOtherHost
	}
	pkt.NetworkProtocolNumber = eth.Type()
	// Checksums in are not verified (see Capabilities); said here for the
	// receive offload, which runs before the NIC sets it.
	pkt.RXChecksumValidated = true
	return pkt, true
}

func (e *portEndpoint) dispatcher() stack.NetworkDispatcher {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.disp
}

// receive delivers one frame up the stack: at once, or merged with the
// frames after it while the port is held (gro.go).
func (e *portEndpoint) receive(frame []byte) {
	d := e.dispatcher()
	if d == nil {
		return
	}
	e.endTimeWait(frame)
	pkt, ok := e.packetOf(frame)
	if !ok {
		return
	}
	if !e.enqueue(pkt) {
		d.DeliverNetworkPacket(pkt.NetworkProtocolNumber, pkt)
	}
	pkt.DecRef()
}

func (e *portEndpoint) MTU() uint32                             { return e.mtu }
func (e *portEndpoint) SetMTU(mtu uint32)                       {}
func (e *portEndpoint) MaxHeaderLength() uint16                 { return header.EthernetMinimumSize }
func (e *portEndpoint) LinkAddress() tcpip.LinkAddress          { return e.mac }
func (e *portEndpoint) SetLinkAddress(tcpip.LinkAddress)        {}
func (e *portEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }
func (e *portEndpoint) Wait()                                   {}
func (e *portEndpoint) SetOnCloseAction(f func())               { e.mu.Lock(); e.onClose = f; e.mu.Unlock() }

// Capabilities: neighbours are resolved (ARP, NDP) as on any Ethernet.
// Every ZeroTier frame is authenticated end to end (and a --local port has
// no frames in), so a corrupted packet cannot arrive: checksums in are not
// verified again (the NIC sets pkt.RXChecksumValidated from this flag; the
// receive offload's merged packets keep their first segment's checksums).
func (e *portEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload
}

func (e *portEndpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.disp = d
	e.mu.Unlock()
}

func (e *portEndpoint) IsAttached() bool { return e.dispatcher() != nil }

func (e *portEndpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

func (e *portEndpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// Close detaches the port: frames in are dropped from now on.
func (e *portEndpoint) Close() {
	e.mu.Lock()
	f := e.onClose
	e.onClose = nil
	e.disp = nil
	e.mu.Unlock()
	if f != nil {
		f()
	}
}
