// Package world implements ZeroTier 1.x worlds: the planet (the set of root
// servers every node uses) and moons (user-defined extra roots). It parses
// and serializes the signed binary form, checks and makes signatures, applies
// the update rule, and embeds the default planet shipped with ZeroTier One
// 1.8 through 1.14.1 (node/World.hpp, node/Topology.cpp).
//
// Layout (integers big-endian):
//
//	0    1   type: 1 planet, 127 moon
//	1    8   world ID
//	9    8   timestamp (revision)
//	17   64  updates-must-be-signed-by C25519 public key
//	81   96  signature
//	177  1   root count (<= 4)
//	178  …   roots: identity (71) || endpoint count (<= 32) || InetAddresses
//	moons only: BE uint16 dictionary length + dictionary (ignored; written as 0)
package world

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/inetaddr"
)

// Type is the world type byte.
type Type uint8

const (
	TypeNull   Type = 0
	TypePlanet Type = 1
	TypeMoon   Type = 127
)

func (t Type) String() string {
	switch t {
	case TypeNull:
		return "null"
	case TypePlanet:
		return "planet"
	case TypeMoon:
		return "moon"
	}
	return fmt.Sprintf("world-type(%d)", uint8(t))
}

// Limits and well-known IDs.
const (
	MaxRoots                  = 4
	MaxStableEndpointsPerRoot = 32
	MaxSerializedSize         = 8480
	EarthID                   = 149604618 // the default planet
	MarsID                    = 227883110 // reserved, unused
	headerSize                = 1 + 8 + 8 + c25519.PublicKeySize
)

// ErrInvalid is wrapped by all parse errors; ErrSignature by signature failures.
var (
	ErrInvalid   = errors.New("invalid world")
	ErrSignature = errors.New("world signature invalid")
)

// Root is one root server: its identity and the addresses it is reachable at.
type Root struct {
	Identity        *identity.Identity
	StableEndpoints []netip.AddrPort
}

// World is a planet or moon definition.
type World struct {
	Type                  Type
	ID                    uint64
	Timestamp             uint64
	UpdatesMustBeSignedBy c25519.PublicKey
	Signature             [c25519.SignatureSize]byte
	Roots                 []Root
}

// appendBody serializes the world. forSign omits the signature and wraps the
// result in the 0x7f / 0xf7 guard bytes that make up the signed message.
func (w *World) appendBody(b []byte, forSign bool) ([]byte, error) {
	if len(w.Roots) > MaxRoots {
		return nil, fmt.Errorf("world: %d roots exceed the limit of %d", len(w.Roots), MaxRoots)
	}
	if forSign {
		b = binary.BigEndian.AppendUint64(b, 0x7f7f7f7f7f7f7f7f)
	}
	b = append(b, byte(w.Type))
	b = binary.BigEndian.AppendUint64(b, w.ID)
	b = binary.BigEndian.AppendUint64(b, w.Timestamp)
	b = append(b, w.UpdatesMustBeSignedBy[:]...)
	if !forSign {
		b = append(b, w.Signature[:]...)
	}
	b = append(b, byte(len(w.Roots)))
	for _, r := range w.Roots {
		if r.Identity == nil {
			return nil, fmt.Errorf("world: root without identity")
		}
		if len(r.StableEndpoints) > MaxStableEndpointsPerRoot {
			return nil, fmt.Errorf("world: root %s has %d endpoints (max %d)", r.Identity.Address, len(r.StableEndpoints), MaxStableEndpointsPerRoot)
		}
		var err error
		if b, err = r.Identity.AppendBinary(b, false); err != nil {
			return nil, err
		}
		b = append(b, byte(len(r.StableEndpoints)))
		for _, ep := range r.StableEndpoints {
			b = inetaddr.Append(b, ep)
		}
	}
	if w.Type == TypeMoon {
		b = append(b, 0, 0) // empty dictionary
	}
	if forSign {
		b = binary.BigEndian.AppendUint64(b, 0xf7f7f7f7f7f7f7f7)
	}
	return b, nil
}

// MarshalBinary returns the serialized (signed) world.
func (w *World) MarshalBinary() ([]byte, error) { return w.appendBody(nil, false) }

// AppendBinary appends the serialized world (worlds travel concatenated in OK(HELLO)).
func (w *World) AppendBinary(b []byte) ([]byte, error) { return w.appendBody(b, false) }

// SigningMessage is the byte string the signature covers.
func (w *World) SigningMessage() ([]byte, error) { return w.appendBody(nil, true) }

// Sign sets Signature using the secret key matching UpdatesMustBeSignedBy of
// the world this one is meant to replace (key rotation: sign with the old key
// and embed the new key in UpdatesMustBeSignedBy).
func (w *World) Sign(priv *c25519.PrivateKey) error {
	msg, err := w.SigningMessage()
	if err != nil {
		return err
	}
	w.Signature = c25519.Sign(priv, msg)
	return nil
}

// VerifyWith checks the signature against a given updates key (that of the
// world currently held).
func (w *World) VerifyWith(key *c25519.PublicKey) error {
	msg, err := w.SigningMessage()
	if err != nil {
		return err
	}
	if err := c25519.Verify(key, msg, w.Signature[:]); err != nil {
		return fmt.Errorf("%w: world %016x@%d: %w", ErrSignature, w.ID, w.Timestamp, err)
	}
	return nil
}

// VerifySelf checks the signature against the world's own updates key, which
// is how a freshly minted (self-signed) planet or moon is signed.
func (w *World) VerifySelf() error { return w.VerifyWith(&w.UpdatesMustBeSignedBy) }

// ShouldBeReplacedBy implements World::shouldBeReplacedBy: a null current
// world is replaced by anything (no signature check: the first copy is
// trusted); otherwise the candidate must have the same ID and type, a newer
// timestamp, and a signature by the current world's updates key.
func (w *World) ShouldBeReplacedBy(c *World) bool {
	if c == nil {
		return false
	}
	if w == nil || w.Type == TypeNull {
		return true
	}
	return c.ID == w.ID && c.Type == w.Type && c.Timestamp > w.Timestamp && c.VerifyWith(&w.UpdatesMustBeSignedBy) == nil
}

// Decode reads one world from the start of b and returns it with the number
// of bytes consumed. Reserved/nil endpoint encodings are skipped; private
// keys in root identities are discarded.
func Decode(b []byte) (*World, int, error) {
	if len(b) < headerSize+c25519.SignatureSize+1 {
		return nil, 0, fmt.Errorf("%w: %d bytes is too short", ErrInvalid, len(b))
	}
	w := &World{Type: Type(b[0])}
	if w.Type != TypePlanet && w.Type != TypeMoon && w.Type != TypeNull {
		return nil, 0, fmt.Errorf("%w: unknown type %d", ErrInvalid, b[0])
	}
	w.ID = binary.BigEndian.Uint64(b[1:])
	w.Timestamp = binary.BigEndian.Uint64(b[9:])
	copy(w.UpdatesMustBeSignedBy[:], b[17:81])
	copy(w.Signature[:], b[81:177])
	nroots := int(b[177])
	if nroots > MaxRoots {
		return nil, 0, fmt.Errorf("%w: %d roots (max %d)", ErrInvalid, nroots, MaxRoots)
	}
	off := 178
	for i := 0; i < nroots; i++ {
		id, n, err := identity.Decode(b[off:], false)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: root %d: %w", ErrInvalid, i, err)
		}
		off += n
		if off >= len(b) {
			return nil, 0, fmt.Errorf("%w: root %d: missing endpoint count", ErrInvalid, i)
		}
		nep := int(b[off])
		off++
		if nep > MaxStableEndpointsPerRoot {
			return nil, 0, fmt.Errorf("%w: root %s: %d endpoints (max %d)", ErrInvalid, id.Address, nep, MaxStableEndpointsPerRoot)
		}
		r := Root{Identity: id}
		for j := 0; j < nep; j++ {
			ap, n, err := inetaddr.Decode(b[off:])
			if err != nil {
				return nil, 0, fmt.Errorf("%w: root %s endpoint %d: %w", ErrInvalid, id.Address, j, err)
			}
			off += n
			if ap.IsValid() {
				r.StableEndpoints = append(r.StableEndpoints, ap)
			}
		}
		w.Roots = append(w.Roots, r)
	}
	if w.Type == TypeMoon {
		if off+2 > len(b) {
			return nil, 0, fmt.Errorf("%w: moon dictionary length missing", ErrInvalid)
		}
		off += 2 + int(binary.BigEndian.Uint16(b[off:]))
		if off > len(b) {
			return nil, 0, fmt.Errorf("%w: moon dictionary truncated", ErrInvalid)
		}
	}
	if off > MaxSerializedSize {
		return nil, 0, fmt.Errorf("%w: %d bytes exceeds %d", ErrInvalid, off, MaxSerializedSize)
	}
	return w, off, nil
}

// Parse decodes exactly one world; trailing bytes are an error.
func Parse(b []byte) (*World, error) {
	w, n, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrInvalid, len(b)-n)
	}
	return w, nil
}
