//go:build amd64 && !purego

package salsa2012

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestEachVectorPath forces each core this CPU has (AVX-512VL, AVX2, SSE2
// alone) and compares it with the one-block code.
func TestEachVectorPath(t *testing.T) {
	saved512, saved2 := useAVX512, useAVX2
	defer func() { useAVX512, useAVX2 = saved512, saved2 }()
	for _, p := range []struct {
		name         string
		have         bool
		avx512, avx2 bool
	}{
		{"AVX-512VL", cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL, true, false},
		{"AVX2", cpu.X86.HasAVX2, false, true},
		{"SSE2", true, false, false},
	} {
		t.Run(p.name, func(t *testing.T) {
			if !p.have {
				t.Skipf("CPU has no %s", p.name)
			}
			useAVX512, useAVX2 = p.avx512, p.avx2
			checkAgainstGeneric(t, 7)
		})
	}
}

// BenchmarkPaths is XORKeyStream on 1400 bytes with each core forced.
func BenchmarkPaths(b *testing.B) {
	saved512, saved2 := useAVX512, useAVX2
	defer func() { useAVX512, useAVX2 = saved512, saved2 }()
	var key [32]byte
	var nonce [8]byte
	buf := make([]byte, 1400)
	for _, p := range []struct {
		name         string
		have         bool
		avx512, avx2 bool
	}{
		{"AVX-512VL", cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL, true, false},
		{"AVX2", cpu.X86.HasAVX2, false, true},
		{"SSE2", true, false, false},
	} {
		if !p.have {
			continue
		}
		useAVX512, useAVX2 = p.avx512, p.avx2
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				XORKeyStream(buf, buf, &key, &nonce, 1)
			}
		})
	}
}
