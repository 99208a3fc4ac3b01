package replay

import "testing"

func TestWindow(t *testing.T) {
	w := New(3)
	for _, id := range []uint64{1, 2, 3} {
		if !w.Check(id) {
			t.Fatalf("id %d reported as a repeat on first sight", id)
		}
	}
	if w.Check(2) {
		t.Fatal("repeat of 2 accepted")
	}
	if !w.Check(4) { // evicts 1
		t.Fatal("4 reported as a repeat")
	}
	if !w.Check(1) {
		t.Fatal("1 should have been forgotten after 3 newer IDs")
	}
	if w.Len() != 3 {
		t.Fatalf("Len = %d, want 3", w.Len())
	}
	if w.Check(4) || w.Check(1) {
		t.Fatal("recent IDs accepted again")
	}
}

// TestWindowModel compares the window with a map and a queue over IDs drawn
// from a small range (many repeats, collisions and evictions), 0 included.
func TestWindowModel(t *testing.T) {
	for _, size := range []int{1, 3, 64, 1000} {
		w := New(size)
		seen := map[uint64]bool{}
		var queue []uint64
		rng := uint64(size)
		for n := 0; n < 200000; n++ {
			rng = rng*6364136223846793005 + 1442695040888963407
			id := (rng >> 33) % uint64(3*size)
			if n%7 == 0 {
				id <<= 40 // IDs alike in their low bits too
			}
			want := !seen[id]
			if want {
				seen[id] = true
				queue = append(queue, id)
				if len(queue) > size {
					delete(seen, queue[0])
					queue = queue[1:]
				}
			}
			if got := w.Check(id); got != want {
				t.Fatalf("size %d, step %d: Check(%d) = %v, want %v", size, n, id, got, want)
			}
		}
		if w.Len() != len(seen) {
			t.Fatalf("size %d: Len %d, want %d", size, w.Len(), len(seen))
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	w := New(DefaultSize)
	id := uint64(1)
	for b.Loop() {
		id = id*6364136223846793005 + 1442695040888963407
		if !w.Check(id) {
			b.Fatal("repeat")
		}
	}
}
