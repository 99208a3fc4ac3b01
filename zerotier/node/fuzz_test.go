package node

import (
	"net/netip"
	"testing"
	"time"

	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/peer"
	"ztnc/zerotier/topology"
)

// FuzzHandleDatagram feeds arbitrary datagrams to a node (no sockets) that
// knows one peer; seeds are valid packets from that peer, a HELLO, and
// fragments, so mutations reach every decoder behind authentication too.
func FuzzHandleDatagram(f *testing.F) {
	ids := testIdentities(f)
	me, other := ids[1], ids[2]
	src := netip.MustParseAddrPort("10.1.2.3:9993")
	planet := testPlanet(f, ids[0], netip.MustParseAddrPort("10.0.0.1:9993"))
	n, err := New(Config{Identity: me, Topology: topology.New(planet), AllowLoopback: true, HelloRateLimit: -1})
	if err != nil {
		f.Fatal(err)
	}
	pr, err := peer.New(me, other, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	n.peers[other.Address] = pr
	k, _ := other.Agree(me)
	keys, _ := packet.NewKeys(&k)
	mk := func(verb packet.Verb, payload []byte, c packet.Cipher) []byte {
		p := packet.New(1234, me.Address, other.Address, verb, payload).Compress()
		p.SetFragmented(packet.NeedsFragmenting(len(p), 1432))
		if err := p.Armor(keys, c); err != nil {
			f.Fatal(err)
		}
		return p
	}
	um := &message.UserMessage{Type: 70000, Data: make([]byte, 100)}
	f.Add(mk(packet.VerbUserMessage, um.Append(nil), packet.CipherAESGMACSIV))
	f.Add(mk(packet.VerbEcho, []byte("x"), packet.CipherPoly1305Salsa2012))
	f.Add(mk(packet.VerbWhois, []byte{1, 2, 3, 4, 5}, packet.CipherPoly1305None))
	rv := &message.Rendezvous{With: other.Address, Addr: netip.MustParseAddrPort("10.9.9.9:1")}
	f.Add(mk(packet.VerbRendezvous, rv.Append(nil), packet.CipherAESGMACSIV))
	f.Add(mk(packet.VerbPushDirectPaths, message.AppendPushDirectPaths(nil, []message.DirectPath{{Addr: src}}), packet.CipherAESGMACSIV))
	f.Add(mk(packet.VerbOK, []byte{4, 0, 0, 0, 0, 0, 0, 0, 1}, packet.CipherAESGMACSIV))
	h := message.NewHello(other, 1, src, planet)
	hp, err := h.Packet(99, me.Address, keys)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(hp))
	big := make([]byte, 3000)
	bp := packet.New(5, me.Address, other.Address, packet.VerbUserMessage, big)
	bp.SetFragmented(true)
	bp.Armor(keys, packet.CipherAESGMACSIV)
	parts, _ := packet.Split(bp, 1432)
	for _, p := range parts {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 13))
	f.Fuzz(func(t *testing.T, b []byte) {
		n.HandleDatagram(0, src, b)
	})
}
