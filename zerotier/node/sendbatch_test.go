package node

import (
	"bytes"
	"crypto/rand"
	"testing"

	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
)

// A batch reaches its destination whole, fragmented packets included,
// whether the peer is yet unknown (queued behind a WHOIS) or has a direct
// path, and over a direct path in order; every datagram written is counted.
func TestSendBatch(t *testing.T) {
	root, leaves := startNet(t, 2)
	a, b := leaves[0], leaves[1]
	waitReady(t, root, leaves)

	batch := func(base uint64) ([]Outgoing, [][]byte) {
		var out []Outgoing
		var want [][]byte
		for i := 0; i < 8; i++ {
			d := make([]byte, 100+i*700) // up to 5000 bytes: up to 4 fragments
			rand.Read(d)
			um := &message.UserMessage{Type: base + uint64(i), Data: d}
			out = append(out, Outgoing{Dest: b.Address(), Verb: packet.VerbUserMessage, Payload: um.Append(nil)})
			want = append(want, d)
		}
		return out, want
	}
	check := func(what string, base uint64, want [][]byte) {
		t.Helper()
		for i, d := range want {
			m := recvMsg(t, b, what)
			if m.From != a.Address() || m.Type != base+uint64(i) || !bytes.Equal(m.Data, d) {
				t.Fatalf("%s: message %d: type %#x, %d bytes from %v; want type %#x, %d bytes from %v",
					what, i, m.Type, len(m.Data), m.From, base+uint64(i), len(d), a.Address())
			}
		}
	}

	out, want := batch(testMsgType)
	if err := a.SendBatch(out); err != nil {
		t.Fatal(err)
	}
	// Queued behind a WHOIS, then flushed while the path is still being
	// found (relayed, then direct): whole, but not always in order, as
	// with ZeroTier One.
	got := map[uint64][]byte{}
	for range want {
		m := recvMsg(t, b, "batch to a peer not yet known")
		if m.From != a.Address() {
			t.Fatalf("batch to a peer not yet known: a message from %v", m.From)
		}
		got[m.Type] = m.Data
	}
	for i, d := range want {
		if g, ok := got[testMsgType+uint64(i)]; !ok || !bytes.Equal(g, d) {
			t.Fatalf("batch to a peer not yet known: message %d: %d bytes (present %v), want %d", i, len(g), ok, len(d))
		}
	}

	waitFor(t, "direct path a->b", func() bool { return hasDirectPath(a.Node, b.Address()) })
	out, want = batch(testMsgType + 100)
	frags := 0
	for _, o := range out {
		// Header (verb included) and incompressible payload, cut at the
		// default MTU (packet.Split).
		size := packet.HeaderSize + len(o.Payload)
		frags += 1 + (max(0, size-packet.DefaultPhysMTU)+packet.DefaultPhysMTU-packet.FragmentHeaderSize-1)/(packet.DefaultPhysMTU-packet.FragmentHeaderSize)
	}
	before := a.Counters.TxDatagrams.Load()
	if err := a.SendBatch(out); err != nil {
		t.Fatal(err)
	}
	if n := a.Counters.TxDatagrams.Load() - before; n < uint64(frags) {
		t.Fatalf("TxDatagrams counted %d, want at least the batch's %d", n, frags)
	}
	check("batch over a direct path", testMsgType+100, want)

	if err := a.SendBatch([]Outgoing{{Dest: a.Address(), Verb: packet.VerbUserMessage}}); err == nil {
		t.Fatal("a batch to ourselves was accepted")
	}
}
