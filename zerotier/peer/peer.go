// Package peer is what a node knows about another node: its identity, the
// packet keys agreed with it, its reported protocol and software version, its
// physical paths, and the per-peer rate limits and replay window of ZeroTier
// One 1.14 (node/Peer.hpp). It is not synchronized: the owning node guards it.
package peer

import (
	"fmt"
	"net/netip"
	"time"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/path"
	"ztnc/zerotier/replay"
)

// Timers and limits (node/Constants.hpp).
const (
	PingPeriod          = 60 * time.Second  // ZT_PEER_PING_PERIOD: full HELLO interval
	ActivityTimeout     = 500 * time.Second // ZT_PEER_ACTIVITY_TIMEOUT
	InboundWhoisLimit   = 100 * time.Millisecond
	PushCutoffTime      = 30 * time.Second // ZT_PUSH_DIRECT_PATHS_CUTOFF_TIME
	PushCutoffLimit     = 8
	MinUniteInterval    = 30 * time.Second // ZT_MIN_UNITE_INTERVAL
	AESMinProtocol      = 12               // cipher 3 from this version on
	EchoMinProtocol     = 5                // ECHO probes from this version on
	UpstreamHelloFactor = 16               // roots: full HELLO every 14 s x 16
	LeafHelloFactor     = 2
)

// Peer is one known remote node.
type Peer struct {
	Identity *identity.Identity
	Keys     *packet.Keys

	VersionKnown    bool
	ProtocolVersion uint8
	Major, Minor    uint8
	Revision        uint16

	Paths []*path.Path

	LastReceive   time.Time // any authenticated packet
	LastFullHello time.Time // last full HELLO sent (keepalive scheduling)
	LastWhoisIn   time.Time // inbound WHOIS rate limit
	LastPushIn    time.Time // inbound PUSH_DIRECT_PATHS gate
	PushInCount   int
	Created       time.Time
	replayWin     *replay.Window
}

// New creates a peer and agrees packet keys with it using our secret identity.
func New(me, id *identity.Identity, now time.Time) (*Peer, error) {
	k, err := me.Agree(id)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", id.Address, err)
	}
	keys, err := packet.NewKeys(&k)
	if err != nil {
		return nil, fmt.Errorf("peer %s: keys: %w", id.Address, err)
	}
	return &Peer{Identity: id.PublicOnly(), Keys: keys, Created: now, replayWin: replay.New(replay.DefaultSize)}, nil
}

// Cipher is the suite to send with (HELLO aside, which is always cipher 0):
// AES-GMAC-SIV once the peer is known to speak protocol 12+, else
// Salsa20/12+Poly1305, exactly as 1.14 chooses.
func (p *Peer) Cipher() packet.Cipher {
	if p.VersionKnown && p.ProtocolVersion >= AESMinProtocol {
		return packet.CipherAESGMACSIV
	}
	return packet.CipherPoly1305Salsa2012
}

// SetVersion records the versions from the peer's HELLO or OK(HELLO).
func (p *Peer) SetVersion(proto, major, minor uint8, rev uint16) {
	p.VersionKnown = true
	p.ProtocolVersion, p.Major, p.Minor, p.Revision = proto, major, minor, rev
}

// FreshID records a packet ID accepted from this peer and reports whether it
// is new; a repeat is a replay (see package replay).
func (p *Peer) FreshID(id uint64) bool { return p.replayWin.Check(id) }

// FindPath returns the path for (local socket, remote), or nil.
func (p *Peer) FindPath(local int, remote netip.AddrPort) *path.Path {
	for _, pa := range p.Paths {
		if pa.Local == local && pa.Remote == remote {
			return pa
		}
	}
	return nil
}

// LearnPath adds a path as 1.14 does after an OK over it: reuse a dead slot
// with the same IP and socket, else append, else replace the oldest.
func (p *Peer) LearnPath(pa *path.Path, now time.Time) {
	for i, old := range p.Paths {
		if old.Local == pa.Local && old.Remote.Addr() == pa.Remote.Addr() && !old.Alive(now) {
			p.Paths[i] = pa
			return
		}
	}
	if len(p.Paths) < path.MaxPerPeer {
		p.Paths = append(p.Paths, pa)
		return
	}
	oldest := 0
	for i, old := range p.Paths {
		if old.LastReceive.Before(p.Paths[oldest].LastReceive) {
			oldest = i
		}
	}
	p.Paths[oldest] = pa
}

// BlocksFlap reports whether a live path on the same socket and IP already
// exists (then a new port on that IP is not learned, to avoid flapping).
func (p *Peer) BlocksFlap(local int, remote netip.AddrPort, now time.Time) bool {
	for _, pa := range p.Paths {
		if pa.Local == local && pa.Remote.Addr() == remote.Addr() && pa.Remote.Port() != remote.Port() && pa.Alive(now) {
			return true
		}
	}
	return false
}

// ExpirePaths deletes paths with no receive for 243 s.
func (p *Peer) ExpirePaths(now time.Time) {
	kept := p.Paths[:0]
	for _, pa := range p.Paths {
		if !pa.Expired(now) {
			kept = append(kept, pa)
		}
	}
	clear(p.Paths[len(kept):])
	p.Paths = kept
}

// BestPath is the non-expired path with the best 1.14 quality, or nil.
func (p *Peer) BestPath(now time.Time) *path.Path {
	var best *path.Path
	var bq int64
	for _, pa := range p.Paths {
		if pa.Expired(now) {
			continue
		}
		if q := pa.Quality(now); best == nil || q < bq {
			best, bq = pa, q
		}
	}
	return best
}

// HasDirectPath reports whether a live path exists.
func (p *Peer) HasDirectPath(now time.Time) bool {
	for _, pa := range p.Paths {
		if pa.Alive(now) {
			return true
		}
	}
	return false
}

// Latency is the best path's latency in ms, or -1 if unknown.
func (p *Peer) Latency(now time.Time) int {
	if b := p.BestPath(now); b != nil && b.Latency != path.UnknownLatency {
		return b.Latency
	}
	return -1
}

// AllowPushIn is 1.14's inbound PUSH_DIRECT_PATHS gate: fewer than 8 pushes
// within a rolling 30 s window (the timestamp updates even when refused).
func (p *Peer) AllowPushIn(now time.Time) bool {
	if now.Sub(p.LastPushIn) <= PushCutoffTime {
		p.PushInCount++
	} else {
		p.PushInCount = 0
	}
	p.LastPushIn = now
	return p.PushInCount < PushCutoffLimit
}
