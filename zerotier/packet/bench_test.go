package packet

import (
	"crypto/rand"
	"testing"

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
