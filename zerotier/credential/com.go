// Package credential holds ZeroTier's network credentials (VL2.md section
// 5): the certificate of membership (COM), capabilities, tags, certificates
// of ownership (COO) and revocations, with their binary forms, signing by a
// network controller, verification, and the NETWORK_CREDENTIALS payload.
package credential

import (
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"

	"ztnc/zerotier/address"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/internal/wire"
)

// ErrMalformed is wrapped by decoding errors; ErrSignature by verification
// failures.
var (
	ErrMalformed = errors.New("malformed credential")
	ErrSignature = errors.New("credential signature invalid")
)

// Credential type codes (node/Credential.hpp).
const (
	TypeNull       = 0
	TypeCOM        = 1
	TypeCapability = 2
	TypeTag        = 3
	TypeCOO        = 4
	TypeRevocation = 6
)

// SignatureSize is the C25519 signature length.
const SignatureSize = 96

// COM qualifier IDs.
const (
	QualTimestamp = 0
	QualNetworkID = 1
	QualIssuedTo  = 2
	// 3..6 hold the SHA-384 prefix of the member's identity.
	QualIdentityHash0 = 3

	MaxQualifiers = 8
	comFormat     = 1
)

// Credential time max delta (ctmd) default and bounds, in ms.
const (
	DefaultMaxDelta = 1_800_000
	MinMaxDelta     = 300_000
	MaxMaxDelta     = 7_200_000
)

// Qualifier is one (id, value, maxDelta) tuple of a COM.
type Qualifier struct {
	ID, Value, MaxDelta uint64
}

// COM is a certificate of membership.
type COM struct {
	Qualifiers []Qualifier
	Signer     address.Address // 0 = unsigned
	Signature  []byte
}

func malformed(what, f string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, what, fmt.Sprintf(f, a...))
}

// IdentityHash is SHA-384(address ‖ public key), the value the COM's
// qualifiers 3..6 carry (first 32 bytes).
func IdentityHash(id *identity.Identity) [48]byte {
	b := wire.AppendU40(nil, uint64(id.Address))
	b = append(b, id.Public[:]...)
	return sha512.Sum384(b)
}

// NewCOM builds the 7-qualifier COM a 1.14 controller issues.
func NewCOM(timestamp int64, maxDelta uint64, nwid uint64, member *identity.Identity) *COM {
	h := IdentityHash(member)
	c := &COM{Qualifiers: []Qualifier{
		{QualTimestamp, uint64(timestamp), maxDelta},
		{QualNetworkID, nwid, 0},
		{QualIssuedTo, uint64(member.Address), ^uint64(0)},
	}}
	for i := 0; i < 4; i++ {
		c.Qualifiers = append(c.Qualifiers, Qualifier{uint64(QualIdentityHash0 + i), binary.BigEndian.Uint64(h[8*i:]), ^uint64(0)})
	}
	return c
}

func (c *COM) get(id uint64) (uint64, bool) {
	for _, q := range c.Qualifiers {
		if q.ID == id {
			return q.Value, true
		}
	}
	return 0, false
}

// Timestamp, NetworkID and IssuedTo read the standard qualifiers.
func (c *COM) Timestamp() int64  { v, _ := c.get(QualTimestamp); return int64(v) }
func (c *COM) NetworkID() uint64 { v, _ := c.get(QualNetworkID); return v }
func (c *COM) IssuedTo() address.Address {
	v, _ := c.get(QualIssuedTo)
	return address.Address(v & 0xffffffffff)
}

func (c *COM) signedBytes() []byte {
	b := make([]byte, 0, 24*len(c.Qualifiers))
	for _, q := range c.Qualifiers {
		b = wire.AppendU64(b, q.ID)
		b = wire.AppendU64(b, q.Value)
		b = wire.AppendU64(b, q.MaxDelta)
	}
	return b
}

// Sign signs the qualifiers with the controller identity.
func (c *COM) Sign(signer *identity.Identity) error {
	sig, err := signer.Sign(c.signedBytes())
	if err != nil {
		return fmt.Errorf("COM: sign: %w", err)
	}
	c.Signer, c.Signature = signer.Address, sig
	return nil
}

// Verify checks that the signer is the network's controller (nwid >> 24)
// and that its signature is valid.
func (c *COM) Verify(controller *identity.Identity) error {
	nw := c.NetworkID()
	switch {
	case c.Signer == 0:
		return fmt.Errorf("%w: COM unsigned", ErrSignature)
	case uint64(c.Signer) != nw>>24 || controller.Address != c.Signer:
		return fmt.Errorf("%w: COM signed by %s, not the controller of %016x", ErrSignature, c.Signer, nw)
	case len(c.Qualifiers) > MaxQualifiers:
		return fmt.Errorf("%w: COM has %d qualifiers", ErrSignature, len(c.Qualifiers))
	}
	if err := controller.Verify(c.signedBytes(), c.Signature); err != nil {
		return fmt.Errorf("%w: COM: %v", ErrSignature, err)
	}
	return nil
}

// AgreesWith is CertificateOfMembership::agreesWith with c as our own COM:
// every qualifier of ours must be present in other within our max delta,
// and if ours carries identity hashes, other's must equal the hash of the
// other node's actual identity.
func (c *COM) AgreesWith(other *COM, otherID *identity.Identity) bool {
	if len(c.Qualifiers) == 0 || len(other.Qualifiers) == 0 {
		return false
	}
	wantHash := false
	for _, q := range c.Qualifiers {
		v, ok := other.get(q.ID)
		if !ok {
			return false
		}
		d := v - q.Value
		if q.Value > v {
			d = q.Value - v
		}
		if d > q.MaxDelta {
			return false
		}
		if q.ID >= QualIdentityHash0 && q.ID < QualIdentityHash0+4 {
			wantHash = true
		}
	}
	if wantHash {
		if otherID == nil {
			return false
		}
		h := IdentityHash(otherID)
		for i := 0; i < 4; i++ {
			v, ok := other.get(uint64(QualIdentityHash0 + i))
			if !ok || v != binary.BigEndian.Uint64(h[8*i:]) {
				return false
			}
		}
	}
	return true
}

// Append serializes the COM.
func (c *COM) Append(b []byte) []byte {
	b = append(b, comFormat)
	b = wire.AppendU16(b, uint16(len(c.Qualifiers)))
	b = append(b, c.signedBytes()...)
	b = wire.AppendU40(b, uint64(c.Signer))
	if c.Signer != 0 {
		sig := make([]byte, SignatureSize)
		copy(sig, c.Signature)
		b = append(b, sig...)
	}
	return b
}

// ParseCOM reads a COM from the start of b and returns the bytes consumed.
func ParseCOM(b []byte) (*COM, int, error) {
	r := wire.NewReader(b)
	if f := r.U8("format"); r.Err() == nil && f != comFormat {
		return nil, 0, malformed("COM", "format %d", f)
	}
	n := int(r.U16("qualifier count"))
	if n > MaxQualifiers {
		return nil, 0, malformed("COM", "%d qualifiers (max %d)", n, MaxQualifiers)
	}
	c := &COM{}
	for i := 0; i < n && r.Err() == nil; i++ {
		c.Qualifiers = append(c.Qualifiers, Qualifier{r.U64("id"), r.U64("value"), r.U64("max delta")})
	}
	c.Signer = address.Address(r.U40("signer"))
	if c.Signer != 0 {
		c.Signature = append([]byte(nil), r.Take(SignatureSize, "signature")...)
	}
	if err := r.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: COM: %v", ErrMalformed, err)
	}
	return c, r.Off, nil
}
