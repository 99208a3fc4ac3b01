package node

import (
	"net/netip"
	"sort"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/peer"
)

// PathInfo describes one path of a peer.
type PathInfo struct {
	Address     netip.AddrPort
	LastSend    time.Time
	LastReceive time.Time
	Active      bool // not expired
	Expired     bool
	Preferred   bool // the one the send path would use
	LocalSocket int
	LocalPort   uint16
}

// PeerInfo is a snapshot of a peer for the API.
type PeerInfo struct {
	Address         address.Address
	VersionKnown    bool
	ProtocolVersion int
	Major, Minor    int
	Revision        int
	Latency         int // ms, -1 unknown
	Role            string
	Paths           []PathInfo
	LastReceive     time.Time
}

// Peers returns a snapshot of all known peers, sorted by address.
func (n *Node) Peers() []PeerInfo {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]PeerInfo, 0, len(n.peers))
	for a, pr := range n.peers {
		out = append(out, n.peerInfoLocked(a, pr, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// Peer returns a snapshot of one peer.
func (n *Node) Peer(a address.Address) (PeerInfo, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	pr := n.peers[a]
	if pr == nil {
		return PeerInfo{}, false
	}
	return n.peerInfoLocked(a, pr, time.Now()), true
}

func (n *Node) peerInfoLocked(a address.Address, pr *peer.Peer, now time.Time) PeerInfo {
	pi := PeerInfo{
		Address: a, VersionKnown: pr.VersionKnown, ProtocolVersion: -1, Major: -1, Minor: -1, Revision: -1,
		Latency: pr.Latency(now), Role: n.roleOf(a).String(), LastReceive: pr.LastReceive,
	}
	if pr.VersionKnown {
		pi.ProtocolVersion, pi.Major, pi.Minor, pi.Revision = int(pr.ProtocolVersion), int(pr.Major), int(pr.Minor), int(pr.Revision)
	}
	best := pr.BestPath(now)
	for _, pa := range pr.Paths {
		pi.Paths = append(pi.Paths, PathInfo{
			Address: pa.Remote, LastSend: pa.LastSend, LastReceive: pa.LastReceive,
			Active: !pa.Expired(now), Expired: pa.Expired(now), Preferred: pa == best,
			LocalSocket: pa.Local, LocalPort: pa.LocalPort,
		})
	}
	return pi
}

// Online is 1.14's notion: something received from an upstream within
// 500 s, or we are a root.
func (n *Node) Online() bool {
	if n.AmRoot() {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.lastUpstreamRx.IsZero() && time.Since(n.lastUpstreamRx) < peer.ActivityTimeout
}

// SurfaceAddresses lists our external addresses as peers reported them.
func (n *Node) SurfaceAddresses() []netip.AddrPort {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.self.Surface()
}
