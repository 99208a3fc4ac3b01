// Package topology holds a node's worlds: the planet and its moons, and what
// follows from them — the upstream (root) identities with their stable
// endpoints, each peer's role, and whether this node is itself a root. It
// loads and persists them in ZeroTier One's home layout (`planet`,
// `moons.d/<16 hex>.moon`) with 1.14's precedence rules (VL1.md 6.4).
package topology

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"ztnc/zerotier/address"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/world"
)

// File names in the home directory.
const (
	PlanetFile = "planet"
	MoonsDir   = "moons.d"
)

// Role is a peer's role as the API reports it.
type Role int

const (
	RoleLeaf Role = iota
	RoleMoon
	RolePlanet
)

func (r Role) String() string {
	switch r {
	case RolePlanet:
		return "PLANET"
	case RoleMoon:
		return "MOON"
	}
	return "LEAF"
}

// Topology is safe for concurrent use.
type Topology struct {
	mu     sync.RWMutex
	home   string // "" = do not persist
	planet *world.World
	moons  map[uint64]*world.World
	seeds  []Seed // moons orbited but not yet received, in orbit order
}

// Seed is a moon we orbit through one of its roots and have not received
// yet (1.14's _moonSeeds).
type Seed struct {
	MoonID uint64
	Root   address.Address
}

// New builds a topology from an explicit planet (nil: the embedded default)
// without touching the disk.
func New(planet *world.World) *Topology {
	if planet == nil {
		planet = world.DefaultPlanet()
	}
	return &Topology{planet: planet, moons: map[uint64]*world.World{}}
}

// moonPath is where a moon is kept in the home directory.
func (t *Topology) moonPath(id uint64) string {
	return filepath.Join(t.home, MoonsDir, fmt.Sprintf("%016x.moon", id))
}

// Load reads home/planet and home/moons.d/*.moon the way 1.14 does: a usable
// planet file wins (first copy, unsigned check), then the embedded default
// planet is offered and replaces it only as a signed newer update of the same
// world. override, if not nil, is treated as the planet file's content (and
// written there). The accepted planet is written back to home/planet.
func Load(home string, override []byte) (*Topology, error) {
	t := &Topology{home: home, moons: map[uint64]*world.World{}}
	planetPath := filepath.Join(home, PlanetFile)
	b := override
	if b == nil {
		var err error
		b, err = os.ReadFile(planetPath)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("topology: read planet: %w", err)
		}
	}
	if len(b) > 0 {
		w, err := world.Parse(b)
		switch {
		case err != nil:
			if override != nil {
				return nil, fmt.Errorf("topology: planet: %w", err)
			}
			slog.Warn("ignoring unparsable planet file", "file", planetPath, "err", err)
		case w.Type != world.TypePlanet:
			if override != nil {
				return nil, fmt.Errorf("topology: planet file holds a %v, not a planet", w.Type)
			}
			slog.Warn("ignoring planet file of the wrong type", "file", planetPath, "type", w.Type)
		default:
			t.planet = w
		}
	}
	if def := world.DefaultPlanet(); t.planet.ShouldBeReplacedBy(def) {
		t.planet = def
	}
	if err := t.persist(t.planet); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(home, MoonsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("topology: %w", err)
	}
	for _, e := range ents {
		stem, ok := strings.CutSuffix(e.Name(), ".moon")
		if !ok || len(stem) != 16 || e.IsDir() {
			continue
		}
		mb, err := os.ReadFile(filepath.Join(home, MoonsDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("topology: %w", err)
		}
		m, err := world.Parse(mb)
		if err != nil || m.Type != world.TypeMoon {
			slog.Warn("ignoring unusable moon file", "file", e.Name(), "err", err)
			continue
		}
		t.moons[m.ID] = m
	}
	return t, nil
}

// persist writes an accepted world to the home directory.
func (t *Topology) persist(w *world.World) error {
	if t.home == "" {
		return nil
	}
	b, err := w.MarshalBinary()
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	p := filepath.Join(t.home, PlanetFile)
	if w.Type == world.TypeMoon {
		if err := os.MkdirAll(filepath.Join(t.home, MoonsDir), 0o755); err != nil {
			return fmt.Errorf("topology: %w", err)
		}
		p = t.moonPath(w.ID)
	}
	if cur, err := os.ReadFile(p); err == nil && string(cur) == string(b) {
		return nil
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	return nil
}

// Planet returns the current planet.
func (t *Topology) Planet() *world.World {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.planet
}

// Moons returns the current moons.
func (t *Topology) Moons() []*world.World {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*world.World, 0, len(t.moons))
	for _, m := range t.moons {
		out = append(out, m)
	}
	return out
}

// Upstream is a root of the planet or of a moon.
type Upstream struct {
	Identity        *identity.Identity
	StableEndpoints []netip.AddrPort
	Role            Role
}

// Upstreams lists all planet and moon roots except self (1.14's upstream set).
func (t *Topology) Upstreams(self address.Address) []Upstream {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []Upstream
	seen := map[address.Address]bool{self: true}
	add := func(w *world.World, role Role) {
		for _, r := range w.Roots {
			if seen[r.Identity.Address] {
				continue
			}
			seen[r.Identity.Address] = true
			out = append(out, Upstream{Identity: r.Identity, StableEndpoints: r.StableEndpoints, Role: role})
		}
	}
	add(t.planet, RolePlanet)
	for _, m := range t.moons {
		add(m, RoleMoon)
	}
	return out
}

// Role of addr: PLANET or MOON if it is a root of a world we hold.
func (t *Topology) Role(addr address.Address) Role {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, r := range t.planet.Roots {
		if r.Identity.Address == addr {
			return RolePlanet
		}
	}
	for _, m := range t.moons {
		for _, r := range m.Roots {
			if r.Identity.Address == addr {
				return RoleMoon
			}
		}
	}
	return RoleLeaf
}

// IsUpstream reports whether addr is a planet or moon root.
func (t *Topology) IsUpstream(addr address.Address) bool { return t.Role(addr) != RoleLeaf }

// AmRoot reports whether self is a root of a world we hold, which makes this
// node serve as a root (relay for anyone, answer WHOIS without limit,
// introduce peers).
func (t *Topology) AmRoot(self address.Address) bool { return t.IsUpstream(self) }

// RootEndpoints returns addr's stable endpoints if it is a root (nil if not,
// or if its worlds list none).
func (t *Topology) RootEndpoints(addr address.Address) []netip.AddrPort {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []netip.AddrPort
	for _, r := range t.planet.Roots {
		if r.Identity.Address == addr {
			out = append(out, r.StableEndpoints...)
		}
	}
	for _, m := range t.moons {
		for _, r := range m.Roots {
			if r.Identity.Address == addr {
				out = append(out, r.StableEndpoints...)
			}
		}
	}
	return out
}

// Offer applies a world received in OK(HELLO) from an upstream or a moon
// seed (see AcceptsWorldsFrom), as 1.14's Topology::addWorld: a planet or
// known moon is replaced only by a newer one signed with the current key
// (shouldBeReplacedBy); an unknown moon is accepted, unsigned as a first
// copy, only if a pending seed names its ID and one of its roots, and that
// seed is then dropped. It reports whether the world was accepted.
func (t *Topology) Offer(w *world.World) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch w.Type {
	case world.TypePlanet:
		if t.planet.ID != w.ID || !t.planet.ShouldBeReplacedBy(w) {
			return false, nil
		}
		t.planet = w
	case world.TypeMoon:
		if cur, ok := t.moons[w.ID]; ok {
			if !cur.ShouldBeReplacedBy(w) {
				return false, nil
			}
		} else if i := t.seedFor(w); i >= 0 {
			t.seeds = append(t.seeds[:i], t.seeds[i+1:]...)
		} else {
			return false, nil
		}
		t.moons[w.ID] = w
	default:
		return false, nil
	}
	return true, t.persist(w)
}

// seedFor returns the index of the first pending seed for moon w whose
// address is one of w's roots, or -1.
func (t *Topology) seedFor(w *world.World) int {
	for i, s := range t.seeds {
		if s.MoonID != w.ID {
			continue
		}
		for _, r := range w.Roots {
			if r.Identity.Address == s.Root {
				return i
			}
		}
	}
	return -1
}

// Orbit joins moon id (1.14's Topology::addMoon): if moons.d holds it, that
// copy is accepted as is (first copy, no signature check) and the moon's
// roots become upstreams at once; otherwise, given a seed (one of the
// moon's roots), the seed is remembered until the moon arrives in an
// OK(HELLO) from it. It reports whether the moon is now held.
func (t *Topology) Orbit(id uint64, seed address.Address) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.moons[id]; ok {
		return true, nil
	}
	if t.home != "" {
		b, err := os.ReadFile(t.moonPath(id))
		switch {
		case err == nil:
			if m, perr := world.Parse(b); perr == nil && m.Type == world.TypeMoon && m.ID == id {
				t.moons[id] = m
				return true, nil
			}
		case !errors.Is(err, fs.ErrNotExist):
			return false, fmt.Errorf("topology: %w", err)
		}
	}
	if seed != 0 && !slices.Contains(t.seeds, Seed{id, seed}) {
		t.seeds = append(t.seeds, Seed{id, seed})
	}
	return false, nil
}

// Deorbit leaves moon id: the moon, its file and its seeds go.
func (t *Topology) Deorbit(id uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.moons, id)
	t.seeds = slices.DeleteFunc(t.seeds, func(s Seed) bool { return s.MoonID == id })
	if t.home != "" {
		if err := os.Remove(t.moonPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("topology: %w", err)
		}
	}
	return nil
}

// Seeds returns the pending moon seeds.
func (t *Topology) Seeds() []Seed {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Clone(t.seeds)
}

// WantedMoons are the IDs of moons with a pending seed, each once; HELLOs
// list them with timestamp 0 so upstreams and seeds send them.
func (t *Topology) WantedMoons() []uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []uint64
	for _, s := range t.seeds {
		if !slices.Contains(out, s.MoonID) {
			out = append(out, s.MoonID)
		}
	}
	return out
}

// AcceptsWorldsFrom reports whether world updates in an OK(HELLO) from addr
// are considered: addr is an upstream or a pending moon seed (1.14's
// shouldAcceptWorldUpdateFrom).
func (t *Topology) AcceptsWorldsFrom(addr address.Address) bool {
	if t.IsUpstream(addr) {
		return true
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, s := range t.seeds {
		if s.Root == addr {
			return true
		}
	}
	return false
}

// Updates returns the worlds a peer's HELLO says it holds older copies of:
// our planet if it names the same planet with an older timestamp, and each
// listed moon we have a newer copy of (what 1.14 puts in OK(HELLO)).
func (t *Topology) Updates(planetID, planetTS uint64, moons map[uint64]uint64) []*world.World {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*world.World
	if t.planet.ID == planetID && t.planet.Timestamp > planetTS {
		out = append(out, t.planet)
	}
	for id, ts := range moons {
		if m, ok := t.moons[id]; ok && m.Timestamp > ts {
			out = append(out, m)
		}
	}
	return out
}
