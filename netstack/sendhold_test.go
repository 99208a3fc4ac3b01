package netstack

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// A connection that writes its last bytes and closes while its sends are
// held sends them and its FIN in one segment (valid checksums, within the
// MTU); the receiving stack reads the bytes, then EOF, and the sender's
// side goes on to TIME-WAIT when the receiver closes too: gVisor takes the
// one ACK of both.
func TestHeldDataAndFinGoAsOne(t *testing.T) {
	for _, size := range []int{148, 6000} {
		for _, how := range []string{"shutdown", "close"} {
			for _, ip := range []string{"v4", "v6", "v4-mapped"} {
				t.Run(fmt.Sprintf("%d/%s/%s", size, how, ip), func(t *testing.T) { heldFin(t, size, how, ip) })
			}
		}
	}
}

func heldFin(t *testing.T, size int, how, ipv string) {
	pa, pb := newPipe()
	defer close(pa.done)
	defer close(pb.done)
	var mu sync.Mutex
	var out [][]byte // what a sends
	pa.tap = func(f []byte) {
		mu.Lock()
		out = append(out, append([]byte(nil), f...))
		mu.Unlock()
	}
	sa, sb := newLocal(t), newLocal(t)
	pfa, pfb := netip.MustParsePrefix("10.7.0.1/24"), netip.MustParsePrefix("10.7.0.2/24")
	proto := ipv4.ProtocolNumber
	if ipv == "v6" {
		pfa, pfb = netip.MustParsePrefix("fd00:7::1/64"), netip.MustParsePrefix("fd00:7::2/64")
		proto = ipv6.ProtocolNumber
	}
	attachAt(t, sa, "a", holdingPipePort{batchPipePort{pa}}, pfa)
	attachAt(t, sb, "b", holdingPipePort{batchPipePort{pb}}, pfb)
	addr := tcpip.FullAddress{Addr: tcpip.AddrFromSlice(pfb.Addr().AsSlice()), Port: 7002}
	ln, err := gonet.ListenTCP(sb.Stack, addr, proto)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := bytes.Repeat([]byte("response "), size/9+1)[:size]
	got := readFirstConn(ln) // the bytes, then EOF

	var wq waiter.Queue
	dial := addr
	if ipv == "v4-mapped" {
		proto = ipv6.ProtocolNumber
		dial.Addr = tcpip.AddrFrom16(netip.AddrFrom4(pfb.Addr().As4()).As16())
	}
	ep := dialTCP(t, sa, proto, dial, &wq)

	hold := sa.HoldSends(ep)
	if _, terr := ep.Write(bytes.NewReader(data), tcpip.WriteOptions{}); terr != nil {
		t.Fatal(terr)
	}
	if how == "close" {
		ep.Close()
	} else {
		ep.Shutdown(tcpip.ShutdownWrite)
	}
	hold.Release()

	select {
	case b := <-got:
		if !bytes.Equal(b, data) {
			t.Fatalf("received %d bytes, want the %d sent", len(b), len(data))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver did not read the bytes and EOF")
	}
	if n := pa.bad.Load() + pb.bad.Load(); n > 0 {
		t.Fatalf("%d frames a receiver would drop, e.g. %v", n, pa.lastBad.Load())
	}
	// The sender's FIN is acknowledged and the receiver's taken.
	deadline := time.Now().Add(10 * time.Second)
	for tcp.EndpointState(ep.State()) != tcp.StateTimeWait {
		if time.Now().After(deadline) {
			t.Fatalf("sender in state %v, want TIME-WAIT", tcp.EndpointState(ep.State()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if how != "close" {
		ep.Close()
	}

	mu.Lock()
	defer mu.Unlock()
	fins := 0
	var bare []uint32 // bare FINs' sequence numbers
	finSeq := uint32(0)
	for _, f := range out {
		p, ok := parseTCPFrame(f)
		if !ok {
			continue
		}
		th := header.TCP(f[p.l4:])
		if th.Flags()&header.TCPFlagFin == 0 {
			continue
		}
		if p.data == len(f) {
			bare = append(bare, th.SequenceNumber())
			continue
		}
		fins++
		finSeq = th.SequenceNumber() + uint32(len(f)-p.data)
		if !bytes.HasSuffix(data, f[p.data:]) {
			t.Errorf("the FIN came with %d bytes that are not the data's last", len(f)-p.data)
		}
	}
	for _, seq := range bare {
		// gVisor counts the data and the FIN as two segments out, so its
		// tail-loss probe (two round trips, no floor) may send the FIN
		// again while a loaded machine runs the receiver late.
		if seq != finSeq || sa.Stats().TCP.Retransmits.Value() == 0 {
			t.Errorf("a bare FIN went out (seq %d)", seq)
		}
	}
	if fins != 1 {
		t.Errorf("%d segments with FIN and data went out, want 1", fins)
	}
}
