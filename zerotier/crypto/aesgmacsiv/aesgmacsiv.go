// Package aesgmacsiv implements AES-GMAC-SIV as ZeroTier 1.6+ uses it for
// cipher suite 3: a synthetic-IV mode where the 16-byte tag is derived from a
// GMAC over (padded AAD || plaintext) and the 8-byte IV, encrypted with a
// second key, and then used as the AES-CTR IV. Nonce reuse only leaks message
// equality, which is why ZeroTier chose it.
//
// Both keys are AES-256 keys: K0 keys the GMAC, K1 keys the tag encryption and
// CTR. See VL1.md section 4.5.
package aesgmacsiv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
)

const (
	KeySize = 32
	IVSize  = 8
	TagSize = 16
)

// ErrAuth is returned when a message does not authenticate.
var ErrAuth = errors.New("aesgmacsiv: message authentication failed")

// SIV holds the two expanded keys. It is safe for concurrent use.
type SIV struct {
	gmac cipher.AEAD  // GCM under K0, used with empty plaintext as GMAC
	k1   cipher.Block // AES-256 under K1
}

// New builds an SIV from two 32-byte keys.
func New(k0, k1 []byte) (*SIV, error) {
	if len(k0) != KeySize || len(k1) != KeySize {
		return nil, fmt.Errorf("aesgmacsiv: keys must be %d bytes (got %d, %d)", KeySize, len(k0), len(k1))
	}
	b0, err := aes.NewCipher(k0)
	if err != nil {
		return nil, fmt.Errorf("aesgmacsiv: %w", err)
	}
	g, err := cipher.NewGCM(b0)
	if err != nil {
		return nil, fmt.Errorf("aesgmacsiv: %w", err)
	}
	b1, err := aes.NewCipher(k1)
	if err != nil {
		return nil, fmt.Errorf("aesgmacsiv: %w", err)
	}
	return &SIV{gmac: g, k1: b1}, nil
}

// foldedGMAC returns GMAC(K0, nonce = iv || 0^32, aad padded to 16 || msg)
// folded to 8 bytes (first half XOR second half).
func (s *SIV) foldedGMAC(iv []byte, aad, msg []byte) [8]byte {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	copy(sc.nonce[:], iv)
	padded := (len(aad) + 15) &^ 15
	if cap(sc.data) < padded+len(msg) {
		sc.data = make([]byte, padded+len(msg))
	}
	data := sc.data[:padded+len(msg)]
	copy(data, aad)
	clear(data[len(aad):padded])
	copy(data[padded:], msg)
	g := s.gmac.Seal(sc.tag[:0], sc.nonce[:], nil, data)
	var f [8]byte
	for i := range f {
		f[i] = g[i] ^ g[i+8]
	}
	return f
}

// scratch is per-call working memory, pooled so sealing and opening a
// packet allocate nothing for the GMAC input (a copy is needed: GMAC covers
// the padded AAD followed by the message) or its output.
type scratch struct {
	data  []byte
	nonce [12]byte // iv || 0^32
	tag   [16]byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{data: make([]byte, 0, 2048)} }}

// ctr applies AES-256-CTR under K1 with the tag as IV (top bit of the 32-bit
// counter cleared so the counter can never carry into the tag bits).
func (s *SIV) ctr(dst, src []byte, tag *[TagSize]byte) {
	iv := *tag
	iv[12] &= 0x7f
	cipher.NewCTR(s.k1, iv[:]).XORKeyStream(dst, src)
}

// Seal encrypts plaintext into dst (len(dst) >= len(plaintext); dst may be
// plaintext itself) and returns the 16-byte tag. iv must be 8 bytes; in
// ZeroTier it is the random packet ID, which the tag's first half then replaces.
func (s *SIV) Seal(dst []byte, iv []byte, aad, plaintext []byte) [TagSize]byte {
	if len(iv) != IVSize || len(dst) < len(plaintext) {
		panic("aesgmacsiv: bad iv or dst length") // programming error
	}
	f := s.foldedGMAC(iv, aad, plaintext)
	var tag [TagSize]byte
	copy(tag[:8], iv)
	copy(tag[8:], f[:])
	s.k1.Encrypt(tag[:], tag[:])
	s.ctr(dst[:len(plaintext)], plaintext, &tag)
	return tag
}

// Open decrypts ciphertext into dst (which may alias it) and authenticates it.
// On failure dst holds garbage and ErrAuth is returned. It also returns the
// original 8-byte IV recovered from the tag.
func (s *SIV) Open(dst []byte, tag [TagSize]byte, aad, ciphertext []byte) ([IVSize]byte, error) {
	var iv [IVSize]byte
	if len(dst) < len(ciphertext) {
		return iv, fmt.Errorf("aesgmacsiv: dst too short")
	}
	s.ctr(dst[:len(ciphertext)], ciphertext, &tag)
	var b [TagSize]byte
	s.k1.Decrypt(b[:], tag[:])
	copy(iv[:], b[:8])
	f := s.foldedGMAC(iv[:], aad, dst[:len(ciphertext)])
	if subtle.ConstantTimeCompare(f[:], b[8:]) != 1 {
		return iv, ErrAuth
	}
	return iv, nil
}
