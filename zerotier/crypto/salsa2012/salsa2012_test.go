package salsa2012

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"golang.org/x/crypto/salsa20/salsa"
)

type salsaVector struct {
	Name      string `json:"name"`
	Rounds    int    `json:"rounds"`
	Key       string `json:"key"`
	Nonce     string `json:"nonce"`
	Keystream string `json:"keystream_first_64_bytes"`
}

func loadVectors(t *testing.T) []salsaVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/vl1-kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var kat struct {
		Salsa20 []salsaVector `json:"salsa20"`
	}
	if err := json.Unmarshal(raw, &kat); err != nil {
		t.Fatal(err)
	}
	if len(kat.Salsa20) != 2 {
		t.Fatalf("want 2 salsa20 vectors, got %d", len(kat.Salsa20))
	}
	return kat.Salsa20
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSelftestVectors checks the core against ZeroTier's selftest keystreams,
// both the 12-round one (what this package is for) and the 20-round one (which
// shows the core's layout is right independently of the round count).
func TestSelftestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		var key [32]byte
		var nonce [8]byte
		copy(key[:], unhex(t, v.Key))
		copy(nonce[:], unhex(t, v.Nonce))
		want := unhex(t, v.Keystream)
		var got [64]byte
		block(&got, &key, &nonce, 0, v.Rounds)
		if !bytes.Equal(got[:], want) {
			t.Errorf("%s: core gives %x, want %x", v.Name, got, want)
		}
		if v.Rounds == Rounds {
			ks := make([]byte, 64)
			KeyStream(ks, &key, &nonce, 0)
			if !bytes.Equal(ks, want) {
				t.Errorf("%s: KeyStream gives %x, want %x", v.Name, ks, want)
			}
		}
	}
}

// TestCoreMatchesXCrypto20 compares the 20-round core with x/crypto over several
// blocks and a counter that crosses the 32-bit word boundary.
func TestCoreMatchesXCrypto20(t *testing.T) {
	var key [32]byte
	var nonce [8]byte
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	copy(nonce[:], "ztnonce!")
	for _, ctr := range []uint64{0, 1, 0xffffffff, 1 << 40} {
		var c16 [16]byte
		copy(c16[:8], nonce[:])
		for i := 0; i < 8; i++ {
			c16[8+i] = byte(ctr >> (8 * i))
		}
		want := make([]byte, 64)
		salsa.XORKeyStream(want, want, &c16, &key)
		var got [64]byte
		block(&got, &key, &nonce, ctr, 20)
		if !bytes.Equal(got[:], want) {
			t.Errorf("counter %d: got %x want %x", ctr, got, want)
		}
	}
}

// TestCounterContinuity checks that a long call equals block-wise calls and
// that a partial final block is handled.
func TestCounterContinuity(t *testing.T) {
	var key [32]byte
	var nonce [8]byte
	key[0], nonce[0] = 1, 2
	long := make([]byte, 200)
	KeyStream(long, &key, &nonce, 0)
	for b := 0; b < 4; b++ {
		part := make([]byte, 64)
		KeyStream(part, &key, &nonce, uint64(b))
		end := min(len(long), (b+1)*64)
		if !bytes.Equal(long[b*64:end], part[:end-b*64]) {
			t.Fatalf("block %d mismatch", b)
		}
	}
	// Round trip.
	msg := []byte("attack at dawn, or whenever the packet arrives")
	ct := make([]byte, len(msg))
	XORKeyStream(ct, msg, &key, &nonce, 1)
	if bytes.Equal(ct, msg) {
		t.Fatal("ciphertext equals plaintext")
	}
	XORKeyStream(ct, ct, &key, &nonce, 1)
	if !bytes.Equal(ct, msg) {
		t.Fatal("round trip failed")
	}
}

// TestFastCoreMatchesBlock: the unrolled XORKeyStream equals the plain
// block function for every length around block boundaries and any counter.
func TestFastCoreMatchesBlock(t *testing.T) {
	var key [32]byte
	var nonce [8]byte
	for i := range key {
		key[i] = byte(7 * i)
	}
	copy(nonce[:], "ztnc-iv!")
	src := make([]byte, 300)
	for i := range src {
		src[i] = byte(i * 13)
	}
	for _, ctr := range []uint64{0, 1, 1<<32 - 1, 1<<64 - 2} {
		for n := 0; n <= len(src); n++ {
			want := make([]byte, n)
			c := ctr
			for off := 0; off < n; off += BlockSize {
				var ks [BlockSize]byte
				block(&ks, &key, &nonce, c, Rounds)
				c++
				for i := off; i < min(n, off+BlockSize); i++ {
					want[i] = src[i] ^ ks[i-off]
				}
			}
			got := make([]byte, n)
			XORKeyStream(got, src[:n], &key, &nonce, ctr)
			if string(got) != string(want) {
				t.Fatalf("counter %d length %d differs", ctr, n)
			}
		}
	}
}

func BenchmarkXORKeyStream1400(b *testing.B) {
	var key [32]byte
	var nonce [8]byte
	buf := make([]byte, 1400)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		XORKeyStream(buf, buf, &key, &nonce, 1)
	}
}

func BenchmarkXORKeyStreamGeneric1400(b *testing.B) {
	var key [32]byte
	var nonce [8]byte
	var st state
	st.init(&key, &nonce)
	buf := make([]byte, 1400)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		xorKeyStreamGeneric(buf, buf, &st, 1)
	}
}

// BenchmarkXORKeyStreamSelftest is zerotier-selftest's Salsa20/12 figure:
// one 1,234,567-byte buffer encrypted in place per operation.
func BenchmarkXORKeyStreamSelftest(b *testing.B) {
	var key [32]byte
	var nonce [8]byte
	buf := make([]byte, 1234567)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		XORKeyStream(buf, buf, &key, &nonce, 0)
	}
}
