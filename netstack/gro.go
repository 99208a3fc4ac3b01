package netstack

import (
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/stack/gro"
)

// Receive offload. A node's socket reader hands the port the frames of up
// to 32 datagrams in a row; delivered one by one, each TCP segment costs a
// trip through gVisor's TCP and, every other segment, an ACK (a frame
// armored and written). While the reader holds the port (HoldingPort),
// consecutive segments of a flow are merged (gVisor's GRO engine) and go up
// as one when the last hold is released.

// HoldingPort is a Port whose deliveries can be held back and merged: the
// port calls hold before delivering a run of frames and release after (the
// two always paired, possibly from several goroutines at once).
type HoldingPort interface {
	Port
	SetHolder(hold, release func())
}

// groState is the port endpoint's receive offload.
type groState struct {
	mu    sync.Mutex
	holds int
	gro   gro.GRO
	out   collector // what gro let go of, delivered once mu is released
}

// collector is the GRO engine's dispatcher: it keeps packets so they are
// delivered without mu held (delivery can send frames, and a frame to
// ourselves comes straight back into receive).
type collector struct{ pkts []*stack.PacketBuffer }

func (c *collector) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	c.pkts = append(c.pkts, pkt.IncRef())
}

func (c *collector) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

func (g *groState) init() {
	g.gro.Init(true)
	g.gro.Dispatcher = &g.out
}

// flushLocked lets go of every merged packet. gro.GRO.Flush lets go of
// only the first packet of each bucket per call (it resets a list entry
// before stepping to the next), so it is called until nothing comes out.
func (g *groState) flushLocked() {
	for {
		n := len(g.out.pkts)
		g.gro.Flush()
		if len(g.out.pkts) == n {
			return
		}
	}
}

// takeLocked hands over what the engine let go of.
func (g *groState) takeLocked() []*stack.PacketBuffer {
	p := g.out.pkts
	g.out.pkts = nil
	return p
}

func (e *portEndpoint) hold() {
	e.gro.mu.Lock()
	e.gro.holds++
	e.gro.mu.Unlock()
}

func (e *portEndpoint) release() {
	e.gro.mu.Lock()
	e.gro.holds--
	if e.gro.holds == 0 {
		e.gro.flushLocked()
	}
	pkts := e.gro.takeLocked()
	e.gro.mu.Unlock()
	e.deliverAll(pkts)
}

// enqueue takes pkt for merging if the port is held; false if not (the
// caller delivers it at once).
func (e *portEndpoint) enqueue(pkt *stack.PacketBuffer) bool {
	e.gro.mu.Lock()
	if e.gro.holds == 0 {
		e.gro.mu.Unlock()
		return false
	}
	e.gro.gro.Enqueue(pkt)
	pkts := e.gro.takeLocked()
	e.gro.mu.Unlock()
	e.deliverAll(pkts)
	return true
}

func (e *portEndpoint) deliverAll(pkts []*stack.PacketBuffer) {
	if len(pkts) == 0 {
		return
	}
	d := e.dispatcher()
	for _, p := range pkts {
		if d != nil {
			d.DeliverNetworkPacket(p.NetworkProtocolNumber, p)
		}
		p.DecRef()
	}
}
