// Package blob generates the deterministic body the static Go HTTP server
// serves and the client checks: SHA-256 in counter mode over a seed, so that
// both sides agree on content without sharing a file.
package blob

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Generate returns n bytes derived from seed.
func Generate(seed string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	var ctr [8]byte
	for i := uint64(0); len(out) < n; i++ {
		binary.BigEndian.PutUint64(ctr[:], i)
		h := sha256.New()
		h.Write([]byte(seed))
		h.Write(ctr[:])
		out = h.Sum(out)
	}
	return out[:n]
}

// Sum is the hex SHA-256 of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
