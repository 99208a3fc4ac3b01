// Package kbkdf is the NIST SP 800-108 counter-mode KDF with HMAC-SHA-384 that
// ZeroTier 1.6+ uses to derive its AES-GMAC-SIV keys from a peer key.
package kbkdf

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
)

// Size is the output length (one SHA-384 block).
const Size = 48

// Labels ZeroTier uses for the two AES-GMAC-SIV keys.
const (
	LabelGMAC = '0' // K0: keys GMAC
	LabelCTR  = '1' // K1: keys tag encryption and CTR
)

// HMACSHA384 derives 48 bytes from key for the given label and context byte
// (single iteration, counter 0). The 13-byte message is
// counter(BE32) || 'Z' 'T' label 0x00 || context || 384 (BE32, output bits).
func HMACSHA384(key []byte, label, context byte) [Size]byte {
	var msg [13]byte
	binary.BigEndian.PutUint32(msg[0:], 0)
	msg[4], msg[5], msg[6], msg[7] = 'Z', 'T', label, 0
	msg[8] = context
	binary.BigEndian.PutUint32(msg[9:], Size*8)
	m := hmac.New(sha512.New384, key)
	m.Write(msg[:])
	var out [Size]byte
	copy(out[:], m.Sum(nil))
	return out
}
