package node

import (
	mathrand "math/rand/v2"
	"time"

	"ztnc/zerotier/packet"
	"ztnc/zerotier/path"
	"ztnc/zerotier/peer"
	"ztnc/zerotier/peercache"
)

// tick runs the Switch timers (WHOIS retries, queue expiry) and, when due,
// the ping check and housekeeping.
func (n *Node) tick(now time.Time) {
	n.mu.Lock()
	after := n.flushQueuesLocked(now)
	n.expireQueuesLocked(now)
	if now.Sub(n.lastPing) >= n.cfg.PingInterval {
		n.lastPing = now
		n.pingCheckLocked(now)
	}
	if now.Sub(n.lastHousekeep) >= HousekeepingPeriod {
		n.lastHousekeep = now
		after = append(after, n.housekeepLocked(now)...)
	}
	n.mu.Unlock()
	for _, f := range after {
		f()
	}
}

func (n *Node) expireQueuesLocked(now time.Time) {
	keptTx := n.txQueue[:0]
	for _, it := range n.txQueue {
		if now.Sub(it.at) < QueueTimeout {
			keptTx = append(keptTx, it)
			n.requestWhoisLocked(it.dest, now)
		} else {
			n.Counters.DropUnknown.Add(1)
		}
	}
	n.txQueue = keptTx
	keptRx := n.rxQueue[:0]
	for _, it := range n.rxQueue {
		if now.Sub(it.at) < QueueTimeout {
			keptRx = append(keptRx, it)
			n.requestWhoisLocked(it.p.Source(), now)
		} else {
			n.Counters.DropUnknown.Add(1)
		}
	}
	n.rxQueue = keptRx
}

// pingCheckLocked is Node::processBackgroundTasks' ping check (VL1.md 7.2):
// roots get full HELLOs at their stable endpoints (every check while they
// have no path, else every 224 s) and WHOIS traffic in between; other peers
// we have heard from within 500 s get keepalives. (1.14 keeps alive only
// peers active in VL2; with VL1 traffic alone it leaves probing to the other
// side, so we probe for both.)
func (n *Node) pingCheckLocked(now time.Time) {
	ups := n.topo.Upstreams(n.me.Address)
	isUp := map[any]bool{}
	for _, u := range ups {
		isUp[u.Identity.Address] = true
		pr := n.peers[u.Identity.Address]
		if pr == nil {
			continue
		}
		scale := time.Duration(peer.UpstreamHelloFactor)
		if len(pr.Paths) == 0 {
			scale = 0
		}
		if now.Sub(pr.LastFullHello) <= path.HeartbeatPeriod*scale {
			n.requestWhoisLocked(u.Identity.Address, now)
			continue
		}
		sent4, sent6 := n.keepaliveLocked(pr, now)
		pr.LastFullHello = now
		sent := sent4 || sent6
		for _, v6 := range []bool{false, true} {
			if (v6 && sent6) || (!v6 && sent4) {
				continue
			}
			// From a random one on, as 1.14 (prng()): a root with several
			// addresses is reached through whichever works from here.
			eps := u.StableEndpoints
			start := 0
			if len(eps) > 1 {
				start = mathrand.IntN(len(eps))
			}
			for k := range eps {
				ep := path.Unmap(eps[(start+k)%len(eps)])
				if ep.Addr().Is6() != v6 {
					continue
				}
				n.sendHelloLocked(pr, n.socketFor(ep), ep, now)
				sent = true
				break
			}
		}
		if !sent {
			if up := n.bestUpstreamLocked(now, u.Identity.Address); up != nil {
				pa := up.BestPath(now)
				n.sendHelloLocked(pr, pa.Local, pa.Remote, now)
			}
		}
	}
	// Pending moon seeds are contacted like leaves in 1.14's "always
	// contact" set: found by WHOIS, then HELLO (which lists the wanted
	// moon) at least every 28 s, relayed through a root while there is no
	// direct path.
	for _, s := range n.topo.Seeds() {
		if isUp[s.Root] {
			continue
		}
		isUp[s.Root] = true
		pr := n.peers[s.Root]
		if pr == nil {
			n.requestWhoisLocked(s.Root, now)
			continue
		}
		if now.Sub(pr.LastFullHello) <= path.HeartbeatPeriod*2 {
			continue
		}
		sent4, sent6 := n.keepaliveLocked(pr, now)
		pr.LastFullHello = now
		if !sent4 && !sent6 {
			if up := n.bestUpstreamLocked(now, s.Root); up != nil {
				pa := up.BestPath(now)
				n.sendHelloLocked(pr, pa.Local, pa.Remote, now)
			}
		}
	}
	for a, pr := range n.peers {
		if isUp[a] || now.Sub(pr.LastReceive) >= peer.ActivityTimeout {
			continue
		}
		n.keepaliveLocked(pr, now)
	}
}

// keepaliveLocked is Peer::doPingAndKeepalive: a full HELLO on every path
// once a minute, else an ECHO (HELLO for peers older than protocol 5) on
// paths idle for 14 s; expired paths are deleted.
func (n *Node) keepaliveLocked(pr *peer.Peer, now time.Time) (sent4, sent6 bool) {
	full := now.Sub(pr.LastFullHello) >= peer.PingPeriod
	if full {
		pr.LastFullHello = now
	}
	pr.ExpirePaths(now)
	for _, pa := range pr.Paths {
		switch {
		case full:
			n.sendHelloLocked(pr, pa.Local, pa.Remote, now)
		case pa.NeedsHeartbeat(now):
			if pr.VersionKnown && pr.ProtocolVersion >= peer.EchoMinProtocol {
				n.sendDirectLocked(pr, pa.Local, pa.Remote, packet.VerbEcho, nil, pr.Cipher(), now)
			} else {
				n.sendHelloLocked(pr, pa.Local, pa.Remote, now)
			}
		default:
			continue
		}
		if pa.Remote.Addr().Is6() {
			sent6 = true
		} else {
			sent4 = true
		}
	}
	return sent4, sent6
}

// housekeepLocked forgets idle leaf peers (saving them to the peer cache,
// if any: the returned writes run after the lock) and old rate-limit
// entries.
func (n *Node) housekeepLocked(now time.Time) []func() {
	var after []func()
	for a, pr := range n.peers {
		if !n.topo.IsUpstream(a) && now.Sub(pr.LastReceive) >= peer.ActivityTimeout && now.Sub(pr.Created) >= peer.ActivityTimeout {
			delete(n.peers, a)
			if n.cfg.PeerCache != "" {
				after = append(after, n.savePeerLater(pr))
			}
		}
	}
	for k, t := range n.cacheTried {
		if now.Sub(t) >= QueueTimeout {
			delete(n.cacheTried, k)
		}
	}
	if n.cfg.PeerCache != "" && now.Sub(n.lastCacheClean) >= peerCacheCleanPeriod {
		n.lastCacheClean = now
		after = append(after, func() {
			if err := n.cfg.PeerCache.Clean(now.Add(-peercache.MaxAge)); err != nil {
				n.log.Warn("cleaning peer cache", "err", err)
			}
		})
	}
	for k, t := range n.expecting {
		if now.Sub(t) >= expectTTL {
			delete(n.expecting, k)
		}
	}
	for k, t := range n.whois {
		if now.Sub(t) >= QueueTimeout {
			delete(n.whois, k)
		}
	}
	for k, t := range n.lastUnite {
		if now.Sub(t) >= peer.MinUniteInterval {
			delete(n.lastUnite, k)
		}
	}
	for k, t := range n.helloGate {
		if now.Sub(t) >= time.Minute {
			delete(n.helloGate, k)
		}
	}
	for k, t := range n.confirmAt {
		if now.Sub(t) >= time.Minute {
			delete(n.confirmAt, k)
		}
	}
	for k, t := range n.echoGate {
		if now.Sub(t) >= time.Minute {
			delete(n.echoGate, k)
		}
	}
	n.self.Clean(now)
	return after
}
