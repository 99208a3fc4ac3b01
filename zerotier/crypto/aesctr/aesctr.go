// Package aesctr is AES-256 in counter mode keyed once and used for many
// short messages, each with its own IV, without allocating per message.
//
// crypto/cipher.NewCTR is fast on amd64 but allocates (and copies the key
// schedule) for every IV; AES-GMAC-SIV needs a fresh IV per packet. On amd64
// with AES-NI this package runs its own counter loop over a key schedule it
// expands once; elsewhere it falls back to crypto/cipher.
//
// The counter is the last 32 bits of the IV, big-endian. Callers must keep
// it from wrapping within one message (AES-GMAC-SIV clears its top bit, and
// a packet is far shorter than 2^31 blocks); within that limit the result is
// identical to crypto/cipher's 128-bit counter.
package aesctr

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// KeySize is the AES-256 key length.
const KeySize = 32

// Rounds is the number of AES-256 rounds; the schedule has Rounds+1 keys.
const Rounds = 14

// Key is an expanded AES-256 key. It is immutable and safe for concurrent use.
type Key struct {
	block cipher.Block         // crypto/aes, for the fallback and single blocks
	rk    [Rounds + 1][16]byte // encryption round keys, FIPS-197 byte order
}

// New expands a 32-byte key.
func New(key []byte) (*Key, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("aesctr: key must be %d bytes, got %d", KeySize, len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aesctr: %w", err)
	}
	k := &Key{block: b}
	expand(&k.rk, key)
	return k, nil
}

// Block is the AES-256 block cipher under the same key.
func (k *Key) Block() cipher.Block { return k.block }

// XORKeyStream XORs src with the keystream for iv into dst (which may be src
// itself, or must not overlap it).
func (k *Key) XORKeyStream(dst, src []byte, iv *[16]byte) {
	if len(dst) < len(src) {
		panic("aesctr: dst shorter than src") // programming error, like crypto/cipher
	}
	xorKeyStream(k, dst[:len(src)], src, iv)
}

func xorKeyStreamGeneric(k *Key, dst, src []byte, iv *[16]byte) {
	cipher.NewCTR(k.block, iv[:]).XORKeyStream(dst, src)
}
