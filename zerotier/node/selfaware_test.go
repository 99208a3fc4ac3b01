package node

import (
	"testing"
	"time"

	"ztnc/zerotier/path"
	"ztnc/zerotier/selfaware"
)

// TestPathResetReprobes: a surface reset in a scope marks a's paths there
// as not alive and probes them; b's answer brings the path back. (Reports
// in loopback scope are ignored by design, as in 1.14, so the reset is
// triggered directly; selfaware's tests cover when it triggers.)
func TestPathResetReprobes(t *testing.T) {
	root, leaves := startNet(t, 2)
	a, b := leaves[0], leaves[1]
	waitReady(t, root, leaves)
	if err := a.SendUserMessage(b.Address(), testMsgType, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	recvMsg(t, b, "a -> b")
	waitFor(t, "a with a direct path to b", func() bool { return hasDirectPath(a.Node, b.Address()) })

	rx := b.Counters.RxPackets.Load()
	a.mu.Lock()
	a.resetPathsLocked(selfaware.Reset{Scope: path.ScopeLoopback}, time.Now())
	for _, pr := range a.peers {
		for _, pa := range pr.Paths {
			if !pa.LastReceive.IsZero() {
				a.mu.Unlock()
				t.Fatalf("path %v to %v still counts as heard from", pa.Remote, pr.Identity.Address)
			}
		}
	}
	a.mu.Unlock()
	if a.Counters.PathResets.Load() != 1 {
		t.Fatal("reset not counted")
	}
	waitFor(t, "b receiving a's probes", func() bool { return b.Counters.RxPackets.Load() > rx })
	waitFor(t, "a's path to b alive again", func() bool { return hasDirectPath(a.Node, b.Address()) })

	// A reset in another scope leaves loopback paths alone.
	a.mu.Lock()
	a.resetPathsLocked(selfaware.Reset{Scope: path.ScopeGlobal}, time.Now())
	defer a.mu.Unlock()
	for _, pr := range a.peers {
		for _, pa := range pr.Paths {
			if pa.LastReceive.IsZero() {
				t.Fatalf("global-scope reset touched loopback path %v", pa.Remote)
			}
		}
	}
}
