package packet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"ztnc/zerotier/address"
)

// BenchmarkArmorDearmor measures armor + dearmor of a 1400-byte packet per
// cipher suite (MB/s counts the packet bytes once per round trip).
func BenchmarkArmorDearmor(b *testing.B) {
	var pk [PeerKeySize]byte
	rand.Read(pk[:])
	keys, err := NewKeys(&pk)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		c    Cipher
	}{
		{"Poly1305-only", CipherPoly1305None},
		{"Salsa2012-Poly1305", CipherPoly1305Salsa2012},
		{"AES-GMAC-SIV", CipherAESGMACSIV},
	} {
		b.Run(c.name, func(b *testing.B) {
			payload := make([]byte, 1400-HeaderSize)
			rand.Read(payload)
			p := New(0x1122334455667788, address.Address(0x0102030405), address.Address(0x0a0b0c0d0e), VerbUserMessage, payload)
			if len(p) != 1400 {
				b.Fatalf("packet is %d bytes", len(p))
			}
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Armor(keys, c.c); err != nil {
					b.Fatal(err)
				}
				if err := p.Dearmor(keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaselines measures well-known AEADs on the same 1400-byte
// round trip (seal + open), so the suites above can be read as ratios that
// survive a loaded machine: AES-256-GCM from crypto/cipher and
// ChaCha20-Poly1305 from x/crypto, both assembly on amd64.
func BenchmarkBaselines(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	blk, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(blk)
	chacha, _ := chacha20poly1305.New(key)
	for _, c := range []struct {
		name string
		aead cipher.AEAD
	}{{"AES-256-GCM", gcm}, {"ChaCha20-Poly1305", chacha}} {
		b.Run(c.name, func(b *testing.B) {
			nonce := make([]byte, c.aead.NonceSize())
			pt := make([]byte, 1400-HeaderSize)
			rand.Read(pt)
			buf := make([]byte, 0, 1400+c.aead.Overhead())
			b.SetBytes(1400)
			b.ReportAllocs()
			for b.Loop() {
				ct := c.aead.Seal(buf[:0], nonce, pt, nil)
				if _, err := c.aead.Open(pt[:0], nonce, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
