package topology

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"ztnc/zerotier/address"
	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/world"
)

// TestOrbitSeedsAndDeorbit: orbiting with a seed waits for the moon; only
// a copy naming the seed among its roots is accepted (then persisted and
// its roots become MOON upstreams); a file in moons.d is taken directly;
// deorbit removes moon, seed and file.
func TestOrbitSeedsAndDeorbit(t *testing.T) {
	home := t.TempDir()
	top, err := Load(home, nil)
	if err != nil {
		t.Fatal(err)
	}
	moonRoot, _ := identity.Generate(nil)
	other, _ := identity.Generate(nil)
	mpub, mpriv, _ := c25519.Generate(nil)
	id := uint64(moonRoot.Address)
	moon := mkWorld(t, world.TypeMoon, id, 5, moonRoot, &mpriv, mpub)
	file := filepath.Join(home, MoonsDir, "000000"+moonRoot.Address.String()+".moon")

	// Unknown moon, no seed: nothing happens, and nothing is accepted.
	if held, err := top.Orbit(id, 0); held || err != nil || len(top.Seeds()) != 0 {
		t.Fatalf("orbit without seed: held %v err %v seeds %v", held, err, top.Seeds())
	}
	if ok, _ := top.Offer(moon); ok {
		t.Fatal("unsolicited moon accepted")
	}
	// Seeded by a non-root: the moon does not name it, so it is refused.
	if held, _ := top.Orbit(id, other.Address); held {
		t.Fatal("held before receiving")
	}
	top.Orbit(id, other.Address) // twice: one seed
	if s := top.Seeds(); len(s) != 1 || s[0] != (Seed{id, other.Address}) {
		t.Fatalf("seeds %v", s)
	}
	if !top.AcceptsWorldsFrom(other.Address) || top.AcceptsWorldsFrom(moonRoot.Address) {
		t.Fatal("AcceptsWorldsFrom should name exactly the seed")
	}
	if ok, _ := top.Offer(moon); ok {
		t.Fatal("moon accepted from a seed that is not one of its roots")
	}
	// Seeded by its root: wanted in HELLOs, accepted, persisted, seed gone.
	top.Orbit(id, moonRoot.Address)
	if w := top.WantedMoons(); len(w) != 1 || w[0] != id {
		t.Fatalf("wanted %x", w)
	}
	if ok, err := top.Offer(moon); !ok || err != nil {
		t.Fatalf("seeded moon refused: %v", err)
	}
	if s := top.Seeds(); len(s) != 1 || s[0].Root != other.Address {
		t.Fatalf("seeds after accepting: %v (the matching seed should go)", s)
	}
	if top.Role(moonRoot.Address) != RoleMoon || !top.IsUpstream(moonRoot.Address) {
		t.Fatal("moon root is not an upstream")
	}
	if b, err := os.ReadFile(file); err != nil || len(b) == 0 {
		t.Fatalf("moon not persisted: %v", err)
	}

	// Deorbit: moon, remaining seed and file go.
	if err := top.Deorbit(id); err != nil {
		t.Fatal(err)
	}
	if len(top.Moons()) != 0 || len(top.Seeds()) != 0 || top.IsUpstream(moonRoot.Address) {
		t.Fatal("deorbit left the moon or its seeds")
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("moon file still there: %v", err)
	}

	// A file in moons.d is orbited directly, no seed needed.
	b, _ := moon.MarshalBinary()
	os.MkdirAll(filepath.Join(home, MoonsDir), 0o755)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if held, err := top.Orbit(id, 0); !held || err != nil {
		t.Fatalf("orbit from file: held %v err %v", held, err)
	}
	if top.Role(moonRoot.Address) != RoleMoon {
		t.Fatal("moon from file not used")
	}
	// A file with another moon's ID under this name is not taken.
	top.Deorbit(id)
	os.WriteFile(filepath.Join(home, MoonsDir, "0000000000000001.moon"), b, 0o644)
	if held, _ := top.Orbit(1, address.Address(5)); held {
		t.Fatal("moon file with a mismatched ID accepted")
	}
}
