//go:build !amd64 || purego

package salsa2012

// xorKeyStream has no vector core on this platform.
func xorKeyStream(dst, src []byte, st *state, counter uint64) {
	xorKeyStreamGeneric(dst, src, st, counter)
}
