package node

import (
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/path"
	"ztnc/zerotier/peer"
	"ztnc/zerotier/peercache"
)

// peerCacheCleanPeriod is how often old peers.d records are removed (1.14:
// hourly, records older than 30 days).
const peerCacheCleanPeriod = time.Hour

// cacheEntryLocked is what 1.14 saves of a peer it forgets for inactivity:
// identity, version and its paths' addresses.
func cacheEntryLocked(pr *peer.Peer) *peercache.Entry {
	e := &peercache.Entry{Identity: pr.Identity}
	if pr.VersionKnown {
		e.Proto, e.Major, e.Minor, e.Revision = uint16(pr.ProtocolVersion), uint16(pr.Major), uint16(pr.Minor), pr.Revision
	}
	for _, pa := range pr.Paths {
		if len(e.Paths) < peercache.MaxPaths {
			e.Paths = append(e.Paths, pa.Remote)
		}
	}
	return e
}

// savePeerLater returns the write of pr's record, to run after the lock.
func (n *Node) savePeerLater(pr *peer.Peer) func() {
	e := cacheEntryLocked(pr)
	return func() {
		if err := n.cfg.PeerCache.Save(e); err != nil {
			n.log.Warn("saving peer cache", "peer", e.Identity.Address, "err", err)
		}
	}
}

// loadCachedPeerLocked is Topology::getPeer's fallback to peers.d: a peer we
// forgot comes back with its identity and version, and gets a full HELLO at
// each address it last used (Peer::deserializeFromCache), so no WHOIS is
// needed. Each address is read at most once per WHOIS queue lifetime.
func (n *Node) loadCachedPeerLocked(a address.Address, now time.Time) bool {
	if n.cfg.PeerCache == "" || n.peers[a] != nil {
		return false
	}
	if t, ok := n.cacheTried[a]; ok && now.Sub(t) < QueueTimeout {
		return false
	}
	if n.cacheTried == nil {
		n.cacheTried = map[address.Address]time.Time{}
	}
	n.cacheTried[a] = now
	e, err := n.cfg.PeerCache.Load(a)
	if err != nil {
		n.log.Warn("peer cache", "peer", a, "err", err)
		return false
	}
	if e == nil {
		return false
	}
	pr, err := peer.New(n.me, e.Identity, now)
	if err != nil {
		n.log.Warn("peer cache", "peer", a, "err", err)
		return false
	}
	if e.Major > 0 || e.Minor > 0 || e.Revision > 0 { // Peer::remoteVersionKnown
		pr.SetVersion(uint8(e.Proto), uint8(e.Major), uint8(e.Minor), e.Revision)
	}
	n.peers[a] = pr
	n.Counters.PeerCacheHit.Add(1)
	n.log.Info("peer from peers.d", "addr", a, "paths", len(e.Paths))
	for _, ap := range e.Paths {
		ap = path.Unmap(ap)
		if n.pathAcceptable(a, ap) {
			n.sendHelloLocked(pr, n.socketFor(ap), ap, now)
		}
	}
	return true
}
