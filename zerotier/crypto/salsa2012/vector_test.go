package salsa2012

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// checkAgainstGeneric compares XORKeyStream (whatever vector path this
// platform uses) with the one-block Go code on random lengths, buffer
// offsets (unaligned src and dst), counters near the 32- and 64-bit wraps,
// both in place and out of place.
func checkAgainstGeneric(t *testing.T, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 99))
	counters := []uint64{0, 1, 1<<32 - 3, 1<<64 - 5}
	for iter := 0; iter < 600; iter++ {
		var key [32]byte
		var nonce [8]byte
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		for i := range nonce {
			nonce[i] = byte(r.Uint32())
		}
		n := r.IntN(2200)
		if iter < 64 {
			n = iter * BlockSize / 2 // every half-block length up to 2 KiB
		}
		off := r.IntN(33)
		ctr := counters[iter%len(counters)] + uint64(r.IntN(3))
		buf := make([]byte, n+off+64)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		src := buf[off : off+n]

		var st state
		st.init(&key, &nonce)
		want := make([]byte, n)
		xorKeyStreamGeneric(want, src, &st, ctr)

		dstBuf := make([]byte, n+off+64)
		dst := dstBuf[off+1 : off+1+n]
		XORKeyStream(dst, src, &key, &nonce, ctr)
		if !bytes.Equal(dst, want) {
			t.Fatalf("len %d off %d counter %#x: out-of-place differs", n, off, ctr)
		}
		for i, b := range dstBuf[off+1+n:] {
			if b != 0 {
				t.Fatalf("len %d: wrote past dst at +%d", n, i)
			}
		}
		XORKeyStream(src, src, &key, &nonce, ctr)
		if !bytes.Equal(src, want) {
			t.Fatalf("len %d off %d counter %#x: in-place differs", n, off, ctr)
		}
	}
}

func TestVectorMatchesGeneric(t *testing.T) { checkAgainstGeneric(t, 1) }
