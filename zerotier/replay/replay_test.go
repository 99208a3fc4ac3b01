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
