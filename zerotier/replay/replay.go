// Package replay remembers recently accepted packet IDs so a node can drop a
// packet that is delivered again. ZeroTier One 1.x has no such filter (VL1.md
// 4.8); because every 1.x sender draws a fresh random ID (or, with
// AES-GMAC-SIV, a fresh SIV tag) per transmission, an honest peer never repeats
// one, so dropping repeats is safe and stops replayed packets.
package replay

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
)

// Window is a fixed-size set of the most recent IDs (oldest forgotten first).
// It is not synchronized.
//
// The set is an open-addressing table (linear probing, at most half full)
// rather than a map: every packet received does a lookup, an insert and,
// once full, a delete, and those three map operations were a tenth of a
// small packet's receive path.
type Window struct {
	ring  []uint64 // the IDs in arrival order; once full, next is the oldest
	next  int
	slots []uint64 // the IDs of ring, hashed; 0 is an empty slot
	shift uint     // 64 - log2(len(slots))
	seed  uint64   // keyed hash: a peer cannot choose IDs that collide
	zero  bool     // ID 0, which cannot be stored in slots, is in the window
}

// DefaultSize is enough for several seconds of traffic from one peer.
const DefaultSize = 4096

// New makes a window remembering the last size IDs.
func New(size int) *Window {
	if size <= 0 {
		size = DefaultSize
	}
	lg := bits.Len(uint(2*size - 1)) // slots: a power of two, at least 2*size
	var s [8]byte
	_, _ = rand.Read(s[:])
	return &Window{ring: make([]uint64, 0, size), slots: make([]uint64, 1<<lg), shift: uint(64 - lg),
		seed: binary.LittleEndian.Uint64(s[:])}
}

// home is id's first slot (Fibonacci hashing of the keyed ID).
func (w *Window) home(id uint64) int {
	return int(((id ^ w.seed) * 0x9e3779b97f4a7c15) >> w.shift)
}

// Check records id and reports whether it is new (false: seen before).
func (w *Window) Check(id uint64) bool {
	if id == 0 {
		if w.zero {
			return false
		}
	} else {
		mask := len(w.slots) - 1
		i := w.home(id)
		for w.slots[i] != 0 {
			if w.slots[i] == id {
				return false
			}
			i = (i + 1) & mask
		}
	}
	if len(w.ring) < cap(w.ring) {
		w.ring = append(w.ring, id)
	} else {
		w.remove(w.ring[w.next])
		w.ring[w.next] = id
		if w.next++; w.next == len(w.ring) {
			w.next = 0
		}
	}
	w.insert(id)
	return true
}

func (w *Window) insert(id uint64) {
	if id == 0 {
		w.zero = true
		return
	}
	mask := len(w.slots) - 1
	i := w.home(id)
	for w.slots[i] != 0 {
		i = (i + 1) & mask
	}
	w.slots[i] = id
}

// remove deletes id (present), shifting back the entries after it that
// would no longer be found (linear probing's deletion without tombstones).
func (w *Window) remove(id uint64) {
	if id == 0 {
		w.zero = false
		return
	}
	mask := len(w.slots) - 1
	i := w.home(id)
	for w.slots[i] != id {
		i = (i + 1) & mask
	}
	for j := i; ; {
		w.slots[i] = 0
		for {
			j = (j + 1) & mask
			if w.slots[j] == 0 {
				return
			}
			// The entry at j may move to i unless its home lies
			// cyclically within (i, j].
			if k := w.home(w.slots[j]); (j-k)&mask >= (j-i)&mask {
				break
			}
		}
		w.slots[i] = w.slots[j]
		i = j
	}
}

// Len is the number of IDs remembered.
func (w *Window) Len() int { return len(w.ring) }
