package node

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"ztnc/zerotier/peercache"
)

// TestPeerCache: b forgets idle peer a into peers.d; with the root gone (no
// WHOIS possible) b can still reach a, because the cache gives a's identity
// and last address, which get a HELLO.
func TestPeerCache(t *testing.T) {
	dir := peercache.Dir(filepath.Join(t.TempDir(), peercache.DirName))
	root, leaves := startNetWith(t, 2, func(i int, c *Config) {
		if i == 2 {
			c.PeerCache = dir
		}
	})
	a, b := leaves[0], leaves[1]
	waitReady(t, root, leaves)
	if err := b.SendUserMessage(a.Address(), testMsgType, []byte("first")); err != nil {
		t.Fatal(err)
	}
	recvMsg(t, a, "b -> a")
	waitFor(t, "b with a direct path to a", func() bool { return hasDirectPath(b.Node, a.Address()) })

	// Ten minutes on, a and b have been idle past the 500 s activity
	// timeout: both forget each other (only b keeps a cache), so a sends b
	// no more keepalives that would reintroduce it.
	a.mu.Lock()
	a.housekeepLocked(time.Now().Add(10 * time.Minute))
	a.mu.Unlock()
	b.mu.Lock()
	after := b.housekeepLocked(time.Now().Add(10 * time.Minute))
	_, still := b.peers[a.Address()]
	b.mu.Unlock()
	for _, f := range after {
		f()
	}
	if still {
		t.Fatal("idle peer kept")
	}
	if _, err := os.Stat(filepath.Join(string(dir), a.Address().String()+".peer")); err != nil {
		t.Fatalf("no peers.d record: %v", err)
	}
	e, err := dir.Load(a.Address())
	if err != nil || e == nil || !e.Identity.Equal(a.Identity()) || len(e.Paths) == 0 || e.Paths[0] != a.addr || e.Major != 1 {
		t.Fatalf("record: %+v %v", e, err)
	}

	root.Close()
	// Resent until it arrives: the first copy may leave, relayed through
	// the (dead) root, before a's OK(HELLO) gives b a direct path. Without
	// the cache nothing arrives: no WHOIS can be answered.
	deadline := time.Now().Add(15 * time.Second)
	for got := false; !got; {
		if time.Now().After(deadline) {
			t.Fatal("b -> a after forgetting, root gone: nothing arrived")
		}
		if err := b.SendUserMessage(a.Address(), testMsgType, []byte("from the cache")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-a.msgs:
			if string(m.Data) != "from the cache" {
				t.Fatalf("got %q", m.Data)
			}
			got = true
		case <-time.After(300 * time.Millisecond):
		}
	}
	if b.Counters.PeerCacheHit.Load() != 1 {
		t.Fatalf("peerCacheHit = %d", b.Counters.PeerCacheHit.Load())
	}
}
