//go:build amd64 && !purego

package salsa2012

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestSSE2MatchesGeneric forces the SSE2 core where AVX2 would be used, so
// both vector paths are checked on a machine that has AVX2.
func TestSSE2MatchesGeneric(t *testing.T) {
	if !cpu.X86.HasAVX2 {
		t.Log("no AVX2: TestVectorMatchesGeneric already covers SSE2")
	}
	saved := useAVX2
	useAVX2 = false
	defer func() { useAVX2 = saved }()
	checkAgainstGeneric(t, 2)
}
