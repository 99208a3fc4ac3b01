// Package replay remembers recently accepted packet IDs so a node can drop a
// packet that is delivered again. ZeroTier One 1.x has no such filter (VL1.md
// 4.8); because every 1.x sender draws a fresh random ID (or, with
// AES-GMAC-SIV, a fresh SIV tag) per transmission, an honest peer never repeats
// one, so dropping repeats is safe and stops replayed packets.
package replay

// Window is a fixed-size set of the most recent IDs (oldest forgotten first).
// It is not synchronized.
type Window struct {
	ring []uint64
	set  map[uint64]struct{}
	next int
}

// DefaultSize is enough for several seconds of traffic from one peer.
const DefaultSize = 4096

// New makes a window remembering the last size IDs.
func New(size int) *Window {
	if size <= 0 {
		size = DefaultSize
	}
	return &Window{ring: make([]uint64, 0, size), set: make(map[uint64]struct{}, size)}
}

// Check records id and reports whether it is new (false: seen before).
func (w *Window) Check(id uint64) bool {
	if _, ok := w.set[id]; ok {
		return false
	}
	if len(w.ring) < cap(w.ring) {
		w.ring = append(w.ring, id)
	} else {
		delete(w.set, w.ring[w.next])
		w.ring[w.next] = id
		w.next = (w.next + 1) % len(w.ring)
	}
	w.set[id] = struct{}{}
	return true
}

// Len is the number of IDs remembered.
func (w *Window) Len() int { return len(w.set) }
