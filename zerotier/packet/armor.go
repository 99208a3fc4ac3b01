package packet

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/poly1305"

	"ztnc/zerotier/crypto/aesgmacsiv"
	"ztnc/zerotier/crypto/kbkdf"
	"ztnc/zerotier/crypto/salsa2012"
)

// PeerKeySize is the length of the symmetric key two identities agree on.
const PeerKeySize = 48

// ErrAuth is wrapped when a packet fails authentication (wrong key, tampering,
// or an unknown cipher suite, which 1.14 also treats as a MAC failure).
var ErrAuth = errors.New("packet authentication failed")

// ErrTrustedPath is returned by Dearmor for cipher 2: whether such a packet is
// acceptable depends on local trusted-path configuration (see TrustedPathID).
var ErrTrustedPath = errors.New("packet uses the trusted-path cipher; check TrustedPathID")

// Keys holds everything derived from one 48-byte peer key. It is immutable
// and safe for concurrent use.
type Keys struct {
	salsa [32]byte        // K[0..31]: Salsa20/12 + Poly1305 and the HELLO field key
	siv   *aesgmacsiv.SIV // K0/K1 from KBKDF over all 48 bytes
}

// NewKeys derives packet keys from a peer key (identity.Agree).
func NewKeys(peerKey *[PeerKeySize]byte) (*Keys, error) {
	k0 := kbkdf.HMACSHA384(peerKey[:], kbkdf.LabelGMAC, 0)
	k1 := kbkdf.HMACSHA384(peerKey[:], kbkdf.LabelCTR, 0)
	siv, err := aesgmacsiv.New(k0[:32], k1[:32])
	if err != nil {
		return nil, err
	}
	k := &Keys{siv: siv}
	copy(k.salsa[:], peerKey[:32])
	return k, nil
}

// SalsaKey is K[0..31], used unmangled for HELLO's encrypted moon field.
func (k *Keys) SalsaKey() *[32]byte { return &k.salsa }

// mangledKey derives the per-packet Salsa20/12 key from the header and the
// total length, so every packet (and every length) gets its own key.
func (k *Keys) mangledKey(p Packet) [32]byte {
	mk := k.salsa
	for i := 0; i < 18; i++ {
		mk[i] ^= p[i]
	}
	mk[18] ^= p[IndexFlags] &^ flagHopsMask
	mk[19] ^= byte(len(p))
	mk[20] ^= byte(len(p) >> 8)
	return mk
}

// polyKeyAndTag computes the 8-byte Poly1305 MAC over bytes 27..end with the
// one-time key from the first 32 bytes of keystream block 0.
func polyMAC(mk *[32]byte, nonce *[8]byte, data []byte) [8]byte {
	var otk [32]byte
	salsa2012.KeyStream(otk[:], mk, nonce, 0)
	var tag [16]byte
	poly1305.Sum(&tag, data, &otk)
	var out [8]byte
	copy(out[:], tag[:8])
	return out
}

// Armor authenticates (and for ciphers 1 and 3 encrypts) p in place. Do it
// after compression and after SetFragmented. Cipher 3 replaces the packet ID
// with the first half of the SIV tag, so read ID() again afterwards.
func (p Packet) Armor(k *Keys, c Cipher) error {
	if len(p) < HeaderSize {
		return fmt.Errorf("%w: packet too short to armor", ErrMalformed)
	}
	p.setCipher(c)
	switch c {
	case CipherPoly1305None, CipherPoly1305Salsa2012:
		mk := k.mangledKey(p)
		nonce := [8]byte(p[IndexID : IndexID+8])
		if c == CipherPoly1305Salsa2012 {
			// Payload keystream starts at block 1; block 0 keyed the MAC.
			salsa2012.XORKeyStream(p[IndexVerb:], p[IndexVerb:], &mk, &nonce, 1)
		}
		mac := polyMAC(&mk, &nonce, p[IndexVerb:])
		copy(p[IndexMAC:], mac[:])
	case CipherAESGMACSIV:
		tag := k.siv.Seal(p[IndexVerb:], p[IndexID:IndexID+8], p[IndexDest:IndexMAC], p[IndexVerb:])
		copy(p[IndexID:], tag[:8])
		copy(p[IndexMAC:], tag[8:])
	default:
		return fmt.Errorf("packet: cannot armor with %v", c)
	}
	return nil
}

// ArmorTrustedPath marks p as cipher 2 and writes the trusted-path ID into the
// MAC field; nothing is encrypted or authenticated.
func (p Packet) ArmorTrustedPath(trustedPathID uint64) {
	p.setCipher(CipherNoneTrustedPath)
	binary.BigEndian.PutUint64(p[IndexMAC:], trustedPathID)
}

// TrustedPathID is the MAC field of a cipher-2 packet.
func (p Packet) TrustedPathID() uint64 { return p.MAC() }

// Dearmor authenticates and decrypts p in place. On any error the packet
// bytes are left as received. It does not decompress (see Decompress).
func (p Packet) Dearmor(k *Keys) error {
	if len(p) < HeaderSize {
		return fmt.Errorf("%w: packet too short to dearmor", ErrMalformed)
	}
	switch c := p.Cipher(); c {
	case CipherPoly1305None, CipherPoly1305Salsa2012:
		mk := k.mangledKey(p)
		nonce := [8]byte(p[IndexID : IndexID+8])
		mac := polyMAC(&mk, &nonce, p[IndexVerb:])
		if subtle.ConstantTimeCompare(mac[:], p[IndexMAC:IndexVerb]) != 1 {
			return fmt.Errorf("%w: %v MAC mismatch", ErrAuth, c)
		}
		if c == CipherPoly1305Salsa2012 {
			salsa2012.XORKeyStream(p[IndexVerb:], p[IndexVerb:], &mk, &nonce, 1)
		}
		return nil
	case CipherAESGMACSIV:
		var tag [aesgmacsiv.TagSize]byte
		copy(tag[:8], p[IndexID:])
		copy(tag[8:], p[IndexMAC:IndexVerb])
		var aad [11]byte
		copy(aad[:], p[IndexDest:IndexMAC])
		aad[10] &^= flagHopsMask // hops are not authenticated
		// Open leaves p untouched when the tag does not match.
		if _, err := k.siv.Open(p[IndexVerb:], tag, aad[:], p[IndexVerb:]); err != nil {
			return fmt.Errorf("%w: AES-GMAC-SIV tag mismatch", ErrAuth)
		}
		return nil
	case CipherNoneTrustedPath:
		return ErrTrustedPath
	default:
		return fmt.Errorf("%w: unknown cipher suite %d", ErrAuth, c)
	}
}
