package node

import (
	"net/netip"
	"time"

	"ztnc/zerotier/peer"
	"ztnc/zerotier/selfaware"
)

// iamLocked records an external address a peer reports for us (hops 0
// only); if an upstream reports that our IP changed, every peer's paths in
// that scope and family are re-probed (SelfAwareness::iam).
func (n *Node) iamLocked(reporter *peer.Peer, local int, from, mine netip.AddrPort, now time.Time) {
	trusted := n.topo.IsUpstream(reporter.Identity.Address)
	r, reset := n.self.IAm(reporter.Identity.Address, local, from, mine, trusted, now)
	if !reset {
		return
	}
	n.log.Info("external address changed; re-probing paths in its scope", "reporter", reporter.Identity.Address, "now", mine, "scope", r.Scope)
	n.resetPathsLocked(r, now)
}

// resetPathsLocked is Peer::resetWithinScope for every peer: each path in
// the scope and family gets a probe and stops counting as alive until it
// answers.
func (n *Node) resetPathsLocked(r selfaware.Reset, now time.Time) {
	n.Counters.PathResets.Add(1)
	for _, pr := range n.peers {
		for _, pa := range pr.Paths {
			if !r.Matches(pa.Remote) {
				continue
			}
			n.contactLocked(pr, pa.Local, pa.Remote, now)
			pa.LastSend = now
			pa.LastReceive = time.Time{}
		}
	}
}
