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

import "encoding/binary"

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
	var ks [BlockSize]byte
	for len(src) > 0 {
		block(&ks, key, nonce, counter, Rounds)
		counter++
		n := min(len(src), BlockSize)
		for i := 0; i < n; i++ {
			dst[i] = src[i] ^ ks[i]
		}
		dst, src = dst[n:], src[n:]
	}
}

// KeyStream fills dst with raw keystream starting at block number counter.
func KeyStream(dst []byte, key *[32]byte, nonce *[8]byte, counter uint64) {
	clear(dst)
	XORKeyStream(dst, dst, key, nonce, counter)
}
