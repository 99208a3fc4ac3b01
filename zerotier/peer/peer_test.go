package peer

import (
	"net/netip"
	"testing"
	"time"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/path"
)

func TestCipherChoiceAndPaths(t *testing.T) {
	me, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p, err := New(me, other, now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Cipher() != packet.CipherPoly1305Salsa2012 {
		t.Fatal("unknown version must use Salsa20/12")
	}
	p.SetVersion(11, 1, 4, 6)
	if p.Cipher() != packet.CipherPoly1305Salsa2012 {
		t.Fatal("protocol 11 must use Salsa20/12")
	}
	p.SetVersion(12, 1, 14, 1)
	if p.Cipher() != packet.CipherAESGMACSIV {
		t.Fatal("protocol 12 must use AES-GMAC-SIV")
	}
	if !p.FreshID(7) || p.FreshID(7) {
		t.Fatal("replay window")
	}

	a := path.New(0, 1, netip.MustParseAddrPort("10.0.0.1:9993"))
	a.LastReceive = now
	p.LearnPath(a, now)
	if p.FindPath(0, a.Remote) != a || p.BestPath(now) != a || !p.HasDirectPath(now) {
		t.Fatal("learned path not found")
	}
	if !p.BlocksFlap(0, netip.MustParseAddrPort("10.0.0.1:1234"), now) {
		t.Fatal("a new port on a live IP should not be learned")
	}
	a.LastReceive = now.Add(-path.Expiration)
	p.ExpirePaths(now)
	if len(p.Paths) != 0 || p.BestPath(now) != nil {
		t.Fatal("expired path kept")
	}
	for i := 0; i < PushCutoffLimit; i++ {
		if !p.AllowPushIn(now) {
			t.Fatalf("push %d refused", i)
		}
	}
	if p.AllowPushIn(now) {
		t.Fatal("push beyond the 30 s limit allowed")
	}
	if !p.AllowPushIn(now.Add(PushCutoffTime + time.Second)) {
		t.Fatal("push gate did not reset")
	}
}
