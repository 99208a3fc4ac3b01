package aesctr

import "encoding/binary"

// sbox is the AES S-box, computed once from its definition (multiplicative
// inverse in GF(2^8) mod x^8+x^4+x^3+x+1, then the affine map) rather than
// typed in as a table.
var sbox = func() (s [256]byte) {
	for x := 0; x < 256; x++ {
		inv := byte(0)
		if x != 0 {
			inv = gpow(byte(x), 254)
		}
		b := inv
		s[x] = b ^ rotl8(b, 1) ^ rotl8(b, 2) ^ rotl8(b, 3) ^ rotl8(b, 4) ^ 0x63
	}
	return s
}()

func rotl8(b byte, n uint) byte { return b<<n | b>>(8-n) }

// gmul multiplies in GF(2^8) with the AES polynomial.
func gmul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		hi := a & 0x80
		a <<= 1
		if hi != 0 {
			a ^= 0x1b
		}
		b >>= 1
	}
	return p
}

func gpow(a byte, e int) byte {
	r := byte(1)
	for ; e > 0; e >>= 1 {
		if e&1 != 0 {
			r = gmul(r, a)
		}
		a = gmul(a, a)
	}
	return r
}

func subWord(w uint32) uint32 {
	return uint32(sbox[w>>24])<<24 | uint32(sbox[w>>16&0xff])<<16 |
		uint32(sbox[w>>8&0xff])<<8 | uint32(sbox[w&0xff])
}

// expand is the AES-256 key expansion of FIPS-197 section 5.2 (Nk = 8).
func expand(rk *[Rounds + 1][16]byte, key []byte) {
	var w [4 * (Rounds + 1)]uint32
	for i := 0; i < 8; i++ {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := uint32(1)
	for i := 8; i < len(w); i++ {
		t := w[i-1]
		switch i % 8 {
		case 0:
			t = subWord(t<<8|t>>24) ^ rcon<<24
			rcon = uint32(gmul(byte(rcon), 2))
		case 4:
			t = subWord(t)
		}
		w[i] = w[i-8] ^ t
	}
	for r := range rk {
		for j := 0; j < 4; j++ {
			binary.BigEndian.PutUint32(rk[r][4*j:], w[4*r+j])
		}
	}
}
