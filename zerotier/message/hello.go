package message

import (
	"encoding/binary"
	"net/netip"

	"ztnc/zerotier/address"
	"ztnc/zerotier/crypto/salsa2012"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/inetaddr"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/world"
)

// Software version this implementation reports. The major/minor/revision
// mirror the ZeroTier release whose wire behaviour is implemented.
const (
	VersionMajor    = 1
	VersionMinor    = 14
	VersionRevision = 1
)

// MoonRef names a moon in HELLO (what we have, or want with Timestamp 0).
type MoonRef struct {
	ID        uint64
	Timestamp uint64
}

// Hello is the HELLO payload.
//
//	0  1   protocol version
//	1  1   major, 2 1 minor, 3 2 revision (BE)
//	5  8   timestamp (ms, echoed in OK)
//	13 71  sender identity (public binary form)
//	84 …   destination physical address (InetAddress)
//	   8   planet world ID, 8 planet timestamp
//	   …   encrypted with Salsa20/12 under the unmangled peer key:
//	       2 moon count, then 17 per moon: type (127), ID, timestamp
//
// Everything after the identity is optional when receiving (old peers);
// Has* report what was present.
type Hello struct {
	ProtocolVersion uint8
	Major, Minor    uint8
	Revision        uint16
	Timestamp       uint64
	Identity        *identity.Identity

	HasDestination bool
	Destination    netip.AddrPort // may be the zero value ("sent without a specific address")

	HasPlanet       bool
	PlanetID        uint64
	PlanetTimestamp uint64

	HasMoons bool // encrypted tail present and decrypted
	Moons    []MoonRef
}

// NewHello fills in this implementation's versions; the caller sets the rest.
func NewHello(id *identity.Identity, timestamp uint64, dest netip.AddrPort, planet *world.World) *Hello {
	h := &Hello{
		ProtocolVersion: packet.ProtocolVersion,
		Major:           VersionMajor, Minor: VersionMinor, Revision: VersionRevision,
		Timestamp: timestamp, Identity: id.PublicOnly(),
		HasDestination: true, Destination: dest,
		HasMoons: true,
	}
	if planet != nil {
		h.HasPlanet, h.PlanetID, h.PlanetTimestamp = true, planet.ID, planet.Timestamp
	}
	return h
}

// helloNonce is the packet ID with the low 3 bits of byte 7 cleared. (1.x
// cleared them because they once held the hop count; the nonce stays that way.)
func helloNonce(p packet.Packet) [8]byte {
	var n [8]byte
	copy(n[:], p[packet.IndexID:packet.IndexID+8])
	n[7] &= 0xf8
	return n
}

// Packet builds the HELLO to dest with packet ID id, encrypts the moon field
// and armors it with cipher 0 (HELLO is never encrypted as a whole: the
// receiver needs the identity inside to compute the key). keys are those
// shared with the destination.
func (h *Hello) Packet(id uint64, dest address.Address, keys *packet.Keys) (packet.Packet, error) {
	if h.Identity == nil {
		return nil, malformed("HELLO", "no identity")
	}
	pl := []byte{h.ProtocolVersion, h.Major, h.Minor}
	pl = binary.BigEndian.AppendUint16(pl, h.Revision)
	pl = binary.BigEndian.AppendUint64(pl, h.Timestamp)
	pl, err := h.Identity.AppendBinary(pl, false)
	if err != nil {
		return nil, err
	}
	pl = inetaddr.Append(pl, h.Destination)
	pl = binary.BigEndian.AppendUint64(pl, h.PlanetID)
	pl = binary.BigEndian.AppendUint64(pl, h.PlanetTimestamp)
	tail := len(pl)
	pl = binary.BigEndian.AppendUint16(pl, uint16(len(h.Moons)))
	for _, m := range h.Moons {
		pl = append(pl, byte(world.TypeMoon))
		pl = binary.BigEndian.AppendUint64(pl, m.ID)
		pl = binary.BigEndian.AppendUint64(pl, m.Timestamp)
	}
	p := packet.New(id, dest, h.Identity.Address, packet.VerbHello, pl)
	nonce := helloNonce(p)
	enc := p[packet.IndexPayload+tail:]
	salsa2012.XORKeyStream(enc, enc, keys.SalsaKey(), &nonce, 0)
	if err := p.Armor(keys, packet.CipherPoly1305None); err != nil {
		return nil, err
	}
	return p, nil
}

// ParseHello decodes a HELLO packet. Because the sender's identity (needed to
// compute the key) is inside, call it first with keys == nil to learn the
// identity, authenticate the packet with Dearmor, then call it again with the
// keys to also decrypt the moon list. p is not modified.
//
// It checks that the identity's address matches the header's source, as
// 1.14 does. It does not check the protocol version (1.14 drops < 4: see
// packet.MinProtocolVersion) or validate the identity.
func ParseHello(p packet.Packet, keys *packet.Keys) (*Hello, error) {
	if err := checkVerb(p, packet.VerbHello); err != nil {
		return nil, err
	}
	r := &reader{b: p.Payload(), ctx: "HELLO"}
	h := &Hello{}
	h.ProtocolVersion = r.u8("protocol version")
	h.Major = r.u8("major")
	h.Minor = r.u8("minor")
	h.Revision = r.u16("revision")
	h.Timestamp = r.u64("timestamp")
	if r.err != nil {
		return nil, r.err
	}
	id, n, err := identity.Decode(r.b[r.off:], false)
	if err != nil {
		return nil, malformed("HELLO", "identity: %v", err)
	}
	r.off += n
	h.Identity = id
	if id.Address != p.Source() {
		return nil, malformed("HELLO", "identity %s does not match source %s", id.Address, p.Source())
	}
	if r.remaining() > 0 {
		ap, n, err := inetaddr.Decode(r.b[r.off:])
		if err != nil {
			return nil, malformed("HELLO", "destination address: %v", err)
		}
		r.off += n
		h.HasDestination, h.Destination = true, ap
	}
	if r.remaining() >= 16 {
		h.HasPlanet = true
		h.PlanetID = r.u64("planet ID")
		h.PlanetTimestamp = r.u64("planet timestamp")
	}
	if r.remaining() > 0 && keys != nil {
		tail := append([]byte(nil), r.rest()...)
		nonce := helloNonce(p)
		salsa2012.XORKeyStream(tail, tail, keys.SalsaKey(), &nonce, 0)
		t := &reader{b: tail, ctx: "HELLO moon list"}
		count := int(t.u16("moon count"))
		for i := 0; i < count && t.err == nil; i++ {
			typ := t.u8("moon type")
			m := MoonRef{ID: t.u64("moon ID"), Timestamp: t.u64("moon timestamp")}
			if t.err == nil && typ == uint8(world.TypeMoon) {
				h.Moons = append(h.Moons, m)
			}
		}
		if t.err != nil {
			return nil, t.err
		}
		h.HasMoons = true
	}
	return h, nil
}
