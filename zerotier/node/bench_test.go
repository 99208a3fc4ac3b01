package node

import (
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"ztnc/zerotier/packet"
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

// BenchmarkSmallPacket measures the node's cost per small packet (a
// 100-byte FRAME payload, as a TCP handshake's segments are) between two
// leaves on loopback with a direct path. oneway: a sends back to back (the
// sender's cost per packet; b reads concurrently); pingpong: a sends, b's
// VL2 handler answers, a waits for the answer (both directions, both nodes).
func BenchmarkSmallPacket(b *testing.B) {
	echo := make(chan struct{}, 1)
	var nodes [3]*Node
	root, leaves := startNetWith(b, 2, func(i int, c *Config) {
		c.PingInterval = time.Hour
		c.HelloRateLimit = -1
		c.Logger = slog.New(slog.DiscardHandler)
		switch i {
		case 1:
			c.VL2 = func(p VL2Packet) {
				if p.Verb == packet.VerbFrame && len(p.Payload) > 0 && p.Payload[0] == 1 {
					echo <- struct{}{}
				}
			}
		case 2:
			c.VL2 = func(p VL2Packet) {
				if p.Verb == packet.VerbFrame && len(p.Payload) > 0 && p.Payload[0] == 2 {
					nodes[2].Send(p.From.Address, packet.VerbFrame, pingPayload(1))
				}
			}
		}
	})
	nodes[1], nodes[2] = leaves[0].Node, leaves[1].Node
	waitReady(b, root, leaves)
	x, y := leaves[0], leaves[1]
	waitDirect(b, x, y)
	b.Run("oneway", func(b *testing.B) {
		p := pingPayload(0)
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			x.Send(y.Address(), packet.VerbFrame, p)
		}
	})
	b.Run("pingpong", func(b *testing.B) {
		p := pingPayload(2)
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			x.Send(y.Address(), packet.VerbFrame, p)
			select {
			case <-echo:
			case <-time.After(time.Second):
				b.Fatal("no answer within 1 s")
			}
		}
	})
}

func pingPayload(kind byte) []byte {
	p := make([]byte, 100)
	p[0] = kind
	return p
}

// reportCPU reports the process's CPU time (user and system, all threads:
// both nodes) per operation; call its result when the loop is done.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkHandleFrame measures one node's receive path for a small FRAME
// from a peer with a direct path (parse, authenticate, decrypt, replay
// check, path bookkeeping, hand-off to VL2), calling HandleDatagram with
// packets armored beforehand (fresh IDs, so none is a replay).
func BenchmarkHandleFrame(b *testing.B) {
	var got atomic.Uint64
	root, leaves := startNetWith(b, 2, func(i int, c *Config) {
		c.PingInterval = time.Hour
		c.HelloRateLimit = -1
		c.Logger = slog.New(slog.DiscardHandler)
		if i == 2 {
			c.VL2 = func(p VL2Packet) {
				if p.Verb == packet.VerbFrame {
					got.Add(1)
				}
			}
		}
	})
	waitReady(b, root, leaves)
	x, y := leaves[0], leaves[1]
	waitDirect(b, x, y)
	x.mu.Lock()
	pr := x.peers[y.Address()]
	x.mu.Unlock()
	const chunk = 4096
	pkts := make([][]byte, chunk)
	payload := pingPayload(0)
	armor := func() {
		for i := range pkts {
			id, _ := packet.RandomID()
			p := packet.New(id, y.Address(), x.Address(), packet.VerbFrame, payload)
			if err := p.Armor(pr.Keys, pr.Cipher()); err != nil {
				b.Fatal(err)
			}
			pkts[i] = p
		}
	}
	b.ReportAllocs()
	before := got.Load()
	i := chunk
	for b.Loop() {
		if i == chunk {
			b.StopTimer()
			armor()
			i = 0
			b.StartTimer()
		}
		y.HandleDatagram(0, x.addr, pkts[i])
		i++
	}
	if n := got.Load() - before; n < uint64(b.N) {
		b.Fatalf("%d of %d frames reached VL2", n, b.N)
	}
}
