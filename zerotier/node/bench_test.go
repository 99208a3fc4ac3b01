package node

import (
	"log/slog"
	"testing"
	"time"
)

// BenchmarkHelloHandshake measures complete HELLO → OK(HELLO) exchanges per
// second between two in-process nodes on 127.0.0.1, one at a time.
// known: the responder already knows the sender (key cached), as in the
// periodic HELLOs; new: the responder forgets the sender first, so each
// handshake includes identity validation (memory-hard hash) and key agreement.
func BenchmarkHelloHandshake(b *testing.B) {
	for _, forget := range []bool{false, true} {
		name := "known"
		if forget {
			name = "new"
		}
		b.Run(name, func(b *testing.B) {
			root, leaves := startNetWith(b, 1, func(i int, c *Config) {
				c.PingInterval = time.Hour // no background HELLOs or keepalives
				c.HelloRateLimit = -1
				c.Logger = slog.New(slog.DiscardHandler)
			})
			a := leaves[0]
			// The first handshake is driven by the node itself.
			waitFor(b, "leaf online", func() bool { return a.Online() && hasDirectPath(root.Node, a.Address()) })
			a.mu.Lock()
			pr := a.peers[root.Address()]
			a.mu.Unlock()
			for b.Loop() {
				if forget {
					root.mu.Lock()
					delete(root.peers, a.Address())
					root.mu.Unlock()
				}
				before := a.Counters.RxPackets.Load()
				a.mu.Lock()
				a.sendHelloLocked(pr, 0, root.addr, time.Now())
				a.mu.Unlock()
				deadline := time.Now().Add(5 * time.Second)
				for a.Counters.RxPackets.Load() == before {
					if time.Now().After(deadline) {
						b.Fatalf("no OK(HELLO) within 5 s: %v / %v", a.Counters.Snapshot(), root.Counters.Snapshot())
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}
