package credential

import (
	"fmt"
	"net"
	"net/netip"

	"ztnc/zerotier/address"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/internal/wire"
	"ztnc/zerotier/rules"
)

// Limits (node/Constants.hpp).
const (
	MaxCustodyChain = 7
	MaxCOOThings    = 16
)

var sigFence = []byte{0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f}

// fenced wraps the signed serialization in eight 0x7f bytes on each side,
// with the empty additional-fields length before the trailing fence.
func fenced(body []byte) []byte {
	b := append(append([]byte(nil), sigFence...), body...)
	b = wire.AppendU16(b, 0)
	return append(b, sigFence...)
}

// readSig reads sigType ‖ sigLen ‖ signature; unknown signature types are
// skipped (their bytes ignored) as the reference does.
func readSig(r *wire.Reader) []byte {
	t := r.U8("signature type")
	l := int(r.U16("signature length"))
	if t == 1 && l != SignatureSize && r.Err() == nil {
		r.Fail(fmt.Errorf("signature length %d", l))
		return nil
	}
	s := r.Take(l, "signature")
	if t != 1 {
		return nil
	}
	return append([]byte(nil), s...)
}

func appendSig(b, sig []byte) []byte {
	b = append(b, 1)
	b = wire.AppendU16(b, SignatureSize)
	s := make([]byte, SignatureSize)
	copy(s, sig)
	return append(b, s...)
}

func skipAdditional(r *wire.Reader) {
	n := int(r.U16("additional fields length"))
	r.Take(n, "additional fields")
}

func checkSigner(what string, signer address.Address, nwid uint64, who *identity.Identity) error {
	if signer == 0 || uint64(signer) != nwid>>24 || who == nil || who.Address != signer {
		return fmt.Errorf("%w: %s signed by %s, not the controller of %016x", ErrSignature, what, signer, nwid)
	}
	return nil
}

// Custody is one link of a capability's custody chain.
type Custody struct {
	To, From  address.Address
	Signature []byte
}

// Capability is a set of rules granted to a member.
type Capability struct {
	NetworkID  uint64
	Timestamp  int64
	ID         uint32
	Rules      []rules.Rule
	MaxCustody uint8
	Custody    []Custody
}

func (c *Capability) body() []byte {
	b := wire.AppendU64(nil, c.NetworkID)
	b = wire.AppendU64(b, uint64(c.Timestamp))
	b = wire.AppendU32(b, c.ID)
	b = wire.AppendU16(b, uint16(len(c.Rules)))
	b = rules.Append(b, c.Rules)
	return append(b, c.MaxCustody)
}

// IssuedTo is the last "to" of the custody chain.
func (c *Capability) IssuedTo() address.Address {
	if len(c.Custody) == 0 {
		return 0
	}
	return c.Custody[len(c.Custody)-1].To
}

// Sign appends a custody link from signer to "to" (the controller issues
// chain length 1: controller → member).
func (c *Capability) Sign(signer *identity.Identity, to address.Address) error {
	if len(c.Custody) >= int(c.MaxCustody) || len(c.Custody) >= MaxCustodyChain {
		return fmt.Errorf("capability %d: custody chain full", c.ID)
	}
	sig, err := signer.Sign(fenced(c.body()))
	if err != nil {
		return fmt.Errorf("capability %d: sign: %w", c.ID, err)
	}
	c.Custody = append(c.Custody, Custody{To: to, From: signer.Address, Signature: sig})
	return nil
}

// Verify checks the chain: the first link from the controller, each later
// one from the previous holder; lookup returns the identity of an address
// (nil if unknown, which fails verification).
func (c *Capability) Verify(lookup func(address.Address) *identity.Identity) error {
	if len(c.Custody) == 0 {
		return fmt.Errorf("%w: capability %d has no custody chain", ErrSignature, c.ID)
	}
	msg := fenced(c.body())
	for i, cu := range c.Custody {
		if cu.To == 0 {
			return fmt.Errorf("%w: capability %d link %d has no recipient", ErrSignature, c.ID, i)
		}
		if i == 0 && uint64(cu.From) != c.NetworkID>>24 {
			return fmt.Errorf("%w: capability %d not issued by the controller", ErrSignature, c.ID)
		}
		if i > 0 && cu.From != c.Custody[i-1].To {
			return fmt.Errorf("%w: capability %d chain broken at %d", ErrSignature, c.ID, i)
		}
		id := lookup(cu.From)
		if id == nil {
			return fmt.Errorf("%w: capability %d signer %s unknown", ErrSignature, c.ID, cu.From)
		}
		if err := id.Verify(msg, cu.Signature); err != nil {
			return fmt.Errorf("%w: capability %d link %d: %v", ErrSignature, c.ID, i, err)
		}
	}
	return nil
}

// Append serializes the capability.
func (c *Capability) Append(b []byte) []byte {
	b = append(b, c.body()...)
	for i, cu := range c.Custody {
		if i >= int(c.MaxCustody) || i >= MaxCustodyChain || cu.To == 0 {
			break
		}
		b = wire.AppendU40(b, uint64(cu.To))
		b = wire.AppendU40(b, uint64(cu.From))
		b = appendSig(b, cu.Signature)
	}
	b = wire.AppendU40(b, 0)
	return wire.AppendU16(b, 0)
}

// ParseCapability reads one capability and returns the bytes consumed.
func ParseCapability(b []byte) (*Capability, int, error) {
	r := wire.NewReader(b)
	c := &Capability{NetworkID: r.U64("network ID"), Timestamp: int64(r.U64("timestamp")), ID: r.U32("ID")}
	n := int(r.U16("rule count"))
	if r.Err() == nil {
		if n > rules.MaxCapabilityRules {
			return nil, 0, malformed("capability", "%d rules", n)
		}
		rs, k, err := rules.ParseN(r.B[r.Off:], n)
		if err != nil {
			return nil, 0, fmt.Errorf("capability: %w", err)
		}
		c.Rules = rs
		r.Off += k
	}
	c.MaxCustody = r.U8("max custody chain length")
	if r.Err() == nil && (c.MaxCustody < 1 || c.MaxCustody > MaxCustodyChain) {
		return nil, 0, malformed("capability", "max custody chain %d", c.MaxCustody)
	}
	for i := 0; r.Err() == nil; i++ {
		to := address.Address(r.U40("custody to"))
		if to == 0 {
			break
		}
		if i >= int(c.MaxCustody) {
			return nil, 0, malformed("capability", "custody chain longer than %d", c.MaxCustody)
		}
		from := address.Address(r.U40("custody from"))
		c.Custody = append(c.Custody, Custody{To: to, From: from, Signature: readSig(r)})
	}
	skipAdditional(r)
	if err := r.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: capability: %v", ErrMalformed, err)
	}
	return c, r.Off, nil
}

// Tag is a (tag ID, value) pair issued to a member.
type Tag struct {
	NetworkID uint64
	Timestamp int64
	ID, Value uint32
	IssuedTo  address.Address
	Signer    address.Address
	Signature []byte
}

func (t *Tag) body() []byte {
	b := wire.AppendU64(nil, t.NetworkID)
	b = wire.AppendU64(b, uint64(t.Timestamp))
	b = wire.AppendU32(b, t.ID)
	b = wire.AppendU32(b, t.Value)
	b = wire.AppendU40(b, uint64(t.IssuedTo))
	return wire.AppendU40(b, uint64(t.Signer))
}

// Sign signs the tag as the controller.
func (t *Tag) Sign(signer *identity.Identity) error {
	t.Signer = signer.Address
	sig, err := signer.Sign(fenced(t.body()))
	if err != nil {
		return fmt.Errorf("tag %d: sign: %w", t.ID, err)
	}
	t.Signature = sig
	return nil
}

// Verify checks the controller's signature.
func (t *Tag) Verify(controller *identity.Identity) error {
	if err := checkSigner("tag", t.Signer, t.NetworkID, controller); err != nil {
		return err
	}
	if err := controller.Verify(fenced(t.body()), t.Signature); err != nil {
		return fmt.Errorf("%w: tag %d: %v", ErrSignature, t.ID, err)
	}
	return nil
}

// Append serializes the tag (135 bytes).
func (t *Tag) Append(b []byte) []byte {
	b = append(b, t.body()...)
	b = appendSig(b, t.Signature)
	return wire.AppendU16(b, 0)
}

// ParseTag reads one tag.
func ParseTag(b []byte) (*Tag, int, error) {
	r := wire.NewReader(b)
	t := &Tag{NetworkID: r.U64("network ID"), Timestamp: int64(r.U64("timestamp")), ID: r.U32("ID"), Value: r.U32("value"),
		IssuedTo: address.Address(r.U40("issued to")), Signer: address.Address(r.U40("signer"))}
	t.Signature = readSig(r)
	skipAdditional(r)
	if err := r.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: tag: %v", ErrMalformed, err)
	}
	return t, r.Off, nil
}

// COO thing types.
const (
	ThingNull = 0
	ThingMAC  = 1
	ThingIPv4 = 2
	ThingIPv6 = 3
)

// Thing is one owned item of a COO.
type Thing struct {
	Type  uint8
	Value [16]byte
}

// IPThing makes a thing for an IP address.
func IPThing(a netip.Addr) Thing {
	t := Thing{Type: ThingIPv6}
	if a.Is4() {
		t.Type = ThingIPv4
	}
	copy(t.Value[:], a.AsSlice())
	return t
}

// MACThing makes a thing for a MAC address.
func MACThing(m net.HardwareAddr) Thing {
	t := Thing{Type: ThingMAC}
	copy(t.Value[:], m)
	return t
}

// COO is a certificate of ownership of IPs or MACs.
type COO struct {
	NetworkID uint64
	Timestamp int64
	Flags     uint64
	ID        uint32
	Things    []Thing
	IssuedTo  address.Address
	Signer    address.Address
	Signature []byte
}

func (c *COO) body() []byte {
	b := wire.AppendU64(nil, c.NetworkID)
	b = wire.AppendU64(b, uint64(c.Timestamp))
	b = wire.AppendU64(b, c.Flags)
	b = wire.AppendU32(b, c.ID)
	b = wire.AppendU16(b, uint16(len(c.Things)))
	for _, t := range c.Things {
		b = append(b, t.Type)
		b = append(b, t.Value[:]...)
	}
	b = wire.AppendU40(b, uint64(c.IssuedTo))
	return wire.AppendU40(b, uint64(c.Signer))
}

// Owns reports whether the COO lists the IP or MAC.
func (c *COO) Owns(t Thing) bool {
	for _, x := range c.Things {
		if x == t {
			return true
		}
	}
	return false
}

// Sign signs the COO as the controller.
func (c *COO) Sign(signer *identity.Identity) error {
	c.Signer = signer.Address
	sig, err := signer.Sign(fenced(c.body()))
	if err != nil {
		return fmt.Errorf("COO %d: sign: %w", c.ID, err)
	}
	c.Signature = sig
	return nil
}

// Verify checks the controller's signature.
func (c *COO) Verify(controller *identity.Identity) error {
	if err := checkSigner("COO", c.Signer, c.NetworkID, controller); err != nil {
		return err
	}
	if err := controller.Verify(fenced(c.body()), c.Signature); err != nil {
		return fmt.Errorf("%w: COO %d: %v", ErrSignature, c.ID, err)
	}
	return nil
}

// Append serializes the COO.
func (c *COO) Append(b []byte) []byte {
	b = append(b, c.body()...)
	b = appendSig(b, c.Signature)
	return wire.AppendU16(b, 0)
}

// ParseCOO reads one COO.
func ParseCOO(b []byte) (*COO, int, error) {
	r := wire.NewReader(b)
	c := &COO{NetworkID: r.U64("network ID"), Timestamp: int64(r.U64("timestamp")), Flags: r.U64("flags"), ID: r.U32("ID")}
	n := int(r.U16("thing count"))
	for i := 0; i < n && r.Err() == nil; i++ {
		t := Thing{Type: r.U8("thing type")}
		copy(t.Value[:], r.Take(16, "thing"))
		if i < MaxCOOThings {
			c.Things = append(c.Things, t)
		}
	}
	c.IssuedTo = address.Address(r.U40("issued to"))
	c.Signer = address.Address(r.U40("signer"))
	c.Signature = readSig(r)
	skipAdditional(r)
	if err := r.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: COO: %v", ErrMalformed, err)
	}
	return c, r.Off, nil
}

// Revocation flags.
const RevocationFastPropagate = 0x01

// Revocation revokes credentials of a member issued at or before Threshold.
type Revocation struct {
	ID           uint32
	NetworkID    uint64
	CredentialID uint32
	Threshold    int64
	Flags        uint64
	Target       address.Address
	Signer       address.Address
	Type         uint8 // credential type revoked
	Signature    []byte
}

func (v *Revocation) body() []byte {
	b := wire.AppendU32(nil, 0)
	b = wire.AppendU32(b, v.ID)
	b = wire.AppendU64(b, v.NetworkID)
	b = wire.AppendU32(b, 0)
	b = wire.AppendU32(b, v.CredentialID)
	b = wire.AppendU64(b, uint64(v.Threshold))
	b = wire.AppendU64(b, v.Flags)
	b = wire.AppendU40(b, uint64(v.Target))
	b = wire.AppendU40(b, uint64(v.Signer))
	return append(b, v.Type)
}

// Sign signs the revocation as the controller.
func (v *Revocation) Sign(signer *identity.Identity) error {
	v.Signer = signer.Address
	sig, err := signer.Sign(fenced(v.body()))
	if err != nil {
		return fmt.Errorf("revocation %d: sign: %w", v.ID, err)
	}
	v.Signature = sig
	return nil
}

// Verify checks the controller's signature.
func (v *Revocation) Verify(controller *identity.Identity) error {
	if err := checkSigner("revocation", v.Signer, v.NetworkID, controller); err != nil {
		return err
	}
	if err := controller.Verify(fenced(v.body()), v.Signature); err != nil {
		return fmt.Errorf("%w: revocation %d: %v", ErrSignature, v.ID, err)
	}
	return nil
}

// Append serializes the revocation (152 bytes).
func (v *Revocation) Append(b []byte) []byte {
	b = append(b, v.body()...)
	b = appendSig(b, v.Signature)
	return wire.AppendU16(b, 0)
}

// ParseRevocation reads one revocation.
func ParseRevocation(b []byte) (*Revocation, int, error) {
	r := wire.NewReader(b)
	r.U32("reserved")
	v := &Revocation{ID: r.U32("ID"), NetworkID: r.U64("network ID")}
	r.U32("reserved")
	v.CredentialID = r.U32("credential ID")
	v.Threshold = int64(r.U64("threshold"))
	v.Flags = r.U64("flags")
	v.Target = address.Address(r.U40("target"))
	v.Signer = address.Address(r.U40("signer"))
	v.Type = r.U8("credential type")
	v.Signature = readSig(r)
	skipAdditional(r)
	if err := r.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: revocation: %v", ErrMalformed, err)
	}
	return v, r.Off, nil
}

// Bundle is a NETWORK_CREDENTIALS payload.
type Bundle struct {
	COMs         []*COM
	Capabilities []*Capability
	Tags         []*Tag
	Revocations  []*Revocation
	COOs         []*COO
}

// Append serializes the bundle (all sections, counts written even if 0).
func (u *Bundle) Append(b []byte) []byte {
	for _, c := range u.COMs {
		b = c.Append(b)
	}
	b = append(b, 0)
	b = wire.AppendU16(b, uint16(len(u.Capabilities)))
	for _, c := range u.Capabilities {
		b = c.Append(b)
	}
	b = wire.AppendU16(b, uint16(len(u.Tags)))
	for _, t := range u.Tags {
		b = t.Append(b)
	}
	b = wire.AppendU16(b, uint16(len(u.Revocations)))
	for _, v := range u.Revocations {
		b = v.Append(b)
	}
	b = wire.AppendU16(b, uint16(len(u.COOs)))
	for _, c := range u.COOs {
		b = c.Append(b)
	}
	return b
}

// ParseBundle reads a NETWORK_CREDENTIALS payload; sections after the COMs
// may be missing from the end (older senders).
func ParseBundle(b []byte) (*Bundle, error) {
	u := &Bundle{}
	off := 0
	for off < len(b) && b[off] != 0 {
		c, n, err := ParseCOM(b[off:])
		if err != nil {
			return nil, fmt.Errorf("NETWORK_CREDENTIALS: %w", err)
		}
		u.COMs = append(u.COMs, c)
		off += n
	}
	if off >= len(b) {
		return u, nil // no terminator: only COMs (or nothing)
	}
	off++
	section := func(what string, parse func([]byte) (int, error)) error {
		if off >= len(b) {
			return nil
		}
		if len(b)-off < 2 {
			return malformed("NETWORK_CREDENTIALS", "%s count truncated", what)
		}
		n := int(b[off])<<8 | int(b[off+1])
		off += 2
		for i := 0; i < n; i++ {
			k, err := parse(b[off:])
			if err != nil {
				return fmt.Errorf("NETWORK_CREDENTIALS %s %d: %w", what, i, err)
			}
			off += k
		}
		return nil
	}
	if err := section("capability", func(x []byte) (int, error) {
		c, n, err := ParseCapability(x)
		if err == nil {
			u.Capabilities = append(u.Capabilities, c)
		}
		return n, err
	}); err != nil {
		return nil, err
	}
	if err := section("tag", func(x []byte) (int, error) {
		c, n, err := ParseTag(x)
		if err == nil {
			u.Tags = append(u.Tags, c)
		}
		return n, err
	}); err != nil {
		return nil, err
	}
	if err := section("revocation", func(x []byte) (int, error) {
		c, n, err := ParseRevocation(x)
		if err == nil {
			u.Revocations = append(u.Revocations, c)
		}
		return n, err
	}); err != nil {
		return nil, err
	}
	if err := section("COO", func(x []byte) (int, error) {
		c, n, err := ParseCOO(x)
		if err == nil {
			u.COOs = append(u.COOs, c)
		}
		return n, err
	}); err != nil {
		return nil, err
	}
	return u, nil
}
