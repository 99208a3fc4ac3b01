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

	"ztnc/zerotier/crypto/aesctr"
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
	gmac cipher.AEAD // GCM under K0, used with empty plaintext as GMAC
	k1   *aesctr.Key // AES-256 under K1: tag encryption and CTR
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
	c1, err := aesctr.New(k1)
	if err != nil {
		return nil, fmt.Errorf("aesgmacsiv: %w", err)
	}
	return &SIV{gmac: g, k1: c1}, nil
}

// scratch is per-call working memory, pooled so sealing and opening a
// packet allocate nothing: the GMAC input (GMAC covers the padded AAD
// followed by the message, so it needs one contiguous copy) and every small
// buffer handed to a cipher.Block or cipher.AEAD method (through an
// interface they would otherwise escape to the heap).
type scratch struct {
	data  []byte
	nonce [12]byte // iv || 0^32
	gmac  [16]byte
	blk   [16]byte // tag encryption / decryption
	ctr   [16]byte // CTR IV
}

var scratchPool = sync.Pool{New: func() any { return &scratch{data: make([]byte, 0, 2048)} }}

// input returns sc.data sized for aad padded to 16 bytes followed by n
// message bytes, with the AAD and padding filled in; the caller fills the
// message part (data[padded:]).
func (sc *scratch) input(aad []byte, n int) (data []byte, padded int) {
	padded = (len(aad) + 15) &^ 15
	if cap(sc.data) < padded+n {
		sc.data = make([]byte, padded+n)
	}
	data = sc.data[:padded+n]
	copy(data, aad)
	clear(data[len(aad):padded])
	return data, padded
}

// foldedGMAC returns GMAC(K0, nonce = iv || 0^32, data) folded to 8 bytes
// (first half XOR second half).
func (s *SIV) foldedGMAC(sc *scratch, iv []byte, data []byte) [8]byte {
	copy(sc.nonce[:], iv)
	clear(sc.nonce[IVSize:])
	g := s.gmac.Seal(sc.gmac[:0], sc.nonce[:], nil, data)
	var f [8]byte
	for i := range f {
		f[i] = g[i] ^ g[i+8]
	}
	return f
}

// ctr applies AES-256-CTR under K1 with the tag as IV (top bit of the 32-bit
// counter cleared so the counter can never carry into the tag bits).
func (s *SIV) ctr(sc *scratch, dst, src []byte, tag *[TagSize]byte) {
	sc.ctr = *tag
	sc.ctr[12] &= 0x7f
	s.k1.XORKeyStream(dst, src, &sc.ctr)
}

// Seal encrypts plaintext into dst (len(dst) >= len(plaintext); dst may be
// plaintext itself) and returns the 16-byte tag. iv must be 8 bytes; in
// ZeroTier it is the random packet ID, which the tag's first half then replaces.
func (s *SIV) Seal(dst []byte, iv []byte, aad, plaintext []byte) [TagSize]byte {
	if len(iv) != IVSize || len(dst) < len(plaintext) {
		panic("aesgmacsiv: bad iv or dst length") // programming error
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	data, padded := sc.input(aad, len(plaintext))
	copy(data[padded:], plaintext)
	f := s.foldedGMAC(sc, iv, data)
	copy(sc.blk[:8], iv)
	copy(sc.blk[8:], f[:])
	s.k1.Block().Encrypt(sc.blk[:], sc.blk[:])
	tag := sc.blk
	s.ctr(sc, dst[:len(plaintext)], plaintext, &tag)
	return tag
}

// Open decrypts ciphertext into dst (which may alias it) and authenticates it.
// It returns the original 8-byte IV recovered from the tag. On failure it
// returns ErrAuth and leaves dst untouched (the plaintext is built in
// scratch memory, where the GMAC needs it anyway, and copied out only once
// it authenticates).
func (s *SIV) Open(dst []byte, tag [TagSize]byte, aad, ciphertext []byte) ([IVSize]byte, error) {
	var iv [IVSize]byte
	if len(dst) < len(ciphertext) {
		return iv, fmt.Errorf("aesgmacsiv: dst too short")
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	data, padded := sc.input(aad, len(ciphertext))
	s.ctr(sc, data[padded:], ciphertext, &tag)
	sc.blk = tag
	s.k1.Block().Decrypt(sc.blk[:], sc.blk[:])
	copy(iv[:], sc.blk[:8])
	f := s.foldedGMAC(sc, iv[:], data)
	if subtle.ConstantTimeCompare(f[:], sc.blk[8:]) != 1 {
		return iv, ErrAuth
	}
	copy(dst, data[padded:])
	return iv, nil
}
