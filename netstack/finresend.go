package netstack

import (
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// Held FIN probes. A FIN merged into its data segment (finmerge.go) is one
// segment on the wire, but gVisor counts two outstanding and arms its
// tail-loss probe as for two: twice the smoothed round trip, without the
// 200 ms it adds for a single segment (the peer may delay its ACK). On a
// busy machine the peer's ACK often comes later than that (for 9.5 % of
// nginx's closes in the new-connection benchmark), and the probe sends the
// FIN again, bare, though the peer has it: a datagram out and the peer's
// duplicate ACK back, each encrypted, sent and woken for on both nodes.
//
// So a bare FIN sent again for a merged FIN within gVisor's shortest
// retransmission timeout (200 ms) of the merge, which can only be a probe,
// is held, once per merged FIN. It is sent only if, held for longer than
// that timeout, the FIN is still unacknowledged (the connection's state
// says so: nothing in has to be parsed) and no retransmission timeout has
// fired on the connection. gVisor never relies on the probe: on a lost
// merged segment its retransmission timeout, armed at the probe, fires
// within the hold and recovers as before, where a probe sent just ahead of
// it would only earn a duplicate ACK that restarts the timeout (a gVisor
// peer does not SACK a bare FIN). With a timeout longer than the hold the
// probe goes out, 300 ms late, as Linux's would for a single segment.

const (
	// finHold is how long a probe's bare FIN is held: longer than gVisor's
	// minimum retransmission timeout, so that on a short path its
	// retransmission comes first. Probes due within finSlack of the first
	// are decided on together (one timer firing).
	finHold  = 300 * time.Millisecond
	finSlack = 20 * time.Millisecond
	// mergedTTL is how long after a merge a bare FIN of the same flow and
	// sequence number is taken for a probe: a retransmission on a timeout
	// comes no sooner, and a probe on a path this slow is left alone.
	mergedTTL = tcp.MinRTO
	// At most this many merged FINs are remembered (the oldest go first)
	// and this many bare FINs held (more go out at once).
	maxMerged   = 1024
	maxHeldFins = 512
	// maxBareFin is the largest frame a bare FIN can be (IP and TCP
	// headers with all their options): larger frames are not looked at.
	maxBareFin = header.EthernetMinimumSize + header.IPv4MaximumHeaderSize + header.TCPHeaderMaximumSize
)

var monoBase = time.Now()

// mono is a monotonic clock reading in nanoseconds.
func mono() int64 { return int64(time.Since(monoBase)) }

type finKey struct {
	id  stack.TransportEndpointID // the sender's view, as flowOut gives it
	seq uint32                    // the FIN's sequence number
}

type mergedFin struct {
	k  finKey
	at int64
}

type heldProbe struct {
	e     *portEndpoint
	k     finKey
	proto tcpip.NetworkProtocolNumber
	frame []byte
	due   int64
}

// finProbes is a stack's merged FINs and held bare FINs.
type finProbes struct {
	n      atomic.Int32 // merged FINs remembered: frames out are looked at only when some are
	mu     sync.Mutex
	merged map[finKey]int64 // -> when merged; the ring's entry of the same time is its own
	ring   []mergedFin      // oldest first from head, count entries
	head   int
	count  int
	held   []heldProbe // oldest (first due) first
	timer  *time.Timer
	closed bool

	// Counters, for tests and debugging.
	Held, Dropped, Sent atomic.Uint64
}

// finOf is the flow and FIN sequence number of a segment out carrying a
// FIN; bare is whether it carries nothing else (no bytes, only ACK).
func finOf(f []byte) (k finKey, proto tcpip.NetworkProtocolNumber, bare, ok bool) {
	p, ok := parseTCPFrame(f)
	if !ok {
		return finKey{}, 0, false, false
	}
	t := header.TCP(f[p.l4:])
	fl := t.Flags() &^ header.TCPFlagPsh
	if fl != header.TCPFlagAck|header.TCPFlagFin {
		return finKey{}, 0, false, false
	}
	proto = header.IPv6ProtocolNumber
	if p.v4 {
		proto = header.IPv4ProtocolNumber
	}
	k = finKey{
		id:  stack.TransportEndpointID{LocalAddress: p.src, LocalPort: t.SourcePort(), RemoteAddress: p.dst, RemotePort: t.DestinationPort()},
		seq: t.SequenceNumber() + uint32(len(f)-p.data),
	}
	return k, proto, p.data == len(f), true
}

// remember notes the FINs frames carry with data: gVisor never sends one
// so, so each is one mergeFins made.
func (r *finProbes) remember(frames [][]byte) {
	for _, f := range frames {
		k, _, bare, ok := finOf(f)
		if !ok || bare {
			continue
		}
		now := mono()
		r.mu.Lock()
		if r.merged == nil {
			r.merged = make(map[finKey]int64)
			r.ring = make([]mergedFin, maxMerged)
		}
		r.expireLocked(now)
		if r.count == maxMerged {
			r.dropOldestLocked()
		}
		r.ring[(r.head+r.count)%maxMerged] = mergedFin{k, now}
		r.count++
		r.merged[k] = now
		r.n.Store(int32(len(r.merged)))
		r.mu.Unlock()
	}
}

func (r *finProbes) dropOldestLocked() {
	m := r.ring[r.head]
	if at, ok := r.merged[m.k]; ok && at == m.at {
		delete(r.merged, m.k)
	}
	r.ring[r.head] = mergedFin{}
	r.head = (r.head + 1) % maxMerged
	r.count--
}

func (r *finProbes) expireLocked(now int64) {
	for r.count > 0 && now-r.ring[r.head].at > int64(mergedTTL) {
		r.dropOldestLocked()
	}
	r.n.Store(int32(len(r.merged)))
}

// hold takes out of frames (in place) the bare FINs sent again for merged
// FINs, to be sent after finHold if still awaited, and returns the rest.
func (r *finProbes) hold(e *portEndpoint, frames [][]byte) [][]byte {
	if e.stack == nil {
		return frames
	}
	out := frames[:0]
	for _, f := range frames {
		if len(f) > maxBareFin || !r.take(e, f) {
			out = append(out, f)
		}
	}
	return out
}

// take holds f if it is a bare FIN sent again for a merged FIN recently
// merged and not yet probed; false if f is to go out now.
func (r *finProbes) take(e *portEndpoint, f []byte) bool {
	k, proto, bare, ok := finOf(f)
	if !ok || !bare {
		return false
	}
	now := mono()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked(now)
	if _, ok := r.merged[k]; !ok || r.closed || len(r.held) >= maxHeldFins {
		return false
	}
	// Held once: a FIN sent again after this probe goes out at once.
	delete(r.merged, k)
	r.n.Store(int32(len(r.merged)))
	r.held = append(r.held, heldProbe{e: e, k: k, proto: proto, frame: append([]byte(nil), f...), due: now + int64(finHold)})
	if len(r.held) == 1 {
		if r.timer == nil {
			r.timer = time.AfterFunc(finHold, r.expire)
		} else {
			r.timer.Reset(finHold)
		}
	}
	r.Held.Add(1)
	return true
}

// expire sends the held FINs now due whose connections still await their
// acknowledgement, and drops the others.
func (r *finProbes) expire() {
	now := mono()
	r.mu.Lock()
	i := 0
	for i < len(r.held) && r.held[i].due <= now {
		i++
	}
	due := append([]heldProbe(nil), r.held[:i]...)
	clear(r.held[:i])
	r.held = r.held[i:]
	if len(r.held) > 0 && !r.closed {
		r.timer.Reset(time.Duration(r.held[0].due-now) + finSlack)
	}
	r.mu.Unlock()
	for _, h := range due {
		if !finAwaited(h) {
			r.Dropped.Add(1)
			continue
		}
		r.Sent.Add(1)
		// A failed write is a loss the retransmission timer makes up for.
		h.e.write([][]byte{h.frame})
	}
}

// finAwaited says whether h's connection has sent its FIN, still waits for
// it to be acknowledged, and has not timed out (gVisor retransmits then).
func finAwaited(h heldProbe) bool {
	ep, ok := h.e.stack.FindTransportEndpoint(h.proto, header.TCPProtocolNumber, h.k.id, h.e.nic).(*tcp.Endpoint)
	if !ok {
		return false
	}
	switch tcp.EndpointState(ep.State()) {
	case tcp.StateFinWait1, tcp.StateClosing, tcp.StateLastAck:
	default:
		return false
	}
	st, ok := ep.Stats().(*tcp.Stats)
	return ok && st.SendErrors.Timeouts.Value() == 0
}

// close drops what is held: the stack is going.
func (r *finProbes) close() {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.held = nil
	r.mu.Unlock()
}
