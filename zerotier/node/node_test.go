package node

import (
	"bytes"
	"crypto/rand"
	"net"
	"testing"

	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
)

const testMsgType = 0x10000 + 7 // above the range reserved for ZeroTier

// TestRootRelayWhoisRendezvous: leaves find each other through the root
// (WHOIS), the first message is relayed by the root (no direct path yet),
// RENDEZVOUS then gives them a direct path, and large (fragmented) and
// compressible (LZ4) messages arrive intact both ways.
func TestRootRelayWhoisRendezvous(t *testing.T) {
	root, leaves := startNet(t, 3)
	a, b, c := leaves[0], leaves[1], leaves[2]
	waitReady(t, root, leaves)
	if _, ok := a.Peer(b.Address()); ok {
		t.Fatal("a knows b before any WHOIS")
	}

	// Compressible payload: exercises LZ4 on the relayed path.
	text := bytes.Repeat([]byte("ztnc relayed hello "), 100)
	relayedBefore := root.Counters.Relayed.Load()
	if err := a.SendUserMessage(b.Address(), testMsgType, text); err != nil {
		t.Fatal(err)
	}
	m := recvMsg(t, b, "relayed USER_MESSAGE a->b")
	if m.From != a.Address() || m.Type != testMsgType || !bytes.Equal(m.Data, text) {
		t.Fatalf("b got %v type %#x %d bytes; want from %v type %#x %d bytes", m.From, m.Type, len(m.Data), a.Address(), testMsgType, len(text))
	}
	if root.Counters.Relayed.Load() == relayedBefore {
		t.Fatal("the first message arrived but the root relayed nothing")
	}
	if _, ok := a.Peer(b.Address()); !ok {
		t.Fatal("a sent to b without learning b's identity (WHOIS)")
	}

	// The root introduced a and b; they confirm a direct path.
	waitFor(t, "direct path a->b", func() bool { return hasDirectPath(a.Node, b.Address()) })
	waitFor(t, "direct path b->a", func() bool { return hasDirectPath(b.Node, a.Address()) })
	pb, _ := a.Peer(b.Address())
	if pb.ProtocolVersion != packet.ProtocolVersion {
		t.Fatalf("a records b's protocol version %d, want %d", pb.ProtocolVersion, packet.ProtocolVersion)
	}

	// Incompressible 5000 bytes: 4 fragments at the default MTU, now direct.
	big := make([]byte, 5000)
	rand.Read(big)
	relayedBefore = root.Counters.Relayed.Load()
	if err := b.SendUserMessage(a.Address(), testMsgType+1, big); err != nil {
		t.Fatal(err)
	}
	m = recvMsg(t, a, "direct fragmented USER_MESSAGE b->a")
	if m.From != b.Address() || m.Type != testMsgType+1 || !bytes.Equal(m.Data, big) {
		t.Fatalf("a got a corrupted fragmented message (%d bytes from %v)", len(m.Data), m.From)
	}
	if got := root.Counters.Relayed.Load(); got != relayedBefore {
		t.Fatalf("direct message went through the root (%d relays)", got-relayedBefore)
	}

	// A third node: c WHOISes a and sends a fragmented message that the
	// root must relay fragment by fragment.
	if err := c.SendUserMessage(a.Address(), testMsgType+2, big); err != nil {
		t.Fatal(err)
	}
	m = recvMsg(t, a, "relayed fragmented USER_MESSAGE c->a")
	if m.From != c.Address() || !bytes.Equal(m.Data, big) {
		t.Fatalf("a got %d bytes from %v, want %d from %v", len(m.Data), m.From, len(big), c.Address())
	}

	// ECHO to a peer is answered (its OK is expected, so not stale).
	staleBefore := c.Counters.DropStale.Load()
	rxBefore := c.Counters.RxPackets.Load()
	if err := a.Echo(c.Address(), []byte("ping")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c answering a's ECHO", func() bool { return a.Counters.RxPackets.Load() > 0 && c.Counters.RxPackets.Load() > rxBefore })
	if c.Counters.DropStale.Load() != staleBefore {
		t.Fatal("c dropped a packet as stale")
	}
	for _, n := range []*testNode{root, a, b, c} {
		if d := n.Counters.DropAuth.Load() + n.Counters.DropMalformed.Load() + n.Counters.DropReplay.Load(); d != 0 {
			t.Errorf("node %v dropped %d honest packets: %v", n.Address(), d, n.Counters.Snapshot())
		}
	}
}

// TestForgedReplayedMalformed injects packets from a raw socket: a valid
// USER_MESSAGE from a (armored with a's key) is delivered once; the same
// bytes again are a replay; a modified copy fails its MAC; junk and an
// unsolicited OK are dropped and counted. Nothing panics.
func TestForgedReplayedMalformed(t *testing.T) {
	root, leaves := startNet(t, 2)
	a, b := leaves[0], leaves[1]
	// Until the root has a path to b, a relayed packet for b is lost (as
	// with 1.14), so start once everyone is connected to the root.
	waitReady(t, root, leaves)
	if err := a.SendUserMessage(b.Address(), testMsgType, []byte("introduce us")); err != nil {
		t.Fatal(err)
	}
	recvMsg(t, b, "first message a->b")

	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	k, err := a.Identity().Agree(b.Identity())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := packet.NewKeys(&k)
	if err != nil {
		t.Fatal(err)
	}
	build := func(verb packet.Verb, payload []byte, c packet.Cipher) []byte {
		id, _ := packet.RandomID()
		p := packet.New(id, b.Address(), a.Address(), verb, payload)
		if err := p.Armor(keys, c); err != nil {
			t.Fatal(err)
		}
		return p
	}
	send := func(d []byte) {
		if _, err := raw.WriteToUDPAddrPort(d, b.addr); err != nil {
			t.Fatal(err)
		}
	}

	um := &message.UserMessage{Type: testMsgType + 9, Data: []byte("exactly once")}
	for _, c := range []packet.Cipher{packet.CipherPoly1305Salsa2012, packet.CipherAESGMACSIV, packet.CipherPoly1305None} {
		good := build(packet.VerbUserMessage, um.Append(nil), c)
		send(good)
		if m := recvMsg(t, b, "injected message with "+c.String()); string(m.Data) != "exactly once" {
			t.Fatalf("got %q", m.Data)
		}
		replays := b.Counters.DropReplay.Load()
		send(good)
		waitFor(t, "replay counted", func() bool { return b.Counters.DropReplay.Load() > replays })

		auth := b.Counters.DropAuth.Load()
		forged := build(packet.VerbUserMessage, um.Append(nil), c)
		forged[len(forged)-1] ^= 1
		send(forged)
		waitFor(t, "forged packet counted", func() bool { return b.Counters.DropAuth.Load() > auth })
	}
	select {
	case m := <-b.msgs:
		t.Fatalf("a replayed or forged message was delivered: %q", m.Data)
	default:
	}

	mal := b.Counters.DropMalformed.Load()
	send([]byte("twenty bytes of junk"))
	waitFor(t, "junk counted as malformed", func() bool { return b.Counters.DropMalformed.Load() > mal })

	stale := b.Counters.DropStale.Load()
	send(build(packet.VerbOK, []byte{byte(packet.VerbHello), 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 12, 1, 14, 0, 1}, packet.CipherPoly1305Salsa2012))
	waitFor(t, "unsolicited OK counted as stale", func() bool { return b.Counters.DropStale.Load() > stale })

	// A USER_MESSAGE too short to carry its type is malformed after auth.
	mal = b.Counters.DropMalformed.Load()
	send(build(packet.VerbUserMessage, []byte{1, 2, 3}, packet.CipherAESGMACSIV))
	waitFor(t, "short USER_MESSAGE counted as malformed", func() bool { return b.Counters.DropMalformed.Load() > mal })
}
