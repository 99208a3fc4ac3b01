package selfaware

import (
	"net/netip"
	"testing"
	"time"

	"ztnc/zerotier/path"
)

var (
	root     = netip.MustParseAddrPort("9.9.9.9:9993")
	root2    = netip.MustParseAddrPort("8.8.4.4:9993")
	mineA    = netip.MustParseAddrPort("52.1.1.1:40000")
	mineAp   = netip.MustParseAddrPort("52.1.1.1:40001") // same IP, new port
	mineB    = netip.MustParseAddrPort("52.2.2.2:40000")
	lanPeer  = netip.MustParseAddrPort("10.0.0.2:9993")
	lanMine  = netip.MustParseAddrPort("10.0.0.1:9993")
	loopback = netip.MustParseAddrPort("127.0.0.1:9993")
)

func TestIAm(t *testing.T) {
	var tb Table
	now := time.Unix(1_000_000, 0)
	// First report: recorded, no reset.
	if _, reset := tb.IAm(1, 0, root, mineA, true, now); reset {
		t.Fatal("reset on a first report")
	}
	// Same IP, new port: no reset.
	if _, reset := tb.IAm(1, 0, root, mineAp, true, now.Add(time.Second)); reset {
		t.Fatal("reset on a port change")
	}
	// Another reporter's view in the scope; an untrusted change does nothing.
	tb.IAm(2, 0, root2, mineA, false, now)
	if _, reset := tb.IAm(2, 0, root2, mineB, false, now.Add(2*time.Second)); reset {
		t.Fatal("reset on an untrusted report")
	}
	// Trusted change of IP within 10 minutes: reset in global IPv4, and the
	// other reporter's entry is dropped.
	r, reset := tb.IAm(1, 0, root, mineB, true, now.Add(3*time.Second))
	if !reset || r.Scope != path.ScopeGlobal || r.IPv6 {
		t.Fatalf("reset %v %+v", reset, r)
	}
	if s := tb.Surface(); len(s) != 1 || s[0] != mineB {
		t.Fatalf("surface after reset: %v", s)
	}
	if !r.Matches(netip.MustParseAddrPort("[::ffff:8.8.8.8]:1")) || r.Matches(lanPeer) || r.Matches(netip.MustParseAddrPort("[2001:db8::1]:1")) {
		t.Fatal("Reset.Matches")
	}
	// A trusted change after the entry expired is a first report again.
	if _, reset := tb.IAm(1, 0, root, mineA, true, now.Add(3*time.Second+EntryTimeout)); reset {
		t.Fatal("reset from an expired entry")
	}
	// Scope mismatch and loopback are ignored.
	tb.IAm(3, 0, lanPeer, mineA, true, now)
	tb.IAm(4, 0, loopback, loopback, true, now)
	for _, ap := range tb.Surface() {
		if ap == loopback {
			t.Fatal("loopback surface recorded")
		}
	}
	// Private scope works on its own.
	tb.IAm(3, 0, lanPeer, lanMine, true, now)
	if _, reset := tb.IAm(3, 0, lanPeer, netip.MustParseAddrPort("10.0.0.5:9993"), true, now.Add(time.Second)); !reset {
		t.Fatal("no reset for a trusted change in private scope")
	}
	tb.Clean(now.Add(time.Hour))
	if len(tb.Surface()) != 0 {
		t.Fatal("Clean kept old entries")
	}
}
