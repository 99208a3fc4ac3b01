package topology

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/world"
)

func mkWorld(t *testing.T, typ world.Type, id, ts uint64, root *identity.Identity, priv *c25519.PrivateKey, pub c25519.PublicKey) *world.World {
	t.Helper()
	w := &world.World{Type: typ, ID: id, Timestamp: ts, UpdatesMustBeSignedBy: pub,
		Roots: []world.Root{{Identity: root.PublicOnly(), StableEndpoints: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:9993")}}}}
	if err := w.Sign(priv); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestLoadPrecedenceMoonsAndUpdates(t *testing.T) {
	home := t.TempDir()
	// No planet file: the embedded default is used and written.
	top, err := Load(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	if top.Planet().ID != world.EarthID {
		t.Fatalf("planet %x, want Earth", top.Planet().ID)
	}
	if b, err := os.ReadFile(filepath.Join(home, PlanetFile)); err != nil || string(b) != string(world.DefaultPlanetBytes()) {
		t.Fatal("default planet not written to home/planet")
	}
	if len(top.Upstreams(0)) != 4 || top.Role(top.Upstreams(0)[0].Identity.Address) != RolePlanet {
		t.Fatal("Earth should give 4 PLANET upstreams")
	}

	root, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := c25519.Generate(nil)
	planet := mkWorld(t, world.TypePlanet, 0x7e57, 100, root, &priv, pub)
	pb, _ := planet.MarshalBinary()
	if err := os.WriteFile(filepath.Join(home, PlanetFile), pb, 0o644); err != nil {
		t.Fatal(err)
	}
	moonRoot, _ := identity.Generate(nil)
	mpub, mpriv, _ := c25519.Generate(nil)
	moon := mkWorld(t, world.TypeMoon, uint64(moonRoot.Address), 5, moonRoot, &mpriv, mpub)
	mb, _ := moon.MarshalBinary()
	os.MkdirAll(filepath.Join(home, MoonsDir), 0o755)
	os.WriteFile(filepath.Join(home, MoonsDir, "0000000000000000.txt"), []byte("ignored"), 0o644)
	if err := os.WriteFile(filepath.Join(home, MoonsDir, "000000"+moonRoot.Address.String()+".moon"), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	top, err = Load(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	if top.Planet().ID != 0x7e57 {
		t.Fatalf("a custom planet file must win over the default; got %x", top.Planet().ID)
	}
	if !top.AmRoot(root.Address) || top.Role(moonRoot.Address) != RoleMoon || len(top.Upstreams(root.Address)) != 1 {
		t.Fatalf("roles: amRoot %v moon role %v upstreams %d", top.AmRoot(root.Address), top.Role(moonRoot.Address), len(top.Upstreams(root.Address)))
	}

	// Updates: a signed newer planet is accepted and persisted; a forged or
	// older one is not.
	newer := mkWorld(t, world.TypePlanet, 0x7e57, 200, root, &priv, pub)
	opub, opriv, _ := c25519.Generate(nil)
	forged := mkWorld(t, world.TypePlanet, 0x7e57, 300, root, &opriv, opub)
	if ok, _ := top.Offer(forged); ok {
		t.Fatal("planet signed by another key accepted")
	}
	if ok, err := top.Offer(newer); !ok || err != nil {
		t.Fatalf("newer planet refused: %v", err)
	}
	if ok, _ := top.Offer(planet); ok {
		t.Fatal("older planet accepted")
	}
	b, _ := os.ReadFile(filepath.Join(home, PlanetFile))
	if w, err := world.Parse(b); err != nil || w.Timestamp != 200 {
		t.Fatal("accepted planet not persisted")
	}
	if u := top.Updates(0x7e57, 100, map[uint64]uint64{moon.ID: 1}); len(u) != 2 {
		t.Fatalf("updates for an old planet and moon: %d worlds, want 2", len(u))
	}
	if u := top.Updates(0x7e57, 200, nil); len(u) != 0 {
		t.Fatal("update offered for a current planet")
	}

	// An override of the wrong type is an error.
	if _, err := Load(t.TempDir(), mb); err == nil {
		t.Fatal("a moon given as the planet was accepted")
	}
}
