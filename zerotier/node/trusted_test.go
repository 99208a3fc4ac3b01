package node

import (
	"net/netip"
	"testing"

	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
)

const testTrustedID = 0x7e57_7e57

// TestTrustedPaths: two leaves that list each other's address as a trusted
// physical path exchange cipher-2 (plaintext, ID in the MAC field) packets
// once they have a direct path, while everything through the root stays
// encrypted. A cipher-2 packet is accepted only from the configured network
// and with the configured ID.
func TestTrustedPaths(t *testing.T) {
	a4, b4 := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	root, leaves := startNetWith(t, 2, func(i int, c *Config) {
		switch i {
		case 1:
			c.PhysicalPaths = []PhysicalPath{{Network: netip.PrefixFrom(b4, 32), TrustedPathID: testTrustedID}}
		case 2:
			c.PhysicalPaths = []PhysicalPath{
				{Network: netip.PrefixFrom(a4, 32), TrustedPathID: testTrustedID},
				{Network: netip.MustParsePrefix("10.0.0.0/8"), TrustedPathID: 0xbad},
			}
		}
	})
	a, b := leaves[0], leaves[1]
	waitReady(t, root, leaves)
	if err := a.SendUserMessage(b.Address(), testMsgType, []byte("via the root")); err != nil {
		t.Fatal(err)
	}
	recvMsg(t, b, "relayed message a->b")
	waitFor(t, "direct path a->b", func() bool { return hasDirectPath(a.Node, b.Address()) })
	waitFor(t, "direct path b->a", func() bool { return hasDirectPath(b.Node, a.Address()) })

	txBefore, rxBefore := a.Counters.TxTrusted.Load(), b.Counters.RxTrusted.Load()
	if err := a.SendUserMessage(b.Address(), testMsgType, []byte("over the trusted path")); err != nil {
		t.Fatal(err)
	}
	if m := recvMsg(t, b, "trusted message a->b"); string(m.Data) != "over the trusted path" || m.From != a.Address() {
		t.Fatalf("b got %q from %v", m.Data, m.From)
	}
	if a.Counters.TxTrusted.Load() == txBefore || b.Counters.RxTrusted.Load() == rxBefore {
		t.Fatalf("direct message not sent as cipher 2: a tx %d, b rx %d", a.Counters.TxTrusted.Load(), b.Counters.RxTrusted.Load())
	}
	if err := b.SendUserMessage(a.Address(), testMsgType, []byte("back")); err != nil {
		t.Fatal(err)
	}
	recvMsg(t, a, "trusted message b->a")
	if root.Counters.RxTrusted.Load()+root.Counters.TxTrusted.Load()+root.Counters.DropUntrusted.Load() != 0 {
		t.Fatalf("the root (no trusted paths) saw cipher 2: %v", root.Counters.Snapshot())
	}

	// Injected cipher-2 packets claiming to be from a.
	um := &message.UserMessage{Type: testMsgType + 3, Data: []byte("injected")}
	inject := func(from netip.Addr, id uint64) {
		t.Helper()
		raw := listenOn(t, from)
		defer raw.Close()
		pid, _ := packet.RandomID()
		p := packet.New(pid, b.Address(), a.Address(), packet.VerbUserMessage, um.Append(nil))
		p.ArmorTrustedPath(id)
		if _, err := raw.WriteToUDPAddrPort(p, b.addr); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		from netip.Addr
		id   uint64
	}{
		{netip.MustParseAddr("127.0.0.4"), testTrustedID}, // right ID, outside the network
		{a4, 0xbad},             // inside, ID of another network
		{a4, testTrustedID + 1}, // inside, unknown ID
		{a4, 0},                 // inside, no ID
	} {
		before := b.Counters.DropUntrusted.Load()
		inject(c.from, c.id)
		waitFor(t, "untrusted cipher-2 packet counted", func() bool { return b.Counters.DropUntrusted.Load() > before })
	}
	select {
	case m := <-b.msgs:
		t.Fatalf("an untrusted cipher-2 packet was delivered: %q", m.Data)
	default:
	}
	// From inside the network with its ID it is trusted as the reference
	// trusts it: by network and ID alone.
	inject(a4, testTrustedID)
	if m := recvMsg(t, b, "cipher-2 packet from the trusted network"); string(m.Data) != "injected" {
		t.Fatalf("got %q", m.Data)
	}
}

func TestPhysicalPathLookup(t *testing.T) {
	n := &Node{cfg: Config{MTU: packet.DefaultPhysMTU}}
	pps, err := normalizePhysicalPaths([]PhysicalPath{
		{Network: netip.MustParsePrefix("10.0.0.0/8"), TrustedPathID: 1, MTU: 9000},
		{Network: netip.MustParsePrefix("10.1.0.0/16"), TrustedPathID: 2, MTU: 100},
		{Network: netip.MustParsePrefix("fd00::/8"), TrustedPathID: 3, MTU: 1 << 20},
		{Network: netip.MustParsePrefix("192.168.0.0/16")},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.cfg.PhysicalPaths = pps
	for _, c := range []struct {
		to       string
		mtu      int
		id       uint64
		trustsID uint64
	}{
		// 1.14's map keeps the prefix length in the port field, compared
		// byte-swapped (/8 = 0x0800 < /16 = 0x1000), so the /8 entry is
		// found first for 10.1.2.3.
		{"10.1.2.3:1", 9000, 1, 2},
		{"10.9.9.9:1", 9000, 1, 1},
		{"[fd00::1]:1", packet.MaxPacketSize, 3, 3},
		{"192.168.1.1:1", packet.DefaultPhysMTU, 0, 0},
		{"172.16.0.1:1", packet.DefaultPhysMTU, 0, 0},
		{"[::ffff:10.0.0.1]:1", 9000, 1, 1},
	} {
		ap := netip.MustParseAddrPort(c.to)
		mtu, id := n.outboundPathInfo(ap)
		if mtu != c.mtu || id != c.id {
			t.Errorf("%s: mtu %d id %d, want %d %d", c.to, mtu, id, c.mtu, c.id)
		}
		if c.trustsID != 0 && !n.inboundTrusted(ap, c.trustsID) {
			t.Errorf("%s: ID %d not trusted", c.to, c.trustsID)
		}
		if n.inboundTrusted(ap, 0) || n.inboundTrusted(ap, 99) {
			t.Errorf("%s: trusted with a wrong ID", c.to)
		}
	}
	if _, err := normalizePhysicalPaths([]PhysicalPath{{}}); err == nil {
		t.Fatal("accepted a physical path without a network")
	}
}
