package vl2

import (
	"testing"
	"time"

	"ztnc/zerotier/credential"
	"ztnc/zerotier/node"
	"ztnc/zerotier/packet"
)

// BenchmarkHandleFrame measures the VL2 receive path of one small FRAME
// from a member of a private network with accept-all rules (parse, gate,
// rules, delivery to the port).
func BenchmarkHandleFrame(b *testing.B) {
	l, _, nwid, all, _ := setup(b)
	ctl, peer := all[0], all[2]
	pc := issue(b, ctl, peer, nwid, time.Now().UnixMilli())
	creds := (&credential.Bundle{COMs: []*credential.COM{pc.COM}}).Append(nil)
	l.Handle(node.VL2Packet{From: peer.PublicOnly(), Verb: packet.VerbNetworkCredentials, Payload: creds})
	got := 0
	l.Network(nwid).Port().SetReceiver(func([]byte) { got++ })
	fr := (&Frame{NetworkID: nwid, EtherType: 0x0800, Data: make([]byte, 60)}).Append(nil)
	in := node.VL2Packet{From: peer.PublicOnly(), PacketID: 77, Verb: packet.VerbFrame, Payload: fr}
	b.ReportAllocs()
	for b.Loop() {
		l.Handle(in)
	}
	if got != b.N {
		b.Fatalf("%d of %d frames delivered", got, b.N)
	}
}
