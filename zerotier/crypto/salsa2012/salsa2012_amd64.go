//go:build amd64 && !purego

package salsa2012

import (
	"crypto/subtle"

	"golang.org/x/sys/cpu"
)

// xorBlocks4SSE2 XORs n groups of four blocks (256 bytes) of src with the
// keystream starting at block counter (salsa2012_amd64.s). SSE2 is part of
// amd64, so it needs no feature check.
//
//go:noescape
func xorBlocks4SSE2(dst, src *byte, n uint64, st *state, counter uint64)

// xorBlocks8AVX2 is the same for groups of eight blocks (512 bytes)
// (salsa2012_avx2_amd64.s).
//
//go:noescape
func xorBlocks8AVX2(dst, src *byte, n uint64, st *state, counter uint64)

// xorBlocks8AVX512 is the same with AVX-512VL on 256-bit registers
// (salsa2012_avx512_amd64.s): the whole state in registers, one-instruction
// rotates.
//
//go:noescape
func xorBlocks8AVX512(dst, src *byte, n uint64, st *state, counter uint64)

// The eight-block core to use; variables so tests can force each path.
var (
	useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	useAVX2   = cpu.X86.HasAVX2
)

// xorBlocks8 runs the best eight-block core (callers check one exists).
func xorBlocks8(dst, src *byte, n uint64, st *state, counter uint64) {
	if useAVX512 {
		xorBlocks8AVX512(dst, src, n, st, counter)
	} else {
		xorBlocks8AVX2(dst, src, n, st, counter)
	}
}

// vectorMin is the shortest input worth the four-block core: below it the
// one-block Go code is faster than computing four blocks and using part.
const vectorMin = 2 * BlockSize

func xorKeyStream(dst, src []byte, st *state, counter uint64) {
	if len(src) < vectorMin {
		xorKeyStreamGeneric(dst, src, st, counter)
		return
	}
	if useAVX512 || useAVX2 {
		if n := len(src) / (8 * BlockSize); n > 0 {
			xorBlocks8(&dst[0], &src[0], uint64(n), st, counter)
			done := n * 8 * BlockSize
			dst, src = dst[done:], src[done:]
			counter += uint64(8 * n)
		}
		if len(src) > 4*BlockSize {
			// Five to eight blocks left: one more group into a zeroed
			// buffer gives raw keystream.
			var ks [8 * BlockSize]byte
			xorBlocks8(&ks[0], &ks[0], 1, st, counter)
			subtle.XORBytes(dst, src, ks[:len(src)])
			return
		}
	}
	if n := len(src) / (4 * BlockSize); n > 0 {
		xorBlocks4SSE2(&dst[0], &src[0], uint64(n), st, counter)
		done := n * 4 * BlockSize
		dst, src = dst[done:], src[done:]
		counter += uint64(4 * n)
	}
	switch {
	case len(src) == 0:
	case len(src) < vectorMin:
		xorKeyStreamGeneric(dst, src, st, counter)
	default:
		var ks [4 * BlockSize]byte
		xorBlocks4SSE2(&ks[0], &ks[0], 1, st, counter)
		subtle.XORBytes(dst, src, ks[:len(src)])
	}
}
