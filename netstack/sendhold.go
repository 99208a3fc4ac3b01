package netstack

import (
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Send hold. A program that writes its last bytes and closes (an HTTP
// server answering "Connection: close") makes gVisor send two segments, the
// data and then a bare FIN, each a ZeroTier datagram that wakes the other
// node and gets its own ACK. The supervisor holds the connection's frames
// out while it writes such a last chunk and closes; on release a data
// segment followed by its FIN goes out as one segment (finmerge.go).

// sendHolds is the stack's set of held flows, shared by its port endpoints.
type sendHolds struct {
	n     atomic.Int32 // flows held: frames out are looked at only when some are
	mu    sync.Mutex
	flows map[stack.TransportEndpointID]*heldFlow

	fins finProbes // finresend.go
}

// heldFlow is one held flow's frames, copied (the caller's buffers are
// reused once WritePackets returns), in the order they were written.
type heldFlow struct {
	holds  int
	e      *portEndpoint // the port they go out of
	buf    []byte
	ends   []int
	frames [][]byte
}

var heldPool = sync.Pool{New: func() any { return &heldFlow{buf: make([]byte, 0, 4096)} }}

// SendHold is a hold taken by HoldSends; its Release sends what it held.
type SendHold struct {
	h  *sendHolds
	id stack.TransportEndpointID
}

// HoldSends holds the frames ep's connection sends through a port until
// the hold is released. Holds of one flow nest. A connection that is not
// connected, or not TCP, gets a hold that holds nothing.
func (st *Stack) HoldSends(ep tcpip.Endpoint) SendHold {
	info, ok := ep.Info().(*stack.TransportEndpointInfo)
	if !ok || info.TransProto != header.TCPProtocolNumber || info.ID.RemotePort == 0 {
		return SendHold{}
	}
	h := &st.holds
	h.mu.Lock()
	f := h.flows[info.ID]
	if f == nil {
		f = heldPool.Get().(*heldFlow)
		if h.flows == nil {
			h.flows = map[stack.TransportEndpointID]*heldFlow{}
		}
		h.flows[info.ID] = f
		h.n.Add(1)
	}
	f.holds++
	h.mu.Unlock()
	return SendHold{h: h, id: info.ID}
}

// Release ends the hold (once: a released hold holds nothing): the last
// one sends the flow's frames, each data segment directly followed by its
// FIN merged with it. A holder must not wait for its connection's ACKs
// before releasing: they answer the frames it holds.
func (sh *SendHold) Release() {
	h := sh.h
	if h == nil {
		return
	}
	sh.h = nil
	h.mu.Lock()
	f := h.flows[sh.id]
	if f == nil {
		h.mu.Unlock()
		return
	}
	if f.holds--; f.holds > 0 {
		h.mu.Unlock()
		return
	}
	delete(h.flows, sh.id)
	h.n.Add(-1)
	h.mu.Unlock()
	// A frame of this flow written from now on goes out at once, possibly
	// ahead of these: at worst an ACK or a retransmission overtakes them,
	// which TCP takes as reordering.
	if f.e != nil && len(f.ends) > 0 {
		f.frames = f.frames[:0]
		start := 0
		for _, end := range f.ends {
			f.frames = append(f.frames, f.buf[start:end])
			start = end
		}
		out := mergeFins(f.frames)
		h.fins.remember(out)
		// A failed write is a loss gVisor's retransmissions make up for.
		f.e.write(out)
	}
	f.e, f.buf, f.ends = nil, f.buf[:0], f.ends[:0]
	clear(f.frames)
	heldPool.Put(f)
}

// take keeps the frames of held flows (from e) and returns the others, in
// place of frames.
func (h *sendHolds) take(e *portEndpoint, frames [][]byte) [][]byte {
	out := frames[:0]
	h.mu.Lock()
	for _, fr := range frames {
		id, ok := flowOut(fr)
		f := h.flows[id]
		if !ok || f == nil || (f.e != nil && f.e != e) {
			out = append(out, fr)
			continue
		}
		f.e = e
		f.buf = append(f.buf, fr...)
		f.ends = append(f.ends, len(f.buf))
	}
	h.mu.Unlock()
	return out
}
