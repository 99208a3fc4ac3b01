package path

import (
	"net/netip"
	"testing"
	"time"
)

func TestScopeOf(t *testing.T) {
	for s, want := range map[string]Scope{
		"0.1.2.3": ScopeNone, "224.0.0.1": ScopeMulticast, "127.0.0.1": ScopeLoopback,
		"::ffff:127.0.0.1": ScopeLoopback, "11.2.3.4": ScopePseudoPrivate, "240.0.0.1": ScopePseudoPrivate,
		"8.8.8.8": ScopeGlobal, "169.254.1.1": ScopeLinkLocal, "10.1.1.1": ScopePrivate,
		"172.30.1.1": ScopePrivate, "100.64.0.1": ScopePrivate, "192.168.1.1": ScopePrivate,
		"::": ScopeNone, "ff02::1": ScopeMulticast, "::1": ScopeLoopback, "fe80::1": ScopeLoopback,
		"fe80::2": ScopeLinkLocal, "fd00::1": ScopePrivate, "2001:db8::1": ScopeGlobal,
	} {
		if got := ScopeOf(netip.MustParseAddr(s)); got != want {
			t.Errorf("ScopeOf(%s) = %d, want %d", s, got, want)
		}
	}
}

func TestAcceptable(t *testing.T) {
	for s, want := range map[string]bool{
		"172.30.1.1:9993": true, "8.8.8.8:9993": true, "[fd00::1]:9993": true, "11.0.0.1:1": true,
		"127.0.0.1:9993": false, "169.254.0.1:9993": false, "[2001:470::1]:9993": false,
		"10.0.0.1:0": false, "224.0.0.1:9993": false,
	} {
		if got := Acceptable(netip.MustParseAddrPort(s), false); got != want {
			t.Errorf("Acceptable(%s) = %v, want %v", s, got, want)
		}
	}
	if !Acceptable(netip.MustParseAddrPort("127.0.0.1:9993"), true) {
		t.Error("loopback refused although allowed")
	}
}

func TestLiveness(t *testing.T) {
	now := time.Now()
	p := New(0, 9993, netip.MustParseAddrPort("[::ffff:10.0.0.1]:9993"))
	if p.Remote.Addr().Is4In6() {
		t.Fatal("remote not unmapped")
	}
	p.LastReceive = now.Add(-AliveWindow + time.Second)
	if !p.Alive(now) || p.Expired(now) {
		t.Fatal("recent path not alive")
	}
	p.LastReceive = now.Add(-Expiration)
	if p.Alive(now) || !p.Expired(now) {
		t.Fatal("243 s old path not expired")
	}
	p.UpdateLatency(10)
	p.UpdateLatency(20)
	if p.Latency != 15 {
		t.Fatalf("latency %d, want 15", p.Latency)
	}
	q := New(0, 9993, netip.MustParseAddrPort("8.8.8.8:9993"))
	q.LastReceive, q.Latency = now, 15
	p.LastReceive = now
	if p.Quality(now) >= q.Quality(now) {
		t.Fatal("private path not preferred over an equal global one")
	}
}
