package node

import (
	"crypto/rand"
	"testing"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
)

// TestIdentityCollision: a HELLO from a second identity claiming a known
// node's address gets ERROR(IDENTITY_COLLISION) in re that HELLO, readable
// under the new identity's key, but only if it authenticates; and a node
// told so by its root reports it once, while the same ERROR from a
// non-upstream or another code from the root does nothing.
func TestIdentityCollision(t *testing.T) {
	collided := make(chan address.Address, 4)
	root, leaves := startNetWith(t, 2, func(i int, c *Config) {
		if i == 1 {
			c.OnIdentityCollision = func(a address.Address) { collided <- a }
		}
	})
	a, b := leaves[0], leaves[1]
	waitReady(t, root, leaves)

	// An impostor: a's address with fresh keys. Brute-forcing a real
	// 40-bit collision is out of reach; 1.14 does not check the proof of
	// work before answering, so neither do we.
	pub, priv, err := c25519.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	imp := identity.New(a.Address(), pub, &priv)
	k, err := imp.Agree(root.Identity())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := packet.NewKeys(&k)
	if err != nil {
		t.Fatal(err)
	}
	raw := listenLoopback(t)
	defer raw.Close()
	hello := func() (packet.Packet, uint64) {
		id, _ := packet.RandomID()
		p, err := message.NewHello(imp, uint64(time.Now().UnixMilli()), root.addr, root.Topology().Planet()).Packet(id, root.Address(), keys)
		if err != nil {
			t.Fatal(err)
		}
		return p, id
	}

	// A HELLO that does not authenticate under the impostor's key: no reply.
	// (Resent while the /24 identity-verification gate turns it away.)
	forged, _ := hello()
	forged[len(forged)-1] ^= 1
	auth := root.Counters.DropAuth.Load()
	waitFor(t, "forged colliding HELLO counted", func() bool {
		if _, err := raw.WriteToUDPAddrPort(forged, root.addr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
		return root.Counters.DropAuth.Load() > auth
	})

	// An authentic one, likewise resent until answered.
	sent := map[uint64]bool{} // a late reply may answer an earlier copy
	buf := make([]byte, 2048)
	deadline := time.Now().Add(15 * time.Second)
	for answered := false; !answered; {
		if time.Now().After(deadline) {
			t.Fatal("no ERROR reply to the colliding HELLO")
		}
		p, helloID := hello()
		sent[helloID] = true
		if _, err := raw.WriteToUDPAddrPort(p, root.addr); err != nil {
			t.Fatal(err)
		}
		raw.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := raw.ReadFromUDPAddrPort(buf)
		if err != nil {
			continue
		}
		r, err := packet.Parse(append([]byte(nil), buf[:n]...))
		if err != nil || r.Source() != root.Address() || r.Dest() != a.Address() {
			continue
		}
		if err := r.Dearmor(keys); err != nil {
			t.Fatalf("reply does not authenticate under the new identity's key: %v", err)
		}
		if r, err = r.Decompress(); err != nil {
			t.Fatal(err)
		}
		e, err := message.ParseError(r)
		if err != nil {
			t.Fatalf("reply is not an ERROR: %v (verb %v)", err, r.Verb())
		}
		if e.Code != packet.ErrorIdentityCollision || e.InRe.Verb != packet.VerbHello || !sent[e.InRe.ID] {
			t.Fatalf("ERROR %+v, want IDENTITY_COLLISION in re one of our HELLOs", e)
		}
		answered = true
	}
	if root.Counters.TxCollision.Load() == 0 {
		t.Fatal("txCollision not counted")
	}
	// The known identity is kept: a still reaches the root under its key.
	if err := a.SendUserMessage(root.Address(), testMsgType, []byte("still me")); err != nil {
		t.Fatal(err)
	}
	if m := recvMsg(t, root, "a -> root after the collision"); string(m.Data) != "still me" {
		t.Fatalf("got %q", m.Data)
	}

	// The other direction: ERRORs injected to a under its peers' keys.
	sendError := func(from *identity.Identity, code packet.ErrorCode) {
		t.Helper()
		k, err := from.Agree(a.Identity())
		if err != nil {
			t.Fatal(err)
		}
		ks, _ := packet.NewKeys(&k)
		id, _ := packet.RandomID()
		e := message.Error{InRe: message.InRe{Verb: packet.VerbHello, ID: 42}, Code: code}
		p := packet.New(id, a.Address(), from.Address, packet.VerbError, e.Append(nil))
		if err := p.Armor(ks, packet.CipherPoly1305Salsa2012); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.WriteToUDPAddrPort(p, a.addr); err != nil {
			t.Fatal(err)
		}
	}
	ids := testIdentities(t)
	// b is known to a only once they have talked.
	if err := b.SendUserMessage(a.Address(), testMsgType, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	recvMsg(t, a, "b -> a")
	rx := a.Counters.RxPackets.Load()
	sendError(ids[2], packet.ErrorIdentityCollision) // b: not an upstream
	sendError(ids[0], packet.ErrorObjNotFound)       // root, another code
	waitFor(t, "both ERRORs received", func() bool { return a.Counters.RxPackets.Load() >= rx+2 })
	select {
	case got := <-collided:
		t.Fatalf("collision reported for a non-upstream or another code (from %v)", got)
	case <-time.After(200 * time.Millisecond):
	}
	sendError(ids[0], packet.ErrorIdentityCollision)
	sendError(ids[0], packet.ErrorIdentityCollision)
	select {
	case got := <-collided:
		if got != root.Address() {
			t.Fatalf("collision reported from %v, want the root %v", got, root.Address())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("collision from the root not reported")
	}
	select {
	case <-collided:
		t.Fatal("collision reported twice")
	case <-time.After(300 * time.Millisecond):
	}
}
