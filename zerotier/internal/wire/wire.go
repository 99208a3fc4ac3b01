// Package wire is a bounds-checked big-endian reader for the VL2 binary
// formats: the first short read records an error and later reads return
// zero values, so decoders check Err once at the end.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort is wrapped by truncation errors.
var ErrShort = errors.New("truncated")

// Reader reads from B starting at Off.
type Reader struct {
	B   []byte
	Off int
	err error
}

// NewReader starts reading b.
func NewReader(b []byte) *Reader { return &Reader{B: b} }

// Err is the first error.
func (r *Reader) Err() error { return r.err }

// Fail records err unless an earlier one exists.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Take returns the next n bytes (aliasing B) or nil after an error.
func (r *Reader) Take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.B)-r.Off < n {
		r.err = fmt.Errorf("%w: %s at offset %d needs %d bytes, %d left", ErrShort, what, r.Off, n, len(r.B)-r.Off)
		return nil
	}
	s := r.B[r.Off : r.Off+n]
	r.Off += n
	return s
}

func (r *Reader) U8(what string) uint8 {
	if s := r.Take(1, what); s != nil {
		return s[0]
	}
	return 0
}

func (r *Reader) U16(what string) uint16 {
	if s := r.Take(2, what); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *Reader) U32(what string) uint32 {
	if s := r.Take(4, what); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

func (r *Reader) U64(what string) uint64 {
	if s := r.Take(8, what); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

// U40 reads a 5-byte address.
func (r *Reader) U40(what string) uint64 {
	if s := r.Take(5, what); s != nil {
		return uint64(s[0])<<32 | uint64(s[1])<<24 | uint64(s[2])<<16 | uint64(s[3])<<8 | uint64(s[4])
	}
	return 0
}

// Left is the number of unread bytes.
func (r *Reader) Left() int { return len(r.B) - r.Off }

// Rest returns the unread bytes.
func (r *Reader) Rest() []byte {
	if r.err != nil {
		return nil
	}
	s := r.B[r.Off:]
	r.Off = len(r.B)
	return s
}

// AppendU16 etc. append big-endian integers.
func AppendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func AppendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func AppendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// AppendU40 appends a 5-byte address.
func AppendU40(b []byte, v uint64) []byte {
	return append(b, byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
