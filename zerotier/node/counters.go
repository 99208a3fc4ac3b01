package node

import "sync/atomic"

// Counters count what the node received, sent and dropped, by reason. They
// are exported through the service API so drops of forged, replayed or
// malformed packets are visible.
type Counters struct {
	RxDatagrams   atomic.Uint64 // UDP datagrams read
	RxPackets     atomic.Uint64 // packets authenticated and dispatched
	TxDatagrams   atomic.Uint64 // UDP datagrams written
	TxWrites      atomic.Uint64 // system calls that wrote them (sendto, sendmmsg)
	Relayed       atomic.Uint64 // heads and fragments forwarded for others
	DropMalformed atomic.Uint64 // not a well-formed packet, fragment or payload (incl. oversize)
	DropAuth      atomic.Uint64 // MAC / AES-GMAC-SIV tag failure or unknown cipher
	DropReplay    atomic.Uint64 // packet ID already accepted from that peer
	DropStale     atomic.Uint64 // OK answering nothing we sent (recently)
	DropIdentity  atomic.Uint64 // HELLO identity fails validation or collides with a known one
	TxCollision   atomic.Uint64 // ERROR(IDENTITY_COLLISION) sent to an authentic colliding HELLO
	PeerCacheHit  atomic.Uint64 // peers brought back from peers.d instead of a WHOIS
	PathResets    atomic.Uint64 // surface changes reported by an upstream (paths in scope re-probed)
	DropRateLimit atomic.Uint64 // a 1.14 rate limit refused the packet
	DropHops      atomic.Uint64 // relay refused: hop limit reached
	DropNoRelay   atomic.Uint64 // not for us and we do not relay for it, or no route
	DropUnknown   atomic.Uint64 // sender never identified (WHOIS timed out) or queue overflow
	DropSelf      atomic.Uint64 // packet claiming to come from our own address
	UserMessages  atomic.Uint64 // USER_MESSAGE delivered
	RxTrusted     atomic.Uint64 // cipher-2 packets accepted from a configured trusted path
	TxTrusted     atomic.Uint64 // packets sent as cipher 2 over a configured trusted path
	DropUntrusted atomic.Uint64 // cipher-2 packets whose source network or ID is not configured
}

// Snapshot returns the counters by their JSON names.
func (c *Counters) Snapshot() map[string]uint64 {
	return map[string]uint64{
		"rxDatagrams":   c.RxDatagrams.Load(),
		"rxPackets":     c.RxPackets.Load(),
		"txDatagrams":   c.TxDatagrams.Load(),
		"txWrites":      c.TxWrites.Load(),
		"relayed":       c.Relayed.Load(),
		"dropMalformed": c.DropMalformed.Load(),
		"dropAuth":      c.DropAuth.Load(),
		"dropReplay":    c.DropReplay.Load(),
		"dropStale":     c.DropStale.Load(),
		"dropIdentity":  c.DropIdentity.Load(),
		"txCollision":   c.TxCollision.Load(),
		"peerCacheHit":  c.PeerCacheHit.Load(),
		"pathResets":    c.PathResets.Load(),
		"dropRateLimit": c.DropRateLimit.Load(),
		"dropHops":      c.DropHops.Load(),
		"dropNoRelay":   c.DropNoRelay.Load(),
		"dropUnknown":   c.DropUnknown.Load(),
		"dropSelf":      c.DropSelf.Load(),
		"userMessages":  c.UserMessages.Load(),
		"rxTrusted":     c.RxTrusted.Load(),
		"txTrusted":     c.TxTrusted.Load(),
		"dropUntrusted": c.DropUntrusted.Load(),
	}
}
