package node

import (
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
)

// VL2Packet is an authenticated, decompressed packet handed to the VL2
// layer (Config.VL2): the VL2 verbs themselves, and OK/ERROR replies whose
// in-re verb is not a VL1 one.
type VL2Packet struct {
	From     *identity.Identity // the sender's public identity
	PacketID uint64
	Verb     packet.Verb
	Hops     int
	// Payload is the verb payload; for OK and ERROR it starts after the
	// in-re verb and packet ID (InRe holds those). A FRAME's is borrowed
	// (it lies in the socket reader's buffer): valid during the callback
	// only, so a handler that keeps it copies it. Others are the handler's.
	Payload []byte
	InRe    message.InRe
	// ErrorCode is set for ERROR.
	ErrorCode packet.ErrorCode
	// Received is when the node took the packet in, if it says (a clock
	// reading costs as much as the rest of a frame's VL2 handling).
	Received time.Time
}

// isVL2Verb reports verbs the VL1 node passes up.
func isVL2Verb(v packet.Verb) bool {
	switch v {
	case packet.VerbFrame, packet.VerbExtFrame, packet.VerbMulticastLike, packet.VerbNetworkCredentials,
		packet.VerbNetworkConfigRequest, packet.VerbNetworkConfig, packet.VerbMulticastGather, packet.VerbMulticastFrame:
		return true
	}
	return false
}

// vl2After wraps a packet for the VL2 callback, run after n.mu is released.
func (n *Node) vl2After(in VL2Packet) []func() {
	cb := n.cfg.VL2
	if cb == nil {
		return nil
	}
	// No copy: the payload lies in a packet the node made for this delivery
	// alone (decodeLocked copies every packet other than a FRAME it got
	// borrowed, and no FRAME comes here).
	return []func(){func() { cb(in) }}
}

// IdentityOf returns a known peer's public identity (our own included); for
// an unknown address it asks the roots (WHOIS) and returns nil, so callers
// retry later.
func (n *Node) IdentityOf(a address.Address) *identity.Identity {
	if a == n.me.Address {
		return n.me.PublicOnly()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if pr := n.peers[a]; pr != nil {
		return pr.Identity
	}
	n.requestWhoisLocked(a, time.Now())
	return nil
}

// UpstreamAddresses lists the roots (planet and moons) we use.
func (n *Node) UpstreamAddresses() []address.Address {
	var out []address.Address
	for _, u := range n.topo.Upstreams(n.me.Address) {
		out = append(out, u.Identity.Address)
	}
	return out
}
