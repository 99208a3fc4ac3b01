package node

import (
	"net/netip"
	"time"

	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/path"
	"ztnc/zerotier/peer"
)

// dispatchLocked runs the verb handler for an authenticated packet. It
// reports whether the packet counts as "received" for liveness and path
// learning (an OK nobody asked for does not), plus deferred work.
func (n *Node) dispatchLocked(pr *peer.Peer, local int, from netip.AddrPort, p packet.Packet, now time.Time) (bool, []func(), error) {
	switch p.Verb() {
	case packet.VerbNOP:
		return true, nil, nil
	case packet.VerbHello:
		// A HELLO armored with cipher 1/3 from a known peer: 1.14 handles it
		// like any HELLO. It is rare; treat as traffic.
		return true, nil, nil
	case packet.VerbOK:
		return n.handleOKLocked(pr, local, from, p, now)
	case packet.VerbError:
		e, err := message.ParseError(p)
		if err != nil {
			return false, nil, err
		}
		if e.InRe.Verb != packet.VerbHello && e.InRe.Verb != packet.VerbWhois && e.InRe.Verb != packet.VerbEcho {
			return true, n.vl2After(VL2Packet{From: pr.Identity, PacketID: p.ID(), Verb: packet.VerbError, Hops: p.Hops(),
				Payload: e.Payload, InRe: e.InRe, ErrorCode: e.Code}), nil
		}
		if e.Code == packet.ErrorIdentityCollision && n.topo.IsUpstream(pr.Identity.Address) {
			// Only an upstream is believed (1.14 posts a fatal event).
			n.log.Error("a root reports that our address collides with another identity", "root", pr.Identity.Address)
			if cb := n.cfg.OnIdentityCollision; cb != nil {
				root := pr.Identity.Address
				return true, []func(){func() { n.collisionOnce.Do(func() { cb(root) }) }}, nil
			}
		} else {
			n.log.Debug("ERROR received", "from", pr.Identity.Address, "inRe", e.InRe.Verb, "code", e.Code)
		}
		return true, nil, nil
	case packet.VerbWhois:
		return n.handleWhoisLocked(pr, local, from, p, now)
	case packet.VerbRendezvous:
		return n.handleRendezvousLocked(pr, p, now)
	case packet.VerbEcho:
		k := confirmKey{local, from}
		if now.Sub(n.echoGate[k]) < path.EchoReplyLimit {
			n.Counters.DropRateLimit.Add(1)
			return true, nil, nil
		}
		n.echoGate[k] = now
		n.sendDirectLocked(pr, local, from, packet.VerbOK, okPayload(packet.VerbEcho, p.ID(), p.Payload()), pr.Cipher(), now)
		return true, nil, nil
	case packet.VerbPushDirectPaths:
		return n.handlePushLocked(pr, p, now)
	case packet.VerbUserMessage:
		um, err := message.ParseUserMessage(p.Payload())
		if err != nil {
			return false, nil, err
		}
		n.Counters.UserMessages.Add(1)
		msg := UserMessage{From: pr.Identity.Address, Type: um.Type, Data: append([]byte(nil), um.Data...)}
		if cb := n.cfg.OnUserMessage; cb != nil {
			return true, []func(){func() {
				n.userMu.Lock()
				defer n.userMu.Unlock()
				cb(msg)
			}}, nil
		}
		return true, nil, nil
	}
	// Unknown verbs that authenticate count as traffic (1.14). (VL2 verbs
	// are handed up by decodeLocked before this.)
	return true, nil, nil
}

func (n *Node) handleOKLocked(pr *peer.Peer, local int, from netip.AddrPort, p packet.Packet, now time.Time) (bool, []func(), error) {
	inRe, body, err := message.ParseOK(p)
	if err != nil {
		return false, nil, err
	}
	if !n.expectedLocked(inRe.ID, now) {
		n.Counters.DropStale.Add(1)
		return false, nil, nil
	}
	switch inRe.Verb {
	case packet.VerbHello:
		o, err := message.ParseOKHello(body)
		if err != nil {
			return false, nil, err
		}
		if o.ProtocolVersion < packet.MinProtocolVersion {
			return false, nil, nil
		}
		// Learn the path first so the RTT lands on it.
		n.receivedLocked(pr, local, from, p.Hops(), packet.VerbOK, now)
		if p.Hops() == 0 {
			if pa := pr.FindPath(local, from); pa != nil {
				if rtt := now.UnixMilli() - int64(o.Timestamp); rtt >= 0 && rtt < 60_000 {
					pa.UpdateLatency(int(rtt))
				}
			}
			if o.HasFrom && o.From.IsValid() {
				n.iamLocked(pr, local, from, o.From, now)
			}
		}
		if n.topo.AcceptsWorldsFrom(pr.Identity.Address) {
			for _, w := range o.Worlds {
				if ok, err := n.topo.Offer(w); err != nil {
					n.log.Warn("saving world update", "err", err)
				} else if ok {
					n.log.Info("world updated", "id", w.ID, "timestamp", w.Timestamp)
					if err := n.syncUpstreamsLocked(now); err != nil {
						n.log.Warn("new upstreams", "err", err)
					}
				}
			}
		}
		pr.SetVersion(o.ProtocolVersion, o.Major, o.Minor, o.Revision)
		return false, nil, nil
	case packet.VerbWhois:
		if !n.topo.IsUpstream(pr.Identity.Address) {
			return true, nil, nil // 1.14 trusts WHOIS answers only from roots
		}
		ids, err := message.ParseOKWhois(body)
		if err != nil {
			return false, nil, err
		}
		id := ids[0]
		if id.Address == n.me.Address || id.Address.IsReserved() {
			return true, nil, nil
		}
		if cur := n.peers[id.Address]; cur == nil {
			np, err := peer.New(n.me, id, now)
			if err != nil {
				return true, nil, nil
			}
			n.peers[id.Address] = np
			n.log.Info("new peer from WHOIS", "addr", id.Address)
		}
		delete(n.whois, id.Address)
		return true, n.flushQueuesLocked(now), nil
	}
	return true, n.vl2After(VL2Packet{From: pr.Identity, PacketID: p.ID(), Verb: packet.VerbOK, Hops: p.Hops(), Payload: body, InRe: inRe}), nil
}

func (n *Node) handleWhoisLocked(pr *peer.Peer, local int, from netip.AddrPort, p packet.Packet, now time.Time) (bool, []func(), error) {
	root := n.AmRoot()
	if !root && now.Sub(pr.LastWhoisIn) < peer.InboundWhoisLimit {
		n.Counters.DropRateLimit.Add(1)
		return true, nil, nil
	}
	pr.LastWhoisIn = now
	addrs, err := message.ParseWhois(p.Payload())
	if err != nil {
		return false, nil, err
	}
	var body []byte
	for _, a := range addrs {
		switch {
		case a == n.me.Address:
			body, _ = message.AppendOKWhois(body, n.me.PublicOnly())
		case n.peers[a] != nil:
			body, _ = message.AppendOKWhois(body, n.peers[a].Identity)
		default:
			n.requestWhoisLocked(a, now) // ask our own upstream
		}
	}
	if len(body) > 0 {
		n.sendDirectLocked(pr, local, from, packet.VerbOK, okPayload(packet.VerbWhois, p.ID(), body), pr.Cipher(), now)
	}
	return true, nil, nil
}

func (n *Node) handleRendezvousLocked(pr *peer.Peer, p packet.Packet, now time.Time) (bool, []func(), error) {
	if !n.topo.IsUpstream(pr.Identity.Address) {
		return true, nil, nil
	}
	rv, err := message.ParseRendezvous(p.Payload())
	if err != nil {
		return false, nil, err
	}
	with := n.peers[rv.With]
	to := path.Unmap(rv.Addr)
	if with == nil || to.Port() == 0 || !n.pathAcceptable(rv.With, to) {
		return true, nil, nil
	}
	// 1.14 first sends a 4-byte junk datagram with IP TTL 2 to open NATs;
	// on a shared socket that would race other sends' TTL, so we go
	// straight to the contact, which opens the same mappings.
	n.log.Debug("RENDEZVOUS", "with", rv.With, "at", to)
	n.contactLocked(with, n.socketFor(to), to, now)
	return true, nil, nil
}

// contactLocked probes a possible path: ECHO if the peer is known to speak
// protocol 5+, else HELLO (Peer::attemptToContactAt).
func (n *Node) contactLocked(pr *peer.Peer, local int, to netip.AddrPort, now time.Time) {
	if pr.VersionKnown && pr.ProtocolVersion >= peer.EchoMinProtocol {
		n.sendDirectLocked(pr, local, to, packet.VerbEcho, nil, pr.Cipher(), now)
		return
	}
	n.sendHelloLocked(pr, local, to, now)
}

func (n *Node) handlePushLocked(pr *peer.Peer, p packet.Packet, now time.Time) (bool, []func(), error) {
	if !pr.AllowPushIn(now) {
		n.Counters.DropRateLimit.Add(1)
		return true, nil, nil
	}
	paths, err := message.ParsePushDirectPaths(p.Payload())
	if err != nil {
		return false, nil, err
	}
	perScope := map[[2]int]int{}
	for _, dp := range paths {
		to := path.Unmap(dp.Addr)
		if dp.Flags&message.PathFlagForget != 0 || !n.pathAcceptable(pr.Identity.Address, to) {
			continue
		}
		local := n.socketFor(to)
		if pa := pr.FindPath(local, to); pa != nil && pa.Alive(now) && dp.Flags&message.PathFlagClusterRedirect == 0 {
			continue
		}
		fam := 4
		if to.Addr().Is6() {
			fam = 6
		}
		k := [2]int{int(path.ScopeOf(to.Addr())), fam}
		if perScope[k] >= 8 {
			continue
		}
		perScope[k]++
		n.contactLocked(pr, local, to, now)
	}
	return true, nil, nil
}
