// Package packet is the ZeroTier 1.x VL1 packet envelope: the 28-byte header,
// verb and cipher numbers, armor/dearmor (Poly1305 with Salsa20/12 or none,
// AES-GMAC-SIV, trusted path), LZ4 payload compression, and fragmentation with
// reassembly. Verb payloads live in package message.
//
// Header layout (all integers big-endian):
//
//	0   8  packet ID (IV; with AES-GMAC-SIV, the first half of the tag)
//	8   5  destination address
//	13  5  source address (0xff here marks a fragment instead)
//	18  1  flags: 0x80 legacy "encrypted", 0x40 fragmented, 0x38 cipher, 0x07 hops
//	19  8  MAC
//	27  1  verb: 0x80 compressed, 0x1f verb number
//	28  …  payload
package packet

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"ztnc/zerotier/address"
)

// Byte offsets in the header.
const (
	IndexID      = 0
	IndexDest    = 8
	IndexSource  = 13
	IndexFlags   = 18
	IndexMAC     = 19
	IndexVerb    = 27
	IndexPayload = 28
)

// Sizes and limits (node/Packet.hpp, node/Constants.hpp).
const (
	HeaderSize     = IndexPayload // also the minimum packet size
	MaxPacketSize  = 10024        // ZT_PROTO_MAX_PACKET_LENGTH: 7 x 1432
	MaxPayloadSize = MaxPacketSize - HeaderSize
	DefaultPhysMTU = 1432 // sender's fragmentation unit
	MinPhysMTU     = 1400
	DefaultPort    = 9993
	MaxHops        = 7 // 3-bit field
	RelayMaxHops   = 3 // relays forward only while hops < 3
	// ProtocolVersion is what 1.6 through 1.14 advertise.
	ProtocolVersion = 12
	// MinProtocolVersion is the oldest HELLO a 1.14 node accepts.
	MinProtocolVersion = 4
)

// Flag bits (byte 18) and verb byte bits (byte 27).
const (
	FlagEncrypted      = 0x80 // legacy; set iff cipher 1, covered by MACs
	FlagFragmented     = 0x40
	flagCipherMask     = 0x38
	flagHopsMask       = 0x07
	VerbFlagCompressed = 0x80
	verbMask           = 0x1f
)

// ErrMalformed is wrapped by every error about bytes that are not a well-formed
// packet, fragment or payload.
var ErrMalformed = errors.New("malformed packet")

// Cipher is the cipher suite number in flags bits 5..3.
type Cipher uint8

const (
	CipherPoly1305None      Cipher = 0 // authenticated, not encrypted (HELLO)
	CipherPoly1305Salsa2012 Cipher = 1
	CipherNoneTrustedPath   Cipher = 2 // no crypto; MAC field is a trusted-path ID
	CipherAESGMACSIV        Cipher = 3
)

func (c Cipher) String() string {
	switch c {
	case CipherPoly1305None:
		return "C25519_POLY1305_NONE"
	case CipherPoly1305Salsa2012:
		return "C25519_POLY1305_SALSA2012"
	case CipherNoneTrustedPath:
		return "NONE_TRUSTED_PATH"
	case CipherAESGMACSIV:
		return "AES_GMAC_SIV"
	}
	return fmt.Sprintf("cipher(%d)", uint8(c))
}

// Packet is a whole (reassembled) packet: header plus verb and payload. It
// aliases the bytes it was made from; methods modify them in place.
type Packet []byte

// RandomID returns a random 64-bit packet ID (a fresh IV per packet matters:
// Salsa20/12 keys are mangled from it).
func RandomID() (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("packet: random ID: %w", err)
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// New builds an unarmored packet with flags 0 and a zero MAC.
func New(id uint64, dest, src address.Address, verb Verb, payload []byte) Packet {
	p := make(Packet, HeaderSize, HeaderSize+len(payload))
	binary.BigEndian.PutUint64(p[IndexID:], id)
	dest.Put(p[IndexDest:])
	src.Put(p[IndexSource:])
	p[IndexVerb] = byte(verb) & verbMask
	return append(p, payload...)
}

// Parse checks that b can be a packet head: at least 28 bytes, at most the
// maximum packet size, and not a fragment. The result aliases b.
func Parse(b []byte) (Packet, error) {
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrMalformed, len(b), HeaderSize)
	}
	if len(b) > MaxPacketSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxPacketSize)
	}
	if b[IndexSource] == FragmentIndicator {
		return nil, fmt.Errorf("%w: byte 13 is 0xff (a fragment, not a packet head)", ErrMalformed)
	}
	return Packet(b), nil
}

func (p Packet) ID() uint64              { return binary.BigEndian.Uint64(p[IndexID:]) }
func (p Packet) SetID(id uint64)         { binary.BigEndian.PutUint64(p[IndexID:], id) }
func (p Packet) Dest() address.Address   { a, _ := address.FromBytes(p[IndexDest:]); return a }
func (p Packet) Source() address.Address { a, _ := address.FromBytes(p[IndexSource:]); return a }
func (p Packet) Flags() byte             { return p[IndexFlags] }
func (p Packet) Cipher() Cipher          { return Cipher((p[IndexFlags] & flagCipherMask) >> 3) }
func (p Packet) Hops() int               { return int(p[IndexFlags] & flagHopsMask) }
func (p Packet) Fragmented() bool        { return p[IndexFlags]&FlagFragmented != 0 }
func (p Packet) Verb() Verb              { return Verb(p[IndexVerb] & verbMask) }
func (p Packet) Compressed() bool        { return p[IndexVerb]&VerbFlagCompressed != 0 }
func (p Packet) Payload() []byte         { return p[IndexPayload:] }
func (p Packet) MAC() uint64             { return binary.BigEndian.Uint64(p[IndexMAC:]) }

// SetHops sets the hop count, the only header field relays may change.
func (p Packet) SetHops(h int) {
	p[IndexFlags] = p[IndexFlags]&^flagHopsMask | byte(h)&flagHopsMask
}

// IncrementHops bumps the hop count for relaying; it reports false (and leaves
// the packet alone) once the relay limit is reached.
func (p Packet) IncrementHops() bool {
	if p.Hops() >= RelayMaxHops {
		return false
	}
	p.SetHops(p.Hops() + 1)
	return true
}

// SetFragmented sets or clears the FRAGMENTED flag. Senders must do this
// before armoring because the flag is authenticated.
func (p Packet) SetFragmented(on bool) {
	if on {
		p[IndexFlags] |= FlagFragmented
	} else {
		p[IndexFlags] &^= FlagFragmented
	}
}

// setCipher writes the cipher bits, the legacy 0x80 flag the way 1.14 does
// (set only for cipher 1), and zero hops: a sender always armors with hops 0
// and the AES-GMAC-SIV receiver authenticates the flags with hops masked.
func (p Packet) setCipher(c Cipher) {
	f := p[IndexFlags] & FlagFragmented
	f |= byte(c) << 3 & flagCipherMask
	if c == CipherPoly1305Salsa2012 {
		f |= FlagEncrypted
	}
	p[IndexFlags] = f
}

// DatagramKind says how a received UDP payload is to be treated (VL1.md 3.5).
type DatagramKind int

const (
	KindIgnore   DatagramKind = iota // too short / odd length: drop silently
	KindBeacon                       // 13-byte legacy LAN beacon
	KindFragment                     // byte 13 == 0xff
	KindHead                         // a packet (or the head of a fragmented one)
)

// Classify implements the receive dispatch on datagram length and byte 13.
func Classify(b []byte) DatagramKind {
	switch {
	case len(b) == 13:
		return KindBeacon
	case len(b) <= FragmentHeaderSize:
		return KindIgnore
	case b[IndexSource] == FragmentIndicator:
		return KindFragment
	case len(b) >= HeaderSize:
		return KindHead
	}
	return KindIgnore
}
