package node

import (
	"errors"
	"net/netip"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/path"
	"ztnc/zerotier/peer"
	"ztnc/zerotier/topology"
)

// HandleDatagram processes one received UDP payload from remote on local
// socket index local (Switch::onRemotePacket). It never panics on any input
// and counts every drop. b is only borrowed: it may be modified (relayed
// hop counts, decryption in place) and nothing keeps it after the call, so a
// reader can reuse its buffer. (Fragments are copied by the assembler; a
// whole packet is decrypted where it lies and copied once it is known to be
// other than a FRAME: see decodeLocked.)
func (n *Node) HandleDatagram(local int, from netip.AddrPort, b []byte) {
	n.Counters.RxDatagrams.Add(1)
	from = path.Unmap(from)
	switch packet.Classify(b) {
	case packet.KindBeacon:
		// Pre-1.0.4 LAN beacons: 1.14 answers only known peers with a NOP;
		// nothing depends on it, so they are ignored.
		return
	case packet.KindIgnore:
		n.Counters.DropMalformed.Add(1)
		return
	case packet.KindFragment:
		f, err := packet.ParseFragment(b)
		if err != nil {
			n.Counters.DropMalformed.Add(1)
			return
		}
		if f.Dest() != n.me.Address {
			n.relayFragment(f)
			return
		}
		if whole, ok := n.asm.AddFragment(f); ok {
			n.handleWhole(local, from, whole)
		}
	case packet.KindHead:
		p, err := packet.Parse(b)
		if err != nil {
			n.Counters.DropMalformed.Add(1)
			return
		}
		if p.Source() == n.me.Address {
			n.Counters.DropSelf.Add(1)
			return
		}
		if p.Dest() != n.me.Address {
			n.relayHead(local, from, p)
			return
		}
		if p.Fragmented() {
			whole, ok := n.asm.AddHead(p)
			if !ok {
				return
			}
			n.handleWhole(local, from, whole)
			return
		}
		n.handlePacket(local, from, p, false)
	}
}

// handleWhole re-checks a reassembled packet's bounds before decoding it.
func (n *Node) handleWhole(local int, from netip.AddrPort, b []byte) {
	p, err := packet.Parse(b)
	if err != nil {
		n.Counters.DropMalformed.Add(1)
		return
	}
	if p.Source() == n.me.Address {
		n.Counters.DropSelf.Add(1)
		return
	}
	n.handlePacket(local, from, p, true)
}

// handlePacket is IncomingPacket::tryDecode for a whole packet addressed to
// us; owned says p is the node's, else it is the caller's to reuse.
func (n *Node) handlePacket(local int, from netip.AddrPort, p packet.Packet, owned bool) {
	switch {
	case p.Cipher() == packet.CipherNoneTrustedPath && !n.inboundTrusted(from, p.TrustedPathID()):
		// Plaintext claiming a trusted path from outside the configured
		// networks (or with another ID) is forged.
		n.Counters.DropUntrusted.Add(1)
		return
	case p.Cipher() == packet.CipherPoly1305None && p.Verb() == packet.VerbHello:
		n.handleHello(local, from, own(p, owned))
		return
	}
	now := time.Now()
	n.mu.Lock()
	pr := n.peers[p.Source()]
	if pr == nil {
		n.parkLocked(local, from, own(p, owned), now)
		n.requestWhoisLocked(p.Source(), now)
		n.mu.Unlock()
		return
	}
	after, up, toVL2 := n.decodeLocked(pr, local, from, p, owned, now)
	n.mu.Unlock()
	for _, f := range after {
		f()
	}
	if toVL2 {
		n.cfg.VL2(up)
	}
}

// own returns p, copied unless owned.
func own(p packet.Packet, owned bool) packet.Packet {
	if owned {
		return p
	}
	return append(packet.Packet(nil), p...)
}

// decodeLocked authenticates, decompresses, de-duplicates and dispatches a
// packet from a known peer (owned as for handlePacket); it returns work to
// run after unlocking, and a packet for VL2 (when toVL2) apart from it:
// passed by value, a frame's hand-off allocates nothing.
func (n *Node) decodeLocked(pr *peer.Peer, local int, from netip.AddrPort, p packet.Packet, owned bool, now time.Time) (after []func(), up VL2Packet, toVL2 bool) {
	wireID := p.ID()
	if p.Cipher() == packet.CipherNoneTrustedPath {
		// Checked again: a parked packet may be decoded after the
		// configuration changed.
		if !n.inboundTrusted(from, p.TrustedPathID()) {
			n.Counters.DropUntrusted.Add(1)
			return
		}
		n.Counters.RxTrusted.Add(1)
	} else if err := p.Dearmor(pr.Keys); err != nil {
		n.Counters.DropAuth.Add(1)
		n.log.Debug("dropped packet failing authentication", "from", pr.Identity.Address, "addr", from, "err", err)
		return
	}
	p, err := p.Decompress()
	if err != nil {
		n.Counters.DropMalformed.Add(1)
		return
	}
	if !pr.FreshID(wireID) {
		n.Counters.DropReplay.Add(1)
		n.log.Debug("dropped replayed packet", "from", pr.Identity.Address, "id", wireID)
		return
	}
	if p.Verb() != packet.VerbFrame {
		// Handlers may keep what they are given; only a FRAME goes up
		// borrowed (VL2Packet.Payload), saving a copy per frame.
		p = own(p, owned)
	}
	if isVL2Verb(p.Verb()) {
		n.Counters.RxPackets.Add(1)
		n.receivedLocked(pr, local, from, p.Hops(), p.Verb(), now)
		if n.cfg.VL2 == nil {
			return
		}
		return nil, VL2Packet{From: pr.Identity, PacketID: p.ID(), Verb: p.Verb(), Hops: p.Hops(), Payload: p.Payload(), Received: now}, true
	}
	received, after, err := n.dispatchLocked(pr, local, from, p, now)
	if err != nil {
		if errors.Is(err, message.ErrMalformed) {
			n.Counters.DropMalformed.Add(1)
		}
		n.log.Debug("dropped packet", "from", pr.Identity.Address, "verb", p.Verb(), "err", err)
		return nil, VL2Packet{}, false
	}
	n.Counters.RxPackets.Add(1)
	if received {
		n.receivedLocked(pr, local, from, p.Hops(), p.Verb(), now)
	}
	return after, VL2Packet{}, false
}

// handleHello authenticates a HELLO, learning the sender's identity if new
// (IncomingPacket::_doHELLO), and answers OK(HELLO) over the arrival path.
func (n *Node) handleHello(local int, from netip.AddrPort, p packet.Packet) {
	now := time.Now()
	h, err := message.ParseHello(p, nil)
	if err != nil {
		n.Counters.DropMalformed.Add(1)
		return
	}
	if h.ProtocolVersion < packet.MinProtocolVersion {
		n.Counters.DropMalformed.Add(1)
		return
	}
	n.mu.Lock()
	pr := n.peers[h.Identity.Address]
	n.mu.Unlock()
	if pr != nil {
		if !pr.Identity.Equal(h.Identity) {
			n.answerCollision(local, from, p, h, now)
			return
		}
		if err := p.Dearmor(pr.Keys); err != nil {
			n.Counters.DropAuth.Add(1)
			return
		}
	} else {
		if !n.helloGateAllow(from, now) {
			n.Counters.DropRateLimit.Add(1)
			return
		}
		// Key agreement and the memory-hard check run unlocked: they are the
		// expensive part and the gate above bounds how often they run.
		np, err := peer.New(n.me, h.Identity, now)
		if err != nil {
			n.Counters.DropIdentity.Add(1)
			return
		}
		if err := p.Dearmor(np.Keys); err != nil {
			n.Counters.DropAuth.Add(1)
			return
		}
		if err := h.Identity.LocallyValidate(); err != nil {
			n.Counters.DropIdentity.Add(1)
			n.log.Info("HELLO with an invalid identity", "addr", h.Identity.Address, "from", from, "err", err)
			return
		}
		n.mu.Lock()
		if cur := n.peers[h.Identity.Address]; cur != nil {
			np = cur // another goroutine won the race; same identity was checked by it
		} else {
			n.peers[h.Identity.Address] = np
			n.log.Info("new peer", "addr", h.Identity.Address, "from", from, "hops", p.Hops())
		}
		n.mu.Unlock()
		pr = np
		if !pr.Identity.Equal(h.Identity) {
			n.Counters.DropIdentity.Add(1)
			return
		}
	}
	h, err = message.ParseHello(p, pr.Keys) // now also the encrypted moon list
	if err != nil {
		n.Counters.DropMalformed.Add(1)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !pr.FreshID(p.ID()) {
		n.Counters.DropReplay.Add(1)
		return
	}
	n.Counters.RxPackets.Add(1)
	if p.Hops() == 0 && h.HasDestination && h.Destination.IsValid() {
		n.iamLocked(pr, local, from, h.Destination, now)
	}
	moons := map[uint64]uint64{}
	for _, m := range h.Moons {
		moons[m.ID] = m.Timestamp
	}
	var worlds = n.topo.Updates(h.PlanetID, h.PlanetTimestamp, moons)
	if !h.HasPlanet {
		worlds = nil
	}
	ok := &message.OKHello{
		Timestamp: h.Timestamp, ProtocolVersion: packet.ProtocolVersion,
		Major: message.VersionMajor, Minor: message.VersionMinor, Revision: message.VersionRevision,
		HasFrom: true, From: from, Worlds: worlds,
	}
	if h.ProtocolVersion < 5 {
		ok.From = netip.AddrPortFrom(from.Addr(), 0)
	}
	body, err := ok.AppendBody(nil)
	if err == nil {
		// Cipher chosen before recording the version: the first OK to a new
		// peer is Salsa20/12, as in 1.14.
		n.sendDirectLocked(pr, local, from, packet.VerbOK, okPayload(packet.VerbHello, p.ID(), body), pr.Cipher(), now)
	}
	pr.SetVersion(h.ProtocolVersion, h.Major, h.Minor, h.Revision)
	n.receivedLocked(pr, local, from, p.Hops(), packet.VerbHello, now)
}

func okPayload(inReVerb packet.Verb, inReID uint64, body []byte) []byte {
	b := make([]byte, 0, 9+len(body))
	b = append(b, byte(inReVerb))
	b = append(b, byte(inReID>>56), byte(inReID>>48), byte(inReID>>40), byte(inReID>>32),
		byte(inReID>>24), byte(inReID>>16), byte(inReID>>8), byte(inReID))
	return append(b, body...)
}

// answerCollision handles a HELLO from an identity other than the one we
// know for its address (IncomingPacket::_doHELLO): under the identity
// verification rate limit, agree a key with the new identity and, if the
// HELLO authenticates under it, reply ERROR(IDENTITY_COLLISION) so that
// node can make a new identity. Like 1.14 the new identity's proof of work
// is not checked here: the reply only tells its holder something.
//
// Difference: 1.14 armors the reply with the *known* peer's AES keys when
// that peer speaks protocol 12+, which the colliding node cannot derive; we
// use Salsa20/12+Poly1305 under the new identity's key, so it can read it.
func (n *Node) answerCollision(local int, from netip.AddrPort, p packet.Packet, h *message.Hello, now time.Time) {
	n.Counters.DropIdentity.Add(1)
	if !n.helloGateAllow(from, now) {
		n.Counters.DropRateLimit.Add(1)
		return
	}
	np, err := peer.New(n.me, h.Identity, now)
	if err != nil {
		return
	}
	if err := p.Dearmor(np.Keys); err != nil {
		n.Counters.DropAuth.Add(1)
		return
	}
	n.log.Warn("HELLO from an identity colliding with a known one; answering IDENTITY_COLLISION",
		"addr", h.Identity.Address, "from", from)
	e := message.Error{InRe: message.InRe{Verb: packet.VerbHello, ID: p.ID()}, Code: packet.ErrorIdentityCollision}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.Counters.TxCollision.Add(1)
	n.sendDirectLocked(np, local, from, packet.VerbError, e.Append(nil), packet.CipherPoly1305Salsa2012, now)
}

// helloGateAllow is the new-identity HELLO rate limit per source bucket
// (the IPv4 /24 or the first 6 bytes of an IPv6 address).
func (n *Node) helloGateAllow(from netip.AddrPort, now time.Time) bool {
	if n.cfg.HelloRateLimit < 0 {
		return true
	}
	var key uint64
	a := from.Addr()
	if a.Is4() {
		b := a.As4()
		key = 4<<56 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	} else {
		b := a.As16()
		key = 6<<56 | uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if last, ok := n.helloGate[key]; ok && now.Sub(last) < n.cfg.HelloRateLimit {
		return false
	}
	n.helloGate[key] = now
	return true
}

// receivedLocked is Peer::received: liveness, then path learning for
// packets that came directly (hops 0).
func (n *Node) receivedLocked(pr *peer.Peer, local int, from netip.AddrPort, hops int, verb packet.Verb, now time.Time) {
	pr.LastReceive = now
	if n.topo.IsUpstream(pr.Identity.Address) {
		n.lastUpstreamRx = now
	}
	if hops != 0 {
		return
	}
	if pa := pr.FindPath(local, from); pa != nil {
		pa.LastReceive = now
		return
	}
	if !n.pathAcceptable(pr.Identity.Address, from) || pr.BlocksFlap(local, from, now) {
		return
	}
	if verb == packet.VerbOK {
		pa := path.New(local, n.localPort(local), from)
		pa.LastReceive = now
		pa.LastSend = n.confirmAt[confirmKey{local, from}] // our confirming HELLO, if any
		pr.LearnPath(pa, now)
		n.log.Debug("learned path", "peer", pr.Identity.Address, "addr", from)
		return
	}
	// Any other verb over a new path: confirm it with a HELLO; the path is
	// learned when the OK(HELLO) comes back over it.
	k := confirmKey{local, from}
	if now.Sub(n.confirmAt[k]) < path.ConfirmInterval {
		return
	}
	n.confirmAt[k] = now
	n.sendHelloLocked(pr, local, from, now)
}

// pathAcceptable is 7.9's test: a valid scope, and for a root with stable
// endpoints one of their IPs.
func (n *Node) pathAcceptable(who address.Address, ap netip.AddrPort) bool {
	if !path.Acceptable(ap, n.cfg.AllowLoopback) {
		return false
	}
	eps := n.topo.RootEndpoints(who)
	if len(eps) == 0 {
		return true
	}
	for _, ep := range eps {
		if ep.Addr().Unmap() == ap.Addr() {
			return true
		}
	}
	return false
}

func (n *Node) localPort(local int) uint16 {
	if local >= 0 && local < len(n.localPorts) {
		return n.localPorts[local]
	}
	return 0
}

// parkLocked holds a packet from an unknown sender until WHOIS answers (32
// entries, oldest dropped; each kept for 5 s).
func (n *Node) parkLocked(local int, from netip.AddrPort, p packet.Packet, now time.Time) {
	if len(n.rxQueue) >= QueueSize {
		n.rxQueue = n.rxQueue[1:]
		n.Counters.DropUnknown.Add(1)
	}
	n.rxQueue = append(n.rxQueue, rxItem{local, from, p, now})
}

// relayHead forwards a packet head not addressed to us (Switch 7.6).
func (n *Node) relayHead(local int, from netip.AddrPort, p packet.Packet) {
	if !n.AmRoot() {
		// 1.14 relays for non-roots only with VL2 trust; we have no VL2.
		n.Counters.DropNoRelay.Add(1)
		return
	}
	if !p.IncrementHops() {
		n.Counters.DropHops.Add(1)
		return
	}
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	src, dst := n.peers[p.Source()], n.peers[p.Dest()]
	if dst != nil {
		if pa := dst.BestPath(now); pa != nil {
			n.writeLocked(pa.Local, pa.Remote, p)
			pa.LastSend = now
			n.Counters.Relayed.Add(1)
			if src != nil {
				key := [2]address.Address{p.Source(), p.Dest()}
				if now.Sub(n.lastUnite[key]) >= peer.MinUniteInterval {
					n.lastUnite[key] = now
					n.introduceLocked(dst, src, now)
				}
			}
			return
		}
	}
	up := n.bestUpstreamLocked(now, p.Source())
	if up == nil {
		n.Counters.DropNoRelay.Add(1)
		return
	}
	pa := up.BestPath(now)
	n.writeLocked(pa.Local, pa.Remote, p)
	pa.LastSend = now
	n.Counters.Relayed.Add(1)
	if src != nil {
		n.introduceLocked(up, src, now)
	}
}

// relayFragment forwards a fragment not addressed to us, without
// introductions (as 1.14).
func (n *Node) relayFragment(f packet.Fragment) {
	if !n.AmRoot() {
		n.Counters.DropNoRelay.Add(1)
		return
	}
	if !f.IncrementHops() {
		n.Counters.DropHops.Add(1)
		return
	}
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if dst := n.peers[f.Dest()]; dst != nil {
		if pa := dst.BestPath(now); pa != nil {
			n.writeLocked(pa.Local, pa.Remote, f)
			pa.LastSend = now
			n.Counters.Relayed.Add(1)
			return
		}
	}
	if up := n.bestUpstreamLocked(now, 0); up != nil {
		pa := up.BestPath(now)
		n.writeLocked(pa.Local, pa.Remote, f)
		pa.LastSend = now
		n.Counters.Relayed.Add(1)
		return
	}
	n.Counters.DropNoRelay.Add(1)
}

// introduceLocked sends RENDEZVOUS to x naming y and to y naming x, over the
// first IP scope (most private first; IPv6 before IPv4) where both have a
// path (Peer::introduce).
func (n *Node) introduceLocked(x, y *peer.Peer, now time.Time) {
	for s := path.ScopePrivate; s >= path.ScopeNone; s-- {
		for _, v6 := range []bool{true, false} {
			px, py := bestIn(x, s, v6, now), bestIn(y, s, v6, now)
			if px == nil || py == nil {
				continue
			}
			rx := &message.Rendezvous{With: y.Identity.Address, Addr: py.Remote}
			ry := &message.Rendezvous{With: x.Identity.Address, Addr: px.Remote}
			n.sendDirectLocked(x, px.Local, px.Remote, packet.VerbRendezvous, rx.Append(nil), x.Cipher(), now)
			n.sendDirectLocked(y, py.Local, py.Remote, packet.VerbRendezvous, ry.Append(nil), y.Cipher(), now)
			n.log.Debug("introduced", "a", x.Identity.Address, "b", y.Identity.Address)
			return
		}
	}
}

func bestIn(p *peer.Peer, s path.Scope, v6 bool, now time.Time) *path.Path {
	var best *path.Path
	for _, pa := range p.Paths {
		a := pa.Remote.Addr()
		if pa.Expired(now) || path.ScopeOf(a) != s || a.Is6() != v6 {
			continue
		}
		if best == nil || pa.Quality(now) < best.Quality(now) {
			best = pa
		}
	}
	return best
}

// bestUpstreamLocked is Topology::getUpstreamPeer over upstreams that have a
// path: minimize latency x (1 + ms since last receive / 61000), silent for
// 500 s or more scoring worst. exclude is skipped (0: none).
func (n *Node) bestUpstreamLocked(now time.Time, exclude address.Address) *peer.Peer {
	var best *peer.Peer
	var bestScore int64
	for _, u := range n.topo.Upstreams(n.me.Address) {
		a := u.Identity.Address
		if a == exclude {
			continue
		}
		pr := n.peers[a]
		if pr == nil || pr.BestPath(now) == nil {
			continue
		}
		lat := int64(pr.Latency(now))
		if lat <= 0 {
			lat = 0xffff
		}
		since := now.Sub(pr.LastReceive).Milliseconds()
		score := lat * (1 + since/61000)
		if since >= peer.ActivityTimeout.Milliseconds() {
			score = 1 << 62
		}
		if best == nil || score < bestScore {
			best, bestScore = pr, score
		}
	}
	return best
}

// roleOf is the API role of a peer.
func (n *Node) roleOf(a address.Address) topology.Role { return n.topo.Role(a) }
