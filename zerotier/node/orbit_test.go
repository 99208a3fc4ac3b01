package node

import (
	"net"
	"net/netip"
	"testing"

	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/world"
)

// TestOrbitThroughSeed: leaf b orbits a moon whose only root is leaf a,
// naming a as the seed. b finds a by WHOIS through the planet root, its
// HELLO asks for the moon, a's OK(HELLO) carries it, and b then holds the
// moon with a as a MOON upstream. Deorbit makes a a leaf again.
func TestOrbitThroughSeed(t *testing.T) {
	var moon *world.World
	root, leaves := startNetWith(t, 2, func(i int, c *Config) {
		if i != 1 {
			return
		}
		pub, priv, err := c25519.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		ep := c.Conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
		moon = &world.World{Type: world.TypeMoon, ID: uint64(c.Identity.Address), Timestamp: 1234, UpdatesMustBeSignedBy: pub,
			Roots: []world.Root{{Identity: c.Identity.PublicOnly(), StableEndpoints: []netip.AddrPort{ep}}}}
		if err := moon.Sign(&priv); err != nil {
			t.Fatal(err)
		}
		// a holds its own moon (as a moons.d file would give it).
		c.Topology.Orbit(moon.ID, c.Identity.Address)
		if ok, err := c.Topology.Offer(moon); !ok || err != nil {
			t.Fatalf("moon root's own moon: %v %v", ok, err)
		}
	})
	a, b := leaves[0], leaves[1]
	waitReady(t, root, leaves)
	if !a.AmRoot() {
		t.Fatal("a moon root should serve as a root")
	}
	role := func() string {
		p, ok := b.Peer(a.Address())
		if !ok {
			return ""
		}
		return p.Role
	}
	if held, err := b.Orbit(moon.ID, a.Address()); held || err != nil {
		t.Fatalf("orbit: held %v err %v", held, err)
	}
	waitFor(t, "b receiving the moon from its seed", func() bool { return len(b.Topology().Moons()) == 1 })
	if got := b.Topology().Moons()[0]; got.ID != moon.ID || got.Timestamp != moon.Timestamp {
		t.Fatalf("moon %x/%d", got.ID, got.Timestamp)
	}
	if len(b.Topology().Seeds()) != 0 {
		t.Fatal("seed kept after the moon arrived")
	}
	waitFor(t, "a as b's MOON upstream with a direct path", func() bool {
		return role() == "MOON" && hasDirectPath(b.Node, a.Address())
	})
	if err := b.Deorbit(moon.ID); err != nil {
		t.Fatal(err)
	}
	if role() != "LEAF" || len(b.Topology().Moons()) != 0 {
		t.Fatalf("after deorbit: role %q, %d moons", role(), len(b.Topology().Moons()))
	}
}
