// Package inetaddr is ZeroTier's binary encoding of a physical (IP, port)
// address, used in HELLO, OK(HELLO), worlds and the peer cache
// (node/InetAddress.hpp serialize/deserialize).
//
//	0x00                 no address (1 byte)
//	0x01, 0x02           reserved, 6 bytes follow, skipped
//	0x03 len(BE16) data  reserved, skipped
//	0x04 ip(4) port(BE16)
//	0x06 ip(16) port(BE16)
package inetaddr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Type bytes.
const (
	TypeNil   = 0x00
	TypeIPv4  = 0x04
	TypeIPv6  = 0x06
	typeEth   = 0x01
	typeBT    = 0x02
	typeOther = 0x03
)

// ErrInvalid is wrapped by all decoding errors.
var ErrInvalid = errors.New("invalid InetAddress")

// Append appends the encoding of ap. The zero AddrPort encodes as "no address".
// IPv4-mapped IPv6 stays type 6, as it would in ZeroTier (AF_INET6); callers
// wanting IPv4 on the wire should Unmap first.
func Append(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	switch {
	case !a.IsValid():
		return append(b, TypeNil)
	case a.Is4():
		v4 := a.As4()
		b = append(b, TypeIPv4)
		b = append(b, v4[:]...)
	default:
		v6 := a.As16()
		b = append(b, TypeIPv6)
		b = append(b, v6[:]...)
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// Size returns the encoded length of ap.
func Size(ap netip.AddrPort) int {
	a := ap.Addr()
	switch {
	case !a.IsValid():
		return 1
	case a.Is4():
		return 7
	default:
		return 19
	}
}

// Decode reads one address from the start of b and returns it with the number
// of bytes consumed. "No address" and the reserved kinds decode to the zero
// AddrPort. IPv6 zones are never produced.
func Decode(b []byte) (netip.AddrPort, int, error) {
	if len(b) < 1 {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: empty", ErrInvalid)
	}
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("%w: type %#x needs %d bytes, have %d", ErrInvalid, b[0], n, len(b))
		}
		return nil
	}
	switch b[0] {
	case TypeNil:
		return netip.AddrPort{}, 1, nil
	case typeEth, typeBT:
		if err := need(7); err != nil {
			return netip.AddrPort{}, 0, err
		}
		return netip.AddrPort{}, 7, nil
	case typeOther:
		if err := need(3); err != nil {
			return netip.AddrPort{}, 0, err
		}
		n := 3 + int(binary.BigEndian.Uint16(b[1:]))
		if err := need(n); err != nil {
			return netip.AddrPort{}, 0, err
		}
		return netip.AddrPort{}, n, nil
	case TypeIPv4:
		if err := need(7); err != nil {
			return netip.AddrPort{}, 0, err
		}
		ip := netip.AddrFrom4([4]byte(b[1:5]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[5:])), 7, nil
	case TypeIPv6:
		if err := need(19); err != nil {
			return netip.AddrPort{}, 0, err
		}
		ip := netip.AddrFrom16([16]byte(b[1:17]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[17:])), 19, nil
	default:
		return netip.AddrPort{}, 0, fmt.Errorf("%w: unknown type %#x", ErrInvalid, b[0])
	}
}
