package aesctr

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"math/rand/v2"
	"testing"
)

// TestExpandMatchesFIPS197 checks the key schedule against FIPS-197
// appendix A.3 (first, second and last round keys).
func TestExpandMatchesFIPS197(t *testing.T) {
	key := []byte{
		0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
		0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
	}
	var rk [Rounds + 1][16]byte
	expand(&rk, key)
	if !bytes.Equal(rk[0][:], key[:16]) || !bytes.Equal(rk[1][:], key[16:]) {
		t.Fatal("first two round keys are not the key")
	}
	// w[56..59] = fe4890d1 e6188d0b 046df344 706c631e.
	want := []byte{0xfe, 0x48, 0x90, 0xd1, 0xe6, 0x18, 0x8d, 0x0b, 0x04, 0x6d, 0xf3, 0x44, 0x70, 0x6c, 0x63, 0x1e}
	if !bytes.Equal(rk[14][:], want) {
		t.Fatalf("last round key %x, want %x", rk[14], want)
	}
	// w[8..11] = 9ba35411 8e6925af a51a8b5f 2067fcde.
	want = []byte{0x9b, 0xa3, 0x54, 0x11, 0x8e, 0x69, 0x25, 0xaf, 0xa5, 0x1a, 0x8b, 0x5f, 0x20, 0x67, 0xfc, 0xde}
	if !bytes.Equal(rk[2][:], want) {
		t.Fatalf("round key 2 %x, want %x", rk[2], want)
	}
}

// TestMatchesCryptoCipher compares with crypto/cipher's CTR over random
// keys, IVs (counter top bit clear, as the package requires), lengths and
// unaligned buffer offsets, in place and out of place.
func TestMatchesCryptoCipher(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 500; iter++ {
		key := make([]byte, KeySize)
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		k, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		var iv [16]byte
		for i := range iv {
			iv[i] = byte(r.Uint32())
		}
		iv[12] &= 0x7f
		if iter%5 == 0 {
			iv[12], iv[13], iv[14], iv[15] = 0x7f, 0xff, 0xff, byte(0xf0+r.IntN(16)) // byte carries
		}
		n := r.IntN(2100)
		if iter < 40 {
			n = iter * 7
		}
		off := r.IntN(17)
		buf := make([]byte, off+n+32)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		src := buf[off : off+n]
		want := make([]byte, n)
		b, _ := aes.NewCipher(key)
		cipher.NewCTR(b, iv[:]).XORKeyStream(want, src)

		dstBuf := make([]byte, off+n+32)
		dst := dstBuf[off+3 : off+3+n]
		k.XORKeyStream(dst, src, &iv)
		if !bytes.Equal(dst, want) {
			t.Fatalf("len %d off %d iv %x: differs from crypto/cipher", n, off, iv)
		}
		for _, x := range dstBuf[off+3+n:] {
			if x != 0 {
				t.Fatalf("len %d: wrote past dst", n)
			}
		}
		k.XORKeyStream(src, src, &iv)
		if !bytes.Equal(src, want) {
			t.Fatalf("len %d: in place differs", n)
		}
	}
}

func TestKeyLength(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}

func BenchmarkXORKeyStream1400(b *testing.B) {
	k, _ := New(make([]byte, KeySize))
	var iv [16]byte
	buf := make([]byte, 1400)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		k.XORKeyStream(buf, buf, &iv)
	}
}

func BenchmarkCryptoCipherCTR1400(b *testing.B) {
	bl, _ := aes.NewCipher(make([]byte, KeySize))
	var iv [16]byte
	buf := make([]byte, 1400)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		cipher.NewCTR(bl, iv[:]).XORKeyStream(buf, buf)
	}
}
