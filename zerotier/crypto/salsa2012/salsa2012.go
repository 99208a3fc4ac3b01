// Package salsa2012 implements the Salsa20 stream cipher with 12 rounds
// (Salsa20/12), the cipher ZeroTier uses to armor packets.
//
// golang.org/x/crypto only ships the 20-round variant, so this package carries
// its own small core. The state layout is Bernstein's: a 256-bit key, a 64-bit
// nonce and a 64-bit little-endian block counter. ZeroTier always starts the
// counter at 0 and, when a call's length is not a multiple of 64, discards the
// remainder of the last block; XORKeyStream's counter argument lets callers
// start at any block (packet payloads start at block 1).
package salsa2012

import (
	"encoding/binary"
	"math/bits"
)

// BlockSize is the size of one keystream block.
const BlockSize = 64

// Rounds is the number of Salsa20 rounds used by this package.
const Rounds = 12

// sigma is "expand 32-byte k" as four little-endian words.
var sigma = [4]uint32{0x61707865, 0x3320646e, 0x79622d32, 0x6b206574}

// block computes one keystream block with the given number of rounds (an even
// number). It is separate from XORKeyStream so the test can check the core
// against the 20-round vector as well.
func block(out *[BlockSize]byte, key *[32]byte, nonce *[8]byte, counter uint64, rounds int) {
	var in [16]uint32
	in[0] = sigma[0]
	in[1] = binary.LittleEndian.Uint32(key[0:])
	in[2] = binary.LittleEndian.Uint32(key[4:])
	in[3] = binary.LittleEndian.Uint32(key[8:])
	in[4] = binary.LittleEndian.Uint32(key[12:])
	in[5] = sigma[1]
	in[6] = binary.LittleEndian.Uint32(nonce[0:])
	in[7] = binary.LittleEndian.Uint32(nonce[4:])
	in[8] = uint32(counter)
	in[9] = uint32(counter >> 32)
	in[10] = sigma[2]
	in[11] = binary.LittleEndian.Uint32(key[16:])
	in[12] = binary.LittleEndian.Uint32(key[20:])
	in[13] = binary.LittleEndian.Uint32(key[24:])
	in[14] = binary.LittleEndian.Uint32(key[28:])
	in[15] = sigma[3]

	x := in
	for i := 0; i < rounds; i += 2 {
		// Column round.
		quarter(&x[0], &x[4], &x[8], &x[12])
		quarter(&x[5], &x[9], &x[13], &x[1])
		quarter(&x[10], &x[14], &x[2], &x[6])
		quarter(&x[15], &x[3], &x[7], &x[11])
		// Row round.
		quarter(&x[0], &x[1], &x[2], &x[3])
		quarter(&x[5], &x[6], &x[7], &x[4])
		quarter(&x[10], &x[11], &x[8], &x[9])
		quarter(&x[15], &x[12], &x[13], &x[14])
	}
	for i := range x {
		binary.LittleEndian.PutUint32(out[4*i:], x[i]+in[i])
	}
}

// quarter is the Salsa20 quarter-round on (a, b, c, d).
func quarter(a, b, c, d *uint32) {
	*b ^= rotl(*a+*d, 7)
	*c ^= rotl(*b+*a, 9)
	*d ^= rotl(*c+*b, 13)
	*a ^= rotl(*d+*c, 18)
}

func rotl(v uint32, n uint) uint32 { return v<<n | v>>(32-n) }

// XORKeyStream XORs src with the Salsa20/12 keystream for key and nonce,
// beginning at block number counter, and writes the result to dst. dst and src
// may overlap exactly; dst must be at least len(src) bytes.
func XORKeyStream(dst, src []byte, key *[32]byte, nonce *[8]byte, counter uint64) {
	if len(dst) < len(src) {
		panic("salsa2012: dst shorter than src") // programming error, like crypto/cipher
	}
	var st state
	st.init(key, nonce)
	xorKeyStream(dst[:len(src)], src, &st, counter)
}

// xorKeyStreamGeneric is the portable path: one block at a time.
func xorKeyStreamGeneric(dst, src []byte, st *state, counter uint64) {
	var ks [BlockSize]byte
	for len(src) >= BlockSize {
		st.xorBlock((*[BlockSize]byte)(dst), (*[BlockSize]byte)(src), counter)
		counter++
		dst, src = dst[BlockSize:], src[BlockSize:]
	}
	if len(src) > 0 {
		st.xorBlock(&ks, &ks, counter) // ks is zero: raw keystream
		for i := range src {
			dst[i] = src[i] ^ ks[i]
		}
	}
}

// state is the Salsa20 input matrix without the counter words.
type state [16]uint32

func (s *state) init(key *[32]byte, nonce *[8]byte) {
	s[0] = sigma[0]
	s[1] = binary.LittleEndian.Uint32(key[0:])
	s[2] = binary.LittleEndian.Uint32(key[4:])
	s[3] = binary.LittleEndian.Uint32(key[8:])
	s[4] = binary.LittleEndian.Uint32(key[12:])
	s[5] = sigma[1]
	s[6] = binary.LittleEndian.Uint32(nonce[0:])
	s[7] = binary.LittleEndian.Uint32(nonce[4:])
	s[10] = sigma[2]
	s[11] = binary.LittleEndian.Uint32(key[16:])
	s[12] = binary.LittleEndian.Uint32(key[20:])
	s[13] = binary.LittleEndian.Uint32(key[24:])
	s[14] = binary.LittleEndian.Uint32(key[28:])
	s[15] = sigma[3]
}

// xorBlock XORs one 64-byte block of src with keystream block counter into
// dst. The 12 rounds run on locals (registers), unrolled by hand and with
// bits.RotateLeft32, which is several times faster than the reference
// block above; the result is XORed eight bytes at a time.
func (s *state) xorBlock(dst, src *[BlockSize]byte, counter uint64) {
	j0, j1, j2, j3, j4, j5, j6, j7 := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
	j8, j9 := uint32(counter), uint32(counter>>32)
	j10, j11, j12, j13, j14, j15 := s[10], s[11], s[12], s[13], s[14], s[15]
	x0, x1, x2, x3, x4, x5, x6, x7 := j0, j1, j2, j3, j4, j5, j6, j7
	x8, x9, x10, x11, x12, x13, x14, x15 := j8, j9, j10, j11, j12, j13, j14, j15
	for i := 0; i < Rounds; i += 2 {
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)

		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x5 ^= bits.RotateLeft32(x1+x13, 18)

		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x10 ^= bits.RotateLeft32(x6+x2, 18)

		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x15 ^= bits.RotateLeft32(x11+x7, 18)

		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)

		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x5 ^= bits.RotateLeft32(x4+x7, 18)

		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x10 ^= bits.RotateLeft32(x9+x8, 18)

		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	le := binary.LittleEndian
	pair := func(a, b uint32) uint64 { return uint64(a) | uint64(b)<<32 }
	le.PutUint64(dst[0:], le.Uint64(src[0:])^pair(x0+j0, x1+j1))
	le.PutUint64(dst[8:], le.Uint64(src[8:])^pair(x2+j2, x3+j3))
	le.PutUint64(dst[16:], le.Uint64(src[16:])^pair(x4+j4, x5+j5))
	le.PutUint64(dst[24:], le.Uint64(src[24:])^pair(x6+j6, x7+j7))
	le.PutUint64(dst[32:], le.Uint64(src[32:])^pair(x8+j8, x9+j9))
	le.PutUint64(dst[40:], le.Uint64(src[40:])^pair(x10+j10, x11+j11))
	le.PutUint64(dst[48:], le.Uint64(src[48:])^pair(x12+j12, x13+j13))
	le.PutUint64(dst[56:], le.Uint64(src[56:])^pair(x14+j14, x15+j15))
}

// KeyStream fills dst with raw keystream starting at block number counter.
func KeyStream(dst []byte, key *[32]byte, nonce *[8]byte, counter uint64) {
	clear(dst)
	XORKeyStream(dst, dst, key, nonce, counter)
}
