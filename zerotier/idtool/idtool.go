// Package idtool implements zerotier-idtool's jobs (one.cpp, ZeroTier One
// 1.14.1) as functions: generate, validate, getpublic, sign, verify,
// initmoon, genmoon, and mkplanet (ours: genmoon for a planet, written as a
// HOME `planet` file, with an optional fixed timestamp so a planet can be
// reproduced byte for byte).
//
// The world JSON is initmoon's: keys sorted, one-space indent, as nlohmann's
// dump(1) writes it.
package idtool

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/world"
)

// IdentityFromArg does what getIdFromArg does: an argument longer than 32
// characters with ':' at index 10 is a literal identity, anything else names
// a file holding one.
func IdentityFromArg(arg string) (*identity.Identity, error) {
	if len(arg) > 32 && arg[10] == ':' {
		id, err := identity.Parse(arg)
		if err != nil {
			return nil, fmt.Errorf("identity literal: %w", err)
		}
		return id, nil
	}
	return identity.ReadFile(arg)
}

// Validate is `validate`: the address is the proof-of-work result of the
// public key, and (our addition) a present secret key matches the public one.
func Validate(id *identity.Identity) error {
	if err := id.LocallyValidate(); err != nil {
		return err
	}
	if id.HasPrivate() {
		return id.CheckPrivate()
	}
	return nil
}

// Sign is `sign`: the 96-byte signature of msg in lowercase hex.
func Sign(id *identity.Identity, msg []byte) (string, error) {
	sig, err := id.Sign(msg)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return hex.EncodeToString(sig), nil
}

// DecodeSignature reads a hex signature; surrounding whitespace (a newline
// in a file) is ignored.
func DecodeSignature(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*c25519.SignatureSize {
		return nil, fmt.Errorf("signature must be %d hex digits, got %d characters", 2*c25519.SignatureSize, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return b, nil
}

// WorldJSON is the world description of initmoon/genmoon. Timestamp is our
// extension: when set, genmoon/mkplanet use it instead of the clock.
type WorldJSON struct {
	ID                    string     `json:"id"`
	ObjType               string     `json:"objtype"`
	Roots                 []RootJSON `json:"roots"`
	SigningKey            string     `json:"signingKey"`
	SigningKeySecret      string     `json:"signingKey_SECRET"`
	Timestamp             *uint64    `json:"timestamp,omitempty"`
	UpdatesMustBeSignedBy string     `json:"updatesMustBeSignedBy"`
	WorldType             string     `json:"worldType"`
}

// RootJSON is one root: its public identity and "ip/port" endpoints.
type RootJSON struct {
	Identity        string   `json:"identity"`
	StableEndpoints []string `json:"stableEndpoints"`
}

// InitMoon is `initmoon`: a moon description with seed as its only root,
// a fresh signing key pair, and the seed's address as world ID. r supplies
// entropy (nil: crypto/rand).
func InitMoon(seed *identity.Identity, r io.Reader) ([]byte, error) {
	pub, priv, err := c25519.Generate(r)
	if err != nil {
		return nil, fmt.Errorf("initmoon: %w", err)
	}
	j := WorldJSON{
		ID: seed.Address.String(), ObjType: "world", WorldType: "moon",
		Roots:      []RootJSON{{Identity: seed.String(), StableEndpoints: []string{}}},
		SigningKey: hex.EncodeToString(pub[:]), SigningKeySecret: hex.EncodeToString(priv[:]),
		UpdatesMustBeSignedBy: hex.EncodeToString(pub[:]),
	}
	return MarshalWorldJSON(&j)
}

// MarshalWorldJSON writes j as nlohmann's dump(1) does (sorted keys, one
// space per level, no HTML escaping), with the trailing newline initmoon prints.
func MarshalWorldJSON(j *WorldJSON) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(j); err != nil {
		return nil, fmt.Errorf("world json: %w", err)
	}
	return buf.Bytes(), nil
}

// maxJSON bounds the world description read (a world is at most 8480 bytes
// binary; its JSON with secrets stays far below this).
const maxJSON = 1 << 20

// ParseWorldJSON decodes a world description, bounded and strict about types.
func ParseWorldJSON(b []byte) (*WorldJSON, error) {
	if len(b) > maxJSON {
		return nil, fmt.Errorf("world json: %d bytes exceeds %d", len(b), maxJSON)
	}
	var j WorldJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("world json: %w", err)
	}
	return &j, nil
}

// MakeWorld builds and signs the world j describes, as genmoon does: the ID
// is hex, roots are sorted by (address, public key) and each root's
// endpoints as ZeroTier's InetAddress operator< orders them; the signature
// is by signingKey_SECRET; updatesMustBeSignedBy is embedded. now is used
// when j has no timestamp. Unlike genmoon, malformed keys, identities and
// endpoints are errors rather than silently zero.
func MakeWorld(j *WorldJSON, now uint64) (*world.World, error) {
	w := &world.World{Timestamp: now}
	switch j.WorldType {
	case "moon":
		w.Type = world.TypeMoon
	case "planet":
		w.Type = world.TypePlanet
	default:
		return nil, fmt.Errorf("invalid worldType %q (want \"moon\" or \"planet\")", j.WorldType)
	}
	id, err := strconv.ParseUint(j.ID, 16, 64)
	if err != nil || id == 0 {
		return nil, fmt.Errorf("invalid id %q (want non-zero hex)", j.ID)
	}
	w.ID = id
	if j.Timestamp != nil {
		w.Timestamp = *j.Timestamp
	}
	var signPub c25519.PublicKey
	var signPriv c25519.PrivateKey
	if err := unhexKey(signPub[:], j.SigningKey, "signingKey"); err != nil {
		return nil, err
	}
	if err := unhexKey(signPriv[:], j.SigningKeySecret, "signingKey_SECRET"); err != nil {
		return nil, err
	}
	if derived, err := signPriv.Public(); err != nil || derived != signPub {
		return nil, errors.New("signingKey_SECRET does not match signingKey")
	}
	if err := unhexKey(w.UpdatesMustBeSignedBy[:], j.UpdatesMustBeSignedBy, "updatesMustBeSignedBy"); err != nil {
		return nil, err
	}
	if len(j.Roots) > world.MaxRoots {
		return nil, fmt.Errorf("%d roots exceed the limit of %d", len(j.Roots), world.MaxRoots)
	}
	for i, rj := range j.Roots {
		rid, err := identity.Parse(rj.Identity)
		if err != nil {
			return nil, fmt.Errorf("root %d: %w", i, err)
		}
		if len(rj.StableEndpoints) > world.MaxStableEndpointsPerRoot {
			return nil, fmt.Errorf("root %d: %d endpoints exceed the limit of %d", i, len(rj.StableEndpoints), world.MaxStableEndpointsPerRoot)
		}
		r := world.Root{Identity: rid.PublicOnly()}
		for _, s := range rj.StableEndpoints {
			ap, err := ParseEndpoint(s)
			if err != nil {
				return nil, fmt.Errorf("root %d: %w", i, err)
			}
			r.StableEndpoints = append(r.StableEndpoints, ap)
		}
		slices.SortStableFunc(r.StableEndpoints, compareInetAddress)
		w.Roots = append(w.Roots, r)
	}
	slices.SortStableFunc(w.Roots, func(a, b world.Root) int {
		if a.Identity.Address != b.Identity.Address {
			return cmp.Compare(a.Identity.Address, b.Identity.Address)
		}
		return bytes.Compare(a.Identity.Public[:], b.Identity.Public[:])
	})
	if err := w.Sign(&signPriv); err != nil {
		return nil, fmt.Errorf("sign world: %w", err)
	}
	if _, err := w.MarshalBinary(); err != nil {
		return nil, err
	}
	return w, nil
}

// ParseEndpoint reads ZeroTier's "ip/port" form (IPv4 or IPv6, no zone).
func ParseEndpoint(s string) (netip.AddrPort, error) {
	ip, port, ok := strings.Cut(s, "/")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("endpoint %q: want ip/port", s)
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("endpoint %q: bad IP address", s)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, fmt.Errorf("endpoint %q: bad port (1-65535)", s)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}

// compareInetAddress is InetAddress::operator< on a little-endian host (the
// reference builds for x86-64 and arm64): IPv4 before IPv6, then the port
// and the IPv4 address compared as native integers holding network-order
// bytes, i.e. byte-swapped; IPv6 addresses compare bytewise.
func compareInetAddress(a, b netip.AddrPort) int {
	if a.Addr().Is4() != b.Addr().Is4() {
		if a.Addr().Is4() {
			return -1
		}
		return 1
	}
	swap16 := func(p uint16) uint16 { return p<<8 | p>>8 }
	if c := int(swap16(a.Port())) - int(swap16(b.Port())); c != 0 {
		return c
	}
	if a.Addr().Is4() {
		x, y := a.Addr().As4(), b.Addr().As4()
		slices.Reverse(x[:])
		slices.Reverse(y[:])
		return bytes.Compare(x[:], y[:])
	}
	x, y := a.Addr().As16(), b.Addr().As16()
	return bytes.Compare(x[:], y[:])
}

func unhexKey(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%s must be %d hex digits, got %d", what, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// MoonFileName is the name genmoon writes: the world ID in 16 hex digits.
func MoonFileName(w *world.World) string { return fmt.Sprintf("%016x.moon", w.ID) }

// WriteSecretFile writes an identity.secret-style file with mode 0600 even
// when it already exists with a wider mode.
func WriteSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// NewPlanetJSON describes a planet with the given roots (each with its
// endpoints) and a fresh signing key that is also its update key, as
// initmoon + editing the JSON would. r supplies entropy (nil: crypto/rand).
func NewPlanetJSON(id uint64, roots []RootJSON, r io.Reader) (*WorldJSON, error) {
	pub, priv, err := c25519.Generate(r)
	if err != nil {
		return nil, fmt.Errorf("planet signing key: %w", err)
	}
	return &WorldJSON{
		ID: strconv.FormatUint(id, 16), ObjType: "world", WorldType: "planet", Roots: roots,
		SigningKey: hex.EncodeToString(pub[:]), SigningKeySecret: hex.EncodeToString(priv[:]),
		UpdatesMustBeSignedBy: hex.EncodeToString(pub[:]),
	}, nil
}

// EndpointString is ZeroTier's "ip/port" form of ap.
func EndpointString(ap netip.AddrPort) string {
	return ap.Addr().String() + "/" + strconv.Itoa(int(ap.Port()))
}
