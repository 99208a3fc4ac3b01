//go:build amd64 && !purego

package aesctr

import (
	"crypto/subtle"

	"golang.org/x/sys/cpu"
)

// ctrBlocksAESNI XORs n whole blocks of src with the keystream for iv into
// dst (aesctr_amd64.s): eight blocks at a time, then one at a time.
//
//go:noescape
func ctrBlocksAESNI(rk *[Rounds + 1][16]byte, dst, src *byte, n uint64, iv *[16]byte)

// useAESNI is a variable so tests can force the fallback.
var useAESNI = cpu.X86.HasAES && cpu.X86.HasSSE41

func xorKeyStream(k *Key, dst, src []byte, iv *[16]byte) {
	if !useAESNI {
		xorKeyStreamGeneric(k, dst, src, iv)
		return
	}
	n := len(src) / 16
	if n > 0 {
		ctrBlocksAESNI(&k.rk, &dst[0], &src[0], uint64(n), iv)
	}
	if rest := len(src) - 16*n; rest > 0 {
		// The last partial block: keystream for counter + n, then XOR.
		last := *iv
		c := uint32(last[12])<<24 | uint32(last[13])<<16 | uint32(last[14])<<8 | uint32(last[15])
		c += uint32(n)
		last[12], last[13], last[14], last[15] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
		var ks [16]byte
		ctrBlocksAESNI(&k.rk, &ks[0], &ks[0], 1, &last)
		subtle.XORBytes(dst[16*n:], src[16*n:], ks[:rest])
	}
}
