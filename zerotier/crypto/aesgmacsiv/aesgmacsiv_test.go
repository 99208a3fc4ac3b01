package aesgmacsiv

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestZeroTierVectors runs the 85 vectors from ZeroTier's aes-gmac-siv crate:
// k0 = 32 x '0', k1 = 32 x '1', message = AAD = bytes 0,1,2,... truncated to
// N, IV = N as a little-endian uint64.
func TestZeroTierVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/vl1-kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var kat struct {
		A struct {
			Vectors []struct {
				Len   int    `json:"len"`
				CtSHA string `json:"ct_sha384"`
				Tag   string `json:"tag"`
			} `json:"vectors"`
		} `json:"aes_gmac_siv"`
	}
	if err := json.Unmarshal(raw, &kat); err != nil {
		t.Fatal(err)
	}
	if len(kat.A.Vectors) != 85 {
		t.Fatalf("want 85 vectors, got %d", len(kat.A.Vectors))
	}
	s, err := New([]byte(strings.Repeat("0", 32)), []byte(strings.Repeat("1", 32)))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range kat.A.Vectors {
		msg := make([]byte, v.Len)
		for i := range msg {
			msg[i] = byte(i)
		}
		var iv [8]byte
		binary.LittleEndian.PutUint64(iv[:], uint64(v.Len))
		ct := make([]byte, v.Len)
		tag := s.Seal(ct, iv[:], msg, msg)
		sum := sha512.Sum384(ct)
		if hex.EncodeToString(tag[:]) != v.Tag || hex.EncodeToString(sum[:]) != v.CtSHA {
			t.Errorf("len %d: tag %x ct-sha384 %x", v.Len, tag, sum)
			continue
		}
		pt := make([]byte, v.Len)
		gotIV, err := s.Open(pt, tag, msg, ct)
		if err != nil || !bytes.Equal(pt, msg) || gotIV != iv {
			t.Errorf("len %d: open: %v", v.Len, err)
		}
		if v.Len > 0 {
			ct[v.Len-1] ^= 1
			if _, err := s.Open(pt, tag, msg, ct); !errors.Is(err, ErrAuth) {
				t.Errorf("len %d: tampered ciphertext accepted", v.Len)
			}
			ct[v.Len-1] ^= 1
			msg[0] ^= 1
			if _, err := s.Open(pt, tag, msg, ct); !errors.Is(err, ErrAuth) {
				t.Errorf("len %d: tampered AAD accepted", v.Len)
			}
		}
	}
}

func TestInPlaceAndKeyErrors(t *testing.T) {
	if _, err := New(make([]byte, 16), make([]byte, 32)); err == nil {
		t.Fatal("16-byte key accepted")
	}
	s, _ := New(make([]byte, 32), bytes.Repeat([]byte{1}, 32))
	buf := []byte("some packet payload that is longer than one block")
	orig := append([]byte(nil), buf...)
	tag := s.Seal(buf, []byte("12345678"), []byte("aad"), buf)
	if bytes.Equal(buf, orig) {
		t.Fatal("not encrypted")
	}
	if _, err := s.Open(buf, tag, []byte("aad"), buf); err != nil || !bytes.Equal(buf, orig) {
		t.Fatalf("in-place open: %v", err)
	}
}

// TestOpenFailureLeavesDst: a forged message must not change dst (Dearmor
// relies on it to leave a rejected packet as received).
func TestOpenFailureLeavesDst(t *testing.T) {
	s, _ := New(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32))
	msg := bytes.Repeat([]byte("payload!"), 40)
	ct := make([]byte, len(msg))
	tag := s.Seal(ct, []byte("abcdefgh"), []byte("hdr"), msg)
	ct[100] ^= 0x40
	keep := append([]byte(nil), ct...)
	if _, err := s.Open(ct, tag, []byte("hdr"), ct); !errors.Is(err, ErrAuth) {
		t.Fatalf("forged message: %v", err)
	}
	if !bytes.Equal(ct, keep) {
		t.Fatal("failed Open changed dst")
	}
	other := make([]byte, len(msg))
	tag[0] ^= 1
	if _, err := s.Open(other, tag, []byte("hdr"), keep); !errors.Is(err, ErrAuth) || !bytes.Equal(other, make([]byte, len(msg))) {
		t.Fatalf("forged tag: %v, dst changed: %v", err, !bytes.Equal(other, make([]byte, len(msg))))
	}
}

func BenchmarkSealOpen1400(b *testing.B) {
	s, _ := New(make([]byte, 32), bytes.Repeat([]byte{1}, 32))
	buf := make([]byte, 1373)
	aad := make([]byte, 11)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		tag := s.Seal(buf, []byte("12345678"), aad, buf)
		if _, err := s.Open(buf, tag, aad, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealSelftest is zerotier-selftest's AES-GMAC-SIV figure: seal
// (GMAC, tag, CTR) of a 16 KiB message with no AAD.
func BenchmarkSealSelftest(b *testing.B) {
	s, _ := New(make([]byte, 32), bytes.Repeat([]byte{1}, 32))
	buf := make([]byte, 16384)
	out := make([]byte, len(buf))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		s.Seal(out, []byte("12345678"), nil, buf)
	}
}
