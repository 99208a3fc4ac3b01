package netstack

import (
	"io"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"ztnc/netstack/netstacktest"
)

// Many short connections in a row, the server closing first (its side goes
// to TIME-WAIT): none may stall.
func TestShortConnectionsDoNotStall(t *testing.T) {
	st := newLocal(t)
	addr := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}), Port: 7000}
	ln, err := gonet.ListenTCP(st.Stack, addr, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 64)
			io.ReadFull(c, b)
			c.Write(b)
			c.Close()
		}
	}()
	n := 5000
	if testing.Short() {
		n = 500
	}
	for i := 0; i < n; i++ {
		c, err := gonet.DialTCP(st.Stack, addr, ipv4.ProtocolNumber)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		c.Write(make([]byte, 64))
		if _, err := io.ReadFull(c, make([]byte, 64)); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		c.Close()
	}
}

// BenchmarkShortConnections: what a new connection costs in gVisor alone
// (short exchanges between two stacks joined by a cable in memory), beside
// the same exchanges on the host kernel's loopback.
func BenchmarkShortConnections(b *testing.B) {
	b.Run("kernel", netstacktest.KernelShortConnections)
	b.Run("gvisor", benchmarkGvisorShortConnections)
}

func benchmarkGvisorShortConnections(b *testing.B) {
	pa, pb := newPipe()
	b.Cleanup(func() { close(pa.done); close(pb.done) })
	var st [2]*Stack
	for i, p := range []*pipePort{pa, pb} {
		s, err := New()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		attachAt(b, s, "cable", batchPipePort{p}, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)}), 24))
		st[i] = s
	}
	netstacktest.ShortConnections(b, st[0].Stack, st[1].Stack,
		tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 9, 0, 2}), Port: 80})
}
