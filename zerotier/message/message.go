// Package message encodes and decodes the payloads of VL1 verbs (HELLO, OK,
// ERROR, WHOIS, RENDEZVOUS, ECHO, PUSH_DIRECT_PATHS, USER_MESSAGE) as ZeroTier
// One 1.14 writes and accepts them (node/IncomingPacket.cpp, node/Peer.cpp).
// The envelope (header, armor, compression, fragments) is package packet.
//
// Decoders take dearmored, decompressed packets or payloads and never panic;
// malformed input gives an error wrapping ErrMalformed.
package message

import (
	"encoding/binary"
	"errors"
	"fmt"

	"ztnc/zerotier/packet"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed message")

func malformed(verb string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, verb, fmt.Sprintf(format, args...))
}

// reader is a bounds-checked cursor; the first short read sets err and every
// later read returns zero values, so decoders check err once.
type reader struct {
	b   []byte
	off int
	err error
	ctx string
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = malformed(r.ctx, "truncated at %s (offset %d, need %d, have %d)", what, r.off, n, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8(what string) uint8 {
	if s := r.take(1, what); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if s := r.take(2, what); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if s := r.take(8, what); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	s := r.b[r.off:]
	r.off = len(r.b)
	return s
}

// checkVerb verifies a packet's verb before a verb-specific decoder runs.
func checkVerb(p packet.Packet, v packet.Verb) error {
	if len(p) < packet.HeaderSize {
		return malformed(v.String(), "packet shorter than header")
	}
	if p.Compressed() {
		return malformed(v.String(), "payload still compressed (call Decompress first)")
	}
	if p.Verb() != v {
		return malformed(v.String(), "packet verb is %v", p.Verb())
	}
	return nil
}
