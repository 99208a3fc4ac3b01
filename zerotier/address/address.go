// Package address is the 40-bit ZeroTier node address: its 5-byte big-endian
// wire form, its 10-hex-digit text form, and the reserved-address rule.
package address

import (
	"errors"
	"fmt"
	"strconv"
)

// Size is the length of an address on the wire.
const Size = 5

// Address is a 40-bit ZeroTier address held in the low bits of a uint64.
type Address uint64

// ReservedPrefix is the first byte that no real address may have: 0xff marks
// a fragment at the source-address position of a packet.
const ReservedPrefix = 0xff

// ErrInvalid is wrapped by every parse error in this package.
var ErrInvalid = errors.New("invalid ZeroTier address")

// FromBytes reads a 5-byte big-endian address. b must hold at least 5 bytes.
func FromBytes(b []byte) (Address, error) {
	if len(b) < Size {
		return 0, fmt.Errorf("%w: need %d bytes, have %d", ErrInvalid, Size, len(b))
	}
	return Address(uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])), nil
}

// Put writes the address as 5 bytes big-endian into b[0:5].
func (a Address) Put(b []byte) {
	_ = b[4]
	b[0] = byte(a >> 32)
	b[1] = byte(a >> 24)
	b[2] = byte(a >> 16)
	b[3] = byte(a >> 8)
	b[4] = byte(a)
}

// Bytes returns the 5-byte wire form.
func (a Address) Bytes() [Size]byte {
	var b [Size]byte
	a.Put(b[:])
	return b
}

// IsReserved reports whether a is 0 or starts with 0xff; such addresses can
// never belong to a valid identity.
func (a Address) IsReserved() bool {
	return a == 0 || byte(a>>32) == ReservedPrefix
}

// String is the 10 lowercase hex digits ZeroTier prints.
func (a Address) String() string {
	return fmt.Sprintf("%010x", uint64(a)&0xffffffffff)
}

// Parse reads 1 to 10 hex digits (case-insensitive). It does not reject
// reserved addresses; callers that need a usable address check IsReserved.
func Parse(s string) (Address, error) {
	if len(s) == 0 || len(s) > 10 {
		return 0, fmt.Errorf("%w: %q must be 1..10 hex digits", ErrInvalid, s)
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %v", ErrInvalid, s, err)
	}
	return Address(v), nil
}
