package netstack

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

func newLocal(t *testing.T) *Stack {
	t.Helper()
	st, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	nic, err := st.AttachPort("local", NewNullPort(2800))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddAddress(nic, netip.MustParsePrefix("10.9.0.1/24")); err != nil {
		t.Fatal(err)
	}
	return st
}

// attachAt adds a NIC on port to st, with prefix's address and subnet.
func attachAt(t testing.TB, st *Stack, name string, port Port, prefix netip.Prefix) tcpip.NICID {
	t.Helper()
	nic, err := st.AttachPort(name, port)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddAddress(nic, prefix); err != nil {
		t.Fatal(err)
	}
	return nic
}

// serveThenClose listens on addr of st and answers each connection with
// greeting, then closes it first (its TIME-WAIT is on the server's side).
func serveThenClose(t *testing.T, st *Stack, addr tcpip.FullAddress, proto tcpip.NetworkProtocolNumber, greeting []byte) {
	t.Helper()
	ln, err := gonet.ListenTCP(st.Stack, addr, proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write(greeting)
			c.Close()
		}
	}()
}

// dialTCP connects a new TCP endpoint of st to addr and waits for the
// handshake; wq is the endpoint's waiter queue.
func dialTCP(t *testing.T, st *Stack, proto tcpip.NetworkProtocolNumber, addr tcpip.FullAddress, wq *waiter.Queue) tcpip.Endpoint {
	t.Helper()
	ep, terr := st.NewEndpoint(tcp.ProtocolNumber, proto, wq)
	if terr != nil {
		t.Fatal(terr)
	}
	we, ch := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&we)
	defer wq.EventUnregister(&we)
	if terr := ep.Connect(addr); terr != nil {
		if _, ok := terr.(*tcpip.ErrConnectStarted); !ok {
			t.Fatal(terr)
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("connect timed out")
		}
	}
	return ep
}

// readFirstConn accepts one connection on ln and sends what it read, up to
// EOF, on the channel it returns (nil if the accept failed).
func readFirstConn(ln *gonet.TCPListener) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		c.Close()
		got <- b
	}()
	return got
}

// An ICMP echo socket pinging the stack's own addresses gets its replies.
func TestPingOwnAddresses(t *testing.T) {
	st := newLocal(t)
	for _, dst := range []string{"127.0.0.1", "10.9.0.1"} {
		var wq waiter.Queue
		ep, terr := st.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
		if terr != nil {
			t.Fatal(terr)
		}
		req := make([]byte, header.ICMPv4MinimumSize+4)
		icmpH := header.ICMPv4(req)
		icmpH.SetType(header.ICMPv4Echo)
		icmpH.SetSequence(7)
		copy(req[8:], "ping")
		e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
		wq.EventRegister(&e)
		to := tcpip.FullAddress{Addr: tcpip.AddrFrom4(netip.MustParseAddr(dst).As4())}
		if _, terr := ep.Write(bytes.NewReader(req), tcpip.WriteOptions{To: &to}); terr != nil {
			t.Fatalf("%s: write: %s", dst, terr)
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no echo reply (sent replies %d, dropped %d)", dst, st.Stats().ICMP.V4.PacketsSent.EchoReply.Value(), st.Stats().ICMP.V4.PacketsSent.Dropped.Value())
		}
		var out bytes.Buffer
		res, terr := ep.Read(&out, tcpip.ReadOptions{NeedRemoteAddr: true})
		if terr != nil {
			t.Fatalf("%s: read: %s", dst, terr)
		}
		rep := header.ICMPv4(out.Bytes())
		if rep.Type() != header.ICMPv4EchoReply || rep.Sequence() != 7 || !bytes.Equal(out.Bytes()[8:], []byte("ping")) {
			t.Fatalf("%s: bad reply %x", dst, out.Bytes())
		}
		if got := res.RemoteAddr.Addr.String(); got != dst {
			t.Fatalf("reply from %s, want %s", got, dst)
		}
		wq.EventUnregister(&e)
		ep.Close()
	}
}

// What AddAddress and AddRouteVia add, RemoveAddress and RemoveRoute take
// away again (a network's config can drop an address or a route).
func TestRemoveAddressAndRoute(t *testing.T) {
	st := newLocal(t)
	nic := tcpip.NICID(LoopbackNIC + 1)
	p := netip.MustParsePrefix("10.50.0.7/16")
	if err := st.AddAddress(nic, p); err != nil {
		t.Fatal(err)
	}
	st.AddRouteVia(nic, netip.MustParsePrefix("10.60.0.0/16"), netip.MustParseAddr("10.50.0.1"))
	has := func(dst string) bool {
		for _, r := range st.GetRouteTable() {
			if r.Destination.String() == dst {
				return true
			}
		}
		return false
	}
	if !has("10.50.0.0/16") || !has("10.60.0.0/16") {
		t.Fatalf("routes missing after adding: %v", st.GetRouteTable())
	}
	st.RemoveRoute(nic, netip.MustParsePrefix("10.60.0.0/16"), netip.MustParseAddr("10.50.0.1"))
	st.RemoveAddress(nic, p)
	if has("10.50.0.0/16") || has("10.60.0.0/16") {
		t.Fatalf("routes left after removing: %v", st.GetRouteTable())
	}
	for _, id := range []tcpip.NICID{nic, LoopbackNIC} {
		for _, a := range st.AllAddresses()[id] {
			if a.AddressWithPrefix.Address.String() == "10.50.0.7" {
				t.Fatalf("address left on NIC %d", id)
			}
		}
	}
	if !has("10.9.0.0/24") {
		t.Fatal("an unrelated route went too")
	}
}

// TestDetachPort: a detached port's NIC, addresses and routes are gone, and
// the other NICs' routes stay.
func TestDetachPort(t *testing.T) {
	st, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := st.AttachPort("a", NewNullPort(1500))
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.AttachPort("b", NewNullPort(1500))
	if err != nil {
		t.Fatal(err)
	}
	st.AddAddress(a, netip.MustParsePrefix("10.1.0.1/24"))
	st.AddAddress(b, netip.MustParsePrefix("10.2.0.1/24"))
	st.AddRouteVia(a, netip.MustParsePrefix("10.1.0.0/24"), netip.Addr{})
	st.AddRouteVia(b, netip.MustParsePrefix("10.2.0.0/24"), netip.Addr{})
	if err := st.DetachPort(a); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.NICInfo()[a]; ok {
		t.Error("NIC a still exists")
	}
	var onB int
	for _, r := range st.GetRouteTable() {
		if r.NIC == a {
			t.Errorf("route %v of the detached NIC is left", r)
		}
		if r.NIC == b {
			onB++
		}
	}
	if onB == 0 {
		t.Error("b's routes went with a's")
	}
	if err := st.DetachPort(a); err == nil {
		t.Error("detaching twice succeeded")
	}
}
