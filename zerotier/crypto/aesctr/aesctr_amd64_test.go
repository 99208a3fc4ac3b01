//go:build amd64 && !purego

package aesctr

import "testing"

// TestFallbackPath runs the comparison with AES-NI switched off, so the
// crypto/cipher path this package uses elsewhere is exercised too.
func TestFallbackPath(t *testing.T) {
	saved := useAESNI
	useAESNI = false
	defer func() { useAESNI = saved }()
	TestMatchesCryptoCipher(t)
}
