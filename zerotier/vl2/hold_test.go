package vl2

import "testing"

// TestHoldDeliveries: a read's hold reaches the holders of joined networks'
// ports and its release exactly those, also when the set changes between
// the two.
func TestHoldDeliveries(t *testing.T) {
	l, _, nwid, _, _ := setup(t)
	if r := l.HoldDeliveries(); r != nil {
		t.Fatal("a release with no holder set")
	}
	var held, released int
	l.Network(nwid).Port().SetHolder(func() { held++ }, func() { released++ })
	r := l.HoldDeliveries()
	if r == nil || held != 1 || released != 0 {
		t.Fatalf("after hold: release %v, held %d, released %d", r != nil, held, released)
	}
	other := l.Join(nwid+1, nil)
	var otherHeld, otherReleased int
	other.Port().SetHolder(func() { otherHeld++ }, func() { otherReleased++ })
	r()
	if released != 1 || otherReleased != 0 {
		t.Fatalf("release reached %d/%d holders, want 1/0", released, otherReleased)
	}
	r = l.HoldDeliveries()
	if held != 2 || otherHeld != 1 {
		t.Fatalf("second hold: %d/%d", held, otherHeld)
	}
	l.Leave(nwid + 1)
	r()
	if released != 2 || otherReleased != 1 {
		t.Fatalf("second release: %d/%d", released, otherReleased)
	}
	l.Leave(nwid)
	if r := l.HoldDeliveries(); r != nil {
		t.Fatal("a release after every network was left")
	}
}
