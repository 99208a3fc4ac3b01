package world

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/identity"
)

func endpointString(ap netip.AddrPort) string {
	return ap.Addr().String() + "/" + strconv.Itoa(int(ap.Port()))
}

// TestDefaultPlanet: the embedded planet parses to the values in vl1-kat.json,
// re-serializes byte for byte, is validly self-signed, and its four root
// identities pass local validation.
func TestDefaultPlanet(t *testing.T) {
	raw, err := os.ReadFile("testdata/vl1-kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var kat struct {
		P struct {
			Hex        string `json:"hex"`
			Length     int    `json:"length"`
			Type       int    `json:"type"`
			WorldID    uint64 `json:"world_id"`
			Timestamp  uint64 `json:"timestamp_ms"`
			UpdatesKey string `json:"updates_must_be_signed_by"`
			Signature  string `json:"signature"`
			Roots      []struct {
				Identity  string   `json:"identity"`
				Endpoints []string `json:"stable_endpoints"`
			} `json:"roots"`
		} `json:"default_planet"`
	}
	if err := json.Unmarshal(raw, &kat); err != nil {
		t.Fatal(err)
	}
	b := DefaultPlanetBytes()
	if hex.EncodeToString(b) != kat.P.Hex || len(b) != kat.P.Length {
		t.Fatal("embedded default planet differs from vl1-kat.json")
	}
	w := DefaultPlanet()
	if int(w.Type) != kat.P.Type || w.ID != kat.P.WorldID || w.ID != EarthID || w.Timestamp != kat.P.Timestamp ||
		hex.EncodeToString(w.UpdatesMustBeSignedBy[:]) != kat.P.UpdatesKey || hex.EncodeToString(w.Signature[:]) != kat.P.Signature {
		t.Errorf("header fields: %+v", w)
	}
	if len(w.Roots) != len(kat.P.Roots) {
		t.Fatalf("%d roots", len(w.Roots))
	}
	for i, r := range w.Roots {
		if r.Identity.String() != kat.P.Roots[i].Identity {
			t.Errorf("root %d identity %s", i, r.Identity)
		}
		var eps []string
		for _, ep := range r.StableEndpoints {
			eps = append(eps, endpointString(ep))
		}
		if strings.Join(eps, ",") != strings.Join(kat.P.Roots[i].Endpoints, ",") {
			t.Errorf("root %d endpoints %v want %v", i, eps, kat.P.Roots[i].Endpoints)
		}
		if err := r.Identity.LocallyValidate(); err != nil {
			t.Errorf("root %d: %v", i, err)
		}
	}
	out, err := w.MarshalBinary()
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("re-serialization differs: %v", err)
	}
	if err := w.VerifySelf(); err != nil {
		t.Fatalf("default planet signature: %v", err)
	}
}

type labPlanet struct {
	WorldID    string `json:"world_id"`
	Timestamp  uint64 `json:"timestamp_ms"`
	SigningPub string `json:"signing_key_public"`
	SigningSec string `json:"signing_key_secret"`
	Signature  string `json:"signature"`
	Roots      []struct {
		IdentityPublic  string   `json:"identity_public"`
		StableEndpoints []string `json:"stable_endpoints"`
	} `json:"roots"`
}

func loadLab(t *testing.T) (*World, []byte, labPlanet) {
	t.Helper()
	h, err := os.ReadFile("testdata/planet-lab.hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		t.Fatal(err)
	}
	j, err := os.ReadFile("testdata/planet-lab.json")
	if err != nil {
		t.Fatal(err)
	}
	var meta labPlanet
	if err := json.Unmarshal(j, &meta); err != nil {
		t.Fatal(err)
	}
	w, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return w, b, meta
}

// TestLabPlanet: a planet minted by zerotier-idtool genmoon (1.14.1). Re-signing
// it with the published lab key must reproduce the signature exactly (Ed25519
// is deterministic), which checks the signed-message layout byte for byte.
func TestLabPlanet(t *testing.T) {
	w, b, meta := loadLab(t)
	if w.Type != TypePlanet || hexU64(w.ID) != meta.WorldID || w.Timestamp != meta.Timestamp ||
		hex.EncodeToString(w.UpdatesMustBeSignedBy[:]) != meta.SigningPub || len(w.Roots) != 1 ||
		w.Roots[0].Identity.String() != meta.Roots[0].IdentityPublic ||
		endpointString(w.Roots[0].StableEndpoints[0]) != meta.Roots[0].StableEndpoints[0] {
		t.Fatalf("fields: %+v", w)
	}
	if err := w.VerifySelf(); err != nil {
		t.Fatal(err)
	}
	var priv c25519.PrivateKey
	sk, _ := hex.DecodeString(meta.SigningSec)
	copy(priv[:], sk)
	re := *w
	re.Signature = [96]byte{}
	if err := re.Sign(&priv); err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(re.Signature[:]) != meta.Signature {
		t.Fatalf("re-signed %x", re.Signature)
	}
	if out, _ := w.MarshalBinary(); !bytes.Equal(out, b) {
		t.Fatal("re-serialization differs")
	}
}

func hexU64(v uint64) string {
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (56 - 8*i))
	}
	return hex.EncodeToString(b[:])
}

// TestUpdateRule: newer and properly signed replaces; everything else does not.
func TestUpdateRule(t *testing.T) {
	cur, _, meta := loadLab(t)
	var oldPriv c25519.PrivateKey
	sk, _ := hex.DecodeString(meta.SigningSec)
	copy(oldPriv[:], sk)

	// Key rotation: signed with the old key, embedding a new one.
	newPub, newPriv, err := c25519.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	next := *cur
	next.Timestamp++
	next.UpdatesMustBeSignedBy = newPub
	next.Roots = append([]Root(nil), cur.Roots...)
	next.Roots[0].StableEndpoints = []netip.AddrPort{netip.MustParseAddrPort("[fd00::1]:9993")}
	if err := next.Sign(&oldPriv); err != nil {
		t.Fatal(err)
	}
	if !cur.ShouldBeReplacedBy(&next) {
		t.Fatal("valid update rejected")
	}
	if next.VerifySelf() == nil {
		t.Fatal("rotated world should not verify with its own new key")
	}
	// Round trip through bytes.
	nb, _ := next.MarshalBinary()
	parsed, err := Parse(nb)
	if err != nil || !cur.ShouldBeReplacedBy(parsed) {
		t.Fatalf("parsed update: %v", err)
	}
	// The next update must be signed with the new key.
	third := next
	third.Timestamp++
	third.Sign(&oldPriv)
	if next.ShouldBeReplacedBy(&third) {
		t.Fatal("update signed with the retired key accepted")
	}
	third.Sign(&newPriv)
	if !next.ShouldBeReplacedBy(&third) {
		t.Fatal("update signed with the new key rejected")
	}

	same := *cur
	if cur.ShouldBeReplacedBy(&same) {
		t.Error("same timestamp accepted")
	}
	otherID := next
	otherID.ID++
	otherID.Sign(&oldPriv)
	if cur.ShouldBeReplacedBy(&otherID) {
		t.Error("different ID accepted")
	}
	moon := next
	moon.Type = TypeMoon
	moon.Sign(&oldPriv)
	if cur.ShouldBeReplacedBy(&moon) {
		t.Error("different type accepted")
	}
	forged := next
	forged.Timestamp += 10
	if cur.ShouldBeReplacedBy(&forged) {
		t.Error("stale signature accepted")
	}
	// A null world takes anything, without a signature check (first copy).
	if !(&World{}).ShouldBeReplacedBy(&forged) || !(*World)(nil).ShouldBeReplacedBy(&forged) {
		t.Error("null world did not accept first copy")
	}
}

func TestMoonRoundTrip(t *testing.T) {
	id, err := identity.Parse("8e4df28b72:0:ac3d46abe0c21f3cfe7a6c8d6a85cfcffcb82fbd55af6a4d6350657c68200843fa2e16f9418bbd9702cae365f2af5fb4c420908b803a681d4daef6114d78a2d7")
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := c25519.Generate(nil)
	m := &World{Type: TypeMoon, ID: 0x8e4df28b72, Timestamp: 7, UpdatesMustBeSignedBy: pub,
		Roots: []Root{{Identity: id, StableEndpoints: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:9993")}}}}
	if err := m.Sign(&priv); err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if b[len(b)-2] != 0 || b[len(b)-1] != 0 {
		t.Fatal("moon dictionary length not written")
	}
	// A non-empty dictionary from some other writer is skipped.
	withDict := append(append(append([]byte(nil), b[:len(b)-2]...), 0, 3), 'a', 'b', 'c')
	for _, in := range [][]byte{b, withDict} {
		got, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := got.VerifySelf(); err != nil {
			t.Fatal(err)
		}
	}
	// Two concatenated worlds, as in OK(HELLO).
	two := append(append([]byte(nil), b...), DefaultPlanetBytes()...)
	w1, n, err := Decode(two)
	if err != nil || w1.Type != TypeMoon {
		t.Fatal(err)
	}
	if w2, _, err := Decode(two[n:]); err != nil || w2.ID != EarthID {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	good := DefaultPlanetBytes()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":       nil,
		"short":       good[:100],
		"type 2":      mut(func(b []byte) []byte { b[0] = 2; return b }),
		"5 roots":     mut(func(b []byte) []byte { b[177] = 5; return b }),
		"trunc root":  good[:200],
		"trunc ep":    good[:len(good)-3],
		"trailing":    append(append([]byte(nil), good...), 0),
		"bad id type": mut(func(b []byte) []byte { b[178+5] = 1; return b }),
		"33 eps":      mut(func(b []byte) []byte { b[178+71] = 33; return b }),
	}
	for name, b := range cases {
		if _, err := Parse(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	w := DefaultPlanet()
	w.Signature[5] ^= 1
	if err := w.VerifySelf(); !errors.Is(err, ErrSignature) {
		t.Errorf("tampered signature: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(DefaultPlanetBytes())
	f.Add(DefaultPlanetBytes()[:300])
	f.Fuzz(func(t *testing.T, b []byte) {
		w, n, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
			return
		}
		if n > len(b) || n > MaxSerializedSize {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		if _, err := w.MarshalBinary(); err != nil {
			t.Fatalf("decoded world does not serialize: %v", err)
		}
		w.VerifySelf() // must not panic
	})
}
