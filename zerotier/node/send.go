package node

import (
	"errors"
	"fmt"
	"golang.org/x/net/ipv4"
	"net/netip"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/peer"
)

// ErrClosed is returned by sends on a closed node.
var ErrClosed = errors.New("node: closed")

// SendUserMessage sends a USER_MESSAGE to dest (type IDs up to 65535 are
// reserved for ZeroTier). If dest is unknown it is queued for 5 s behind a
// WHOIS; if no direct path exists it goes through the best root.
func (n *Node) SendUserMessage(dest address.Address, typ uint64, data []byte) error {
	um := &message.UserMessage{Type: typ, Data: data}
	return n.Send(dest, packet.VerbUserMessage, um.Append(nil))
}

// Send sends a verb with payload to dest by the normal send path
// (Switch::_trySend).
func (n *Node) Send(dest address.Address, verb packet.Verb, payload []byte) error {
	if dest == n.me.Address || dest.IsReserved() {
		return fmt.Errorf("node: cannot send to %s", dest)
	}
	if len(payload) > packet.MaxPayloadSize {
		return fmt.Errorf("node: payload of %d bytes exceeds %d", len(payload), packet.MaxPayloadSize)
	}
	select {
	case <-n.done:
		return ErrClosed
	default:
	}
	n.sendOne(Outgoing{dest, verb, payload})
	return nil
}

// Echo sends an ECHO to dest (the reply's RTT updates path latency only
// through OK(HELLO); this is a liveness probe).
func (n *Node) Echo(dest address.Address, payload []byte) error {
	return n.Send(dest, packet.VerbEcho, payload)
}

// PushDirectPaths tells dest our bound and externally reported addresses.
// 1.14 does this only after VL2 proves shared network membership; VL1-only
// callers decide for themselves.
func (n *Node) PushDirectPaths(dest address.Address) error {
	n.mu.Lock()
	var dps []message.DirectPath
	for _, ap := range n.self.Surface() {
		dps = append(dps, message.DirectPath{Addr: ap})
	}
	n.mu.Unlock()
	for _, ap := range n.LocalAddrs() {
		if ap.Addr().IsValid() && !ap.Addr().IsUnspecified() {
			dps = append(dps, message.DirectPath{Addr: ap})
		}
	}
	if len(dps) == 0 {
		return fmt.Errorf("node: no addresses to push")
	}
	return n.Send(dest, packet.VerbPushDirectPaths, message.AppendPushDirectPaths(nil, dps))
}

func (n *Node) queueTxLocked(dest address.Address, verb packet.Verb, payload []byte, now time.Time) {
	if len(n.txQueue) >= QueueSize {
		n.txQueue = n.txQueue[1:]
		n.Counters.DropUnknown.Add(1)
	}
	n.txQueue = append(n.txQueue, txItem{dest, verb, append([]byte(nil), payload...), now})
}

// trySendLocked sends over the peer's best non-expired path, else through
// the best upstream (still encrypted end to end); false if neither exists.
func (n *Node) trySendLocked(pr *peer.Peer, verb packet.Verb, payload []byte, now time.Time) bool {
	if pa := pr.BestPath(now); pa != nil {
		n.sendDirectLocked(pr, pa.Local, pa.Remote, verb, payload, pr.Cipher(), now)
		return true
	}
	if up := n.bestUpstreamLocked(now, pr.Identity.Address); up != nil {
		pa := up.BestPath(now)
		n.sendDirectLocked(pr, pa.Local, pa.Remote, verb, payload, pr.Cipher(), now)
		pa.LastSend = now
		return true
	}
	return false
}

// sendDirectLocked builds, compresses, armors and fragments a packet for pr
// and writes it to a specific physical address (which may be a relay).
func (n *Node) sendDirectLocked(pr *peer.Peer, local int, to netip.AddrPort, verb packet.Verb, payload []byte, c packet.Cipher, now time.Time) {
	id, err := packet.RandomID()
	if err != nil {
		n.log.Error("send", "err", err)
		return
	}
	p := packet.New(id, pr.Identity.Address, n.me.Address, verb, payload)
	n.armorAndWriteLocked(pr, local, to, p, c, now)
}

func (n *Node) armorAndWriteLocked(pr *peer.Peer, local int, to netip.AddrPort, p packet.Packet, c packet.Cipher, now time.Time) {
	expect := expectsReply(p.Verb()) // read before armor encrypts the verb
	// 1.14 never compresses HELLO, nor unicast FRAME/EXT_FRAME (since 1.4.8).
	if v := p.Verb(); v != packet.VerbHello && v != packet.VerbFrame && v != packet.VerbExtFrame {
		p = p.Compress()
	}
	// Switch::_sendViaSpecificPath: the destination's physical network
	// decides the MTU and whether the packet goes as trusted-path plaintext.
	// HELLO never does (1.14 armors and sends it directly).
	mtu, trusted := n.outboundPathInfo(to)
	p.SetFragmented(packet.NeedsFragmenting(len(p), mtu))
	if trusted != 0 && p.Verb() != packet.VerbHello {
		p.ArmorTrustedPath(trusted)
		n.Counters.TxTrusted.Add(1)
	} else if err := p.Armor(pr.Keys, c); err != nil {
		n.log.Error("armor", "err", err)
		return
	}
	if expect {
		n.expectLocked(p.ID(), now)
	}
	if len(p) <= mtu {
		n.writePieceLocked(local, to, p, false) // what Split would return, without its slice
	} else {
		dgrams, err := packet.Split(p, mtu)
		if err != nil {
			n.log.Error("fragment", "err", err)
			return
		}
		for k, d := range dgrams {
			n.writePieceLocked(local, to, d, k < len(dgrams)-1)
		}
	}
	if pa := pr.FindPath(local, to); pa != nil {
		pa.LastSend = now
	}
}

// sendHelloLocked sends a full HELLO to pr at a physical address (a relay
// address is fine: the destination field then names the relay, as 1.14's
// HELLO via an upstream does).
func (n *Node) sendHelloLocked(pr *peer.Peer, local int, to netip.AddrPort, now time.Time) {
	id, err := packet.RandomID()
	if err != nil {
		n.log.Error("HELLO", "err", err)
		return
	}
	h := message.NewHello(n.me, uint64(now.UnixMilli()), to, n.topo.Planet())
	for _, m := range n.topo.Moons() {
		h.Moons = append(h.Moons, message.MoonRef{ID: m.ID, Timestamp: m.Timestamp})
	}
	for _, id := range n.topo.WantedMoons() { // orbited through a seed, not yet received
		h.Moons = append(h.Moons, message.MoonRef{ID: id})
	}
	p, err := h.Packet(id, pr.Identity.Address, pr.Keys)
	if err != nil {
		n.log.Error("HELLO", "err", err)
		return
	}
	n.expectLocked(p.ID(), now)
	n.writeLocked(local, to, p)
	if pa := pr.FindPath(local, to); pa != nil {
		pa.LastSend = now
	}
}

// writeLocked writes one datagram. (Held under n.mu only so that ordering
// per destination matches send order; UDP writes do not block for long.
// wmu orders it after the writes of a batch armored before it: sendbatch.go.)
func (n *Node) writeLocked(local int, to netip.AddrPort, b []byte) {
	n.writePieceLocked(local, to, b, false)
}

// writePieceLocked is writeLocked for one datagram of a split packet; more
// says that a later piece of the same packet follows, which lets a batch
// send it ahead of other packets' last pieces (sendbatch.go).
func (n *Node) writePieceLocked(local int, to netip.AddrPort, b []byte, more bool) {
	if local < 0 || local >= len(n.conns) {
		return
	}
	if to.Addr().Is4() && path0(n.conns[local]).Addr().Is6() {
		to = netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port()) // dual-stack socket
	}
	n.pending = append(n.pending, datagram{local, to, b, more})
	if n.batching {
		return // the Send or SendBatch writes it (flush.go)
	}
	// Written at once: b may be the reader's buffer (a relayed packet),
	// reused by its next read. Datagrams left pending go first, in order.
	n.wmu.Lock()
	n.writeBatch(n.pending)
	n.wmu.Unlock()
	clear(n.pending)
	n.pending = n.pending[:0]
	n.flushDue = false
}

// writeOne writes one datagram; called with wmu held.
func (n *Node) writeOne(local int, to netip.AddrPort, b []byte) {
	// Through the socket's batch writer, whose system call is raw
	// (batchwrite.go), not WriteToUDPAddrPort's.
	w := n.writers[local]
	w.one[0] = b
	msgs := append(w.msgs[:0], ipv4.Message{Buffers: w.one[:], Addr: w.addr(0, to)})
	_, err := w.write(msgs, 0)
	msgs[0], w.one[0] = ipv4.Message{}, nil // drop references to b
	w.msgs = msgs[:0]
	if err != nil {
		n.log.Debug("UDP write", "to", to, "err", err)
		return
	}
	n.Counters.TxDatagrams.Add(1)
}

// socketFor picks the local socket for a remote address: the first whose
// family can reach it (a dual-stack socket reaches both).
func (n *Node) socketFor(to netip.AddrPort) int {
	for i, c := range n.conns {
		la := path0(c).Addr()
		if la.Is6() && !la.Is4In6() && (la.IsUnspecified() || to.Addr().Is6()) {
			return i
		}
		if la.Is4() && to.Addr().Is4() {
			return i
		}
	}
	return 0
}

// expectsReply lists the verbs whose OK we act on (1.14 records only
// requests in expectReplyTo); recording every FRAME made the table full
// and each send scan it.
func expectsReply(v packet.Verb) bool {
	switch v {
	case packet.VerbHello, packet.VerbWhois, packet.VerbEcho, packet.VerbNetworkConfigRequest, packet.VerbNetworkConfig,
		packet.VerbMulticastGather, packet.VerbMulticastFrame, packet.VerbExtFrame:
		return true
	}
	return false
}

// expectLocked registers a sent packet ID so its OK is accepted.
func (n *Node) expectLocked(id uint64, now time.Time) {
	if len(n.expecting) >= maxExpecting {
		for k, t := range n.expecting {
			if now.Sub(t) > expectTTL/8 {
				delete(n.expecting, k)
			}
		}
		if len(n.expecting) >= maxExpecting/2 {
			n.expecting = map[uint64]time.Time{} // all recent: start over rather than scan on every send
		}
	}
	n.expecting[id] = now
}

func (n *Node) expectedLocked(id uint64, now time.Time) bool {
	t, ok := n.expecting[id]
	return ok && now.Sub(t) < expectTTL
}

// requestWhoisLocked asks the best upstream for addr's identity, at most
// once per 500 ms per address (Switch::requestWhois).
func (n *Node) requestWhoisLocked(addr address.Address, now time.Time) {
	if addr == n.me.Address || addr.IsReserved() {
		return
	}
	if last, ok := n.whois[addr]; ok && now.Sub(last) < WhoisRetryDelay {
		return
	}
	if n.loadCachedPeerLocked(addr, now) {
		return // known again from peers.d; queued packets go on the next tick
	}
	up := n.bestUpstreamLocked(now, 0) // a root may be asked about itself (keeps its path warm)
	if up == nil {
		return
	}
	n.whois[addr] = now
	pa := up.BestPath(now)
	n.sendDirectLocked(up, pa.Local, pa.Remote, packet.VerbWhois, message.AppendWhois(nil, addr), up.Cipher(), now)
}

// flushQueuesLocked retries queued sends and parked receives whose peer is
// now known; it returns deferred work from the parked packets' handlers.
func (n *Node) flushQueuesLocked(now time.Time) []func() {
	var after []func()
	keptTx := n.txQueue[:0]
	for _, it := range n.txQueue {
		if pr := n.peers[it.dest]; pr != nil && n.trySendLocked(pr, it.verb, it.payload, now) {
			continue
		}
		keptTx = append(keptTx, it)
	}
	n.txQueue = keptTx
	var ready []rxItem
	keptRx := n.rxQueue[:0]
	for _, it := range n.rxQueue {
		if n.peers[it.p.Source()] != nil {
			ready = append(ready, it)
		} else {
			keptRx = append(keptRx, it)
		}
	}
	n.rxQueue = keptRx
	for _, it := range ready {
		a, up, toVL2 := n.decodeLocked(n.peers[it.p.Source()], it.local, it.from, it.p, true, now)
		after = append(after, a...)
		if toVL2 {
			after = append(after, n.vl2After(up)...)
		}
	}
	return after
}
