// Package c25519 implements ZeroTier's "C25519" key pairs: a Curve25519 (X25519)
// key for agreement and an Ed25519 key for signatures, kept side by side in one
// 64-byte public and one 64-byte private blob, plus ZeroTier's 96-byte
// signature format and its SHA-512 key expansion for agreement.
//
// Layouts (ZeroTier One 1.x, node/C25519.hpp):
//
//	public  = X25519 public (32)            || Ed25519 public (32)
//	private = X25519 secret, unclamped (32) || Ed25519 seed (32)
//	sig     = Ed25519 R (32) || S (32) || SHA-512(message)[0:32]
package c25519

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
)

const (
	PublicKeySize  = 64
	PrivateKeySize = 64
	SignatureSize  = 96
)

// PublicKey is X25519 public || Ed25519 public.
type PublicKey [PublicKeySize]byte

// PrivateKey is X25519 secret || Ed25519 seed.
type PrivateKey [PrivateKeySize]byte

// ErrBadSignature is returned (wrapped) by Verify for any rejected signature.
var ErrBadSignature = errors.New("c25519: signature invalid")

// ErrLowOrderKey is returned when agreement yields the all-zero secret, which
// only happens with a malicious (low-order) peer key. ZeroTier does not check
// this; refusing it costs honest peers nothing.
var ErrLowOrderKey = errors.New("c25519: agreement produced an all-zero secret (low-order public key)")

// Public derives the public key from the private key.
func (priv *PrivateKey) Public() (PublicKey, error) {
	var pub PublicKey
	x, err := curve25519.X25519(priv[:32], curve25519.Basepoint)
	if err != nil {
		return pub, fmt.Errorf("c25519: derive X25519 public key: %w", err)
	}
	copy(pub[:32], x)
	copy(pub[32:], ed25519.NewKeyFromSeed(priv[32:]).Public().(ed25519.PublicKey))
	return pub, nil
}

// Generate makes a new random key pair, reading entropy from r (crypto/rand if nil).
func Generate(r io.Reader) (PublicKey, PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	var priv PrivateKey
	if _, err := io.ReadFull(r, priv[:]); err != nil {
		return PublicKey{}, PrivateKey{}, fmt.Errorf("c25519: read entropy: %w", err)
	}
	pub, err := priv.Public()
	if err != nil {
		return PublicKey{}, PrivateKey{}, err
	}
	return pub, priv, nil
}

// digest32 is the 32-byte value that is actually Ed25519-signed: ZeroTier signs
// the first half of SHA-512(message), not the message itself.
func digest32(msg []byte) [32]byte {
	h := sha512.Sum512(msg)
	var d [32]byte
	copy(d[:], h[:32])
	return d
}

// Sign returns the 96-byte ZeroTier signature of msg. Ed25519 is
// deterministic, so the output matches zerotier-idtool byte for byte.
func Sign(priv *PrivateKey, msg []byte) [SignatureSize]byte {
	d := digest32(msg)
	edPriv := ed25519.NewKeyFromSeed(priv[32:])
	var sig [SignatureSize]byte
	copy(sig[:64], ed25519.Sign(edPriv, d[:]))
	copy(sig[64:], d[:])
	return sig
}

// Verify checks a ZeroTier signature of msg by pub. Only the Ed25519 half of
// pub is used. Any signature length other than 96 is rejected, as
// Identity::verify does.
func Verify(pub *PublicKey, msg, sig []byte) error {
	if len(sig) != SignatureSize {
		return fmt.Errorf("%w: length %d, want %d", ErrBadSignature, len(sig), SignatureSize)
	}
	d := digest32(msg)
	if subtle.ConstantTimeCompare(sig[64:], d[:]) != 1 {
		return fmt.Errorf("%w: embedded digest does not match message", ErrBadSignature)
	}
	if !ed25519.Verify(ed25519.PublicKey(pub[32:]), d[:], sig[:64]) {
		return fmt.Errorf("%w: Ed25519 check failed", ErrBadSignature)
	}
	return nil
}

// Agree performs X25519 between our private key and their public key and fills
// out with ZeroTier's key expansion of the shared secret: SHA-512(secret),
// then SHA-512 of that block, and so on. Peer keys are the first 48 bytes.
func Agree(priv *PrivateKey, their *PublicKey, out []byte) error {
	raw, err := curve25519.X25519(priv[:32], their[:32])
	if err != nil {
		return fmt.Errorf("c25519: agreement: %w", ErrLowOrderKey)
	}
	blk := sha512.Sum512(raw)
	for len(out) > 0 {
		n := copy(out, blk[:])
		out = out[n:]
		blk = sha512.Sum512(blk[:])
	}
	return nil
}
