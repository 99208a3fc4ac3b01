package identity

import (
	"crypto/sha512"
	"encoding/binary"
	"sync"

	"golang.org/x/crypto/salsa20/salsa"

	"ztnc/zerotier/crypto/c25519"
)

// Parameters of ZeroTier's memory-hard address derivation (node/Identity.cpp).
// The 2 MiB working set makes generating addresses to order expensive.
const (
	hashMemory    = 2 * 1024 * 1024
	hashWords     = hashMemory / 8
	hashThreshold = 17 // digest[0] must be below this
)

// hashBuffers recycles the 2 MiB scratch area; validation runs on every new
// peer, and allocating 2 MiB each time would churn the GC.
var hashBuffers = sync.Pool{New: func() any { return new([hashMemory]byte) }}

// stream is a Salsa20/20 keystream that, like ZeroTier's, continues across
// calls in whole 64-byte blocks.
type stream struct {
	key     [32]byte
	counter [16]byte // nonce (8) || little-endian block counter (8)
	block   uint64
}

func (s *stream) xor(b []byte) {
	binary.LittleEndian.PutUint64(s.counter[8:], s.block)
	salsa.XORKeyStream(b, b, &s.counter, &s.key)
	s.block += uint64((len(b) + 63) / 64)
}

// memoryHardHash computes the 64-byte digest from which an identity's address
// is taken (VL1.md 1.2). The steps must run in this exact order: later
// iterations read words that earlier swaps have modified.
func memoryHardHash(pub *c25519.PublicKey) [64]byte {
	digest := sha512.Sum512(pub[:])

	var s stream
	copy(s.key[:], digest[:32])
	copy(s.counter[:8], digest[32:40])

	mem := hashBuffers.Get().(*[hashMemory]byte)
	defer hashBuffers.Put(mem)

	// Fill: block 0 = keystream; block k = block k-1 XOR keystream block k.
	// Generating all keystream in one call and then chaining is equivalent
	// and much faster than 32768 single-block calls.
	clear(mem[:])
	s.xor(mem[:])
	for i := 64; i < hashMemory; i++ {
		mem[i] ^= mem[i-64]
	}

	for i := 0; i < hashWords; i += 2 {
		idx1 := binary.BigEndian.Uint64(mem[i*8:]) % 8
		idx2 := binary.BigEndian.Uint64(mem[(i+1)*8:]) % hashWords
		var tmp [8]byte
		copy(tmp[:], mem[idx2*8:idx2*8+8])
		copy(mem[idx2*8:idx2*8+8], digest[idx1*8:idx1*8+8])
		copy(digest[idx1*8:idx1*8+8], tmp[:])
		s.xor(digest[:])
	}
	return digest
}
