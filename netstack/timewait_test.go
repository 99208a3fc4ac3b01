package netstack

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// A client whose stack restarts reconnects from the ports it used before,
// to a server that closed those connections first (its side is in
// TIME-WAIT): every connect succeeds at once. The restarted stack's
// sequence numbers come from a fresh secret, so about half the reused ports
// get a SYN below the old connection's, which gVisor alone drops for a
// minute (timewait.go).
func TestRestartedClientReusesPorts(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v6=%v", v6), func(t *testing.T) { restartedClient(t, v6) })
	}
}

func restartedClient(t *testing.T, v6 bool) {
	pfs, pfc := netip.MustParsePrefix("10.6.0.1/24"), netip.MustParsePrefix("10.6.0.2/24")
	proto := ipv4.ProtocolNumber
	if v6 {
		pfs, pfc = netip.MustParsePrefix("fd00:6::1/64"), netip.MustParsePrefix("fd00:6::2/64")
		proto = ipv6.ProtocolNumber
	}
	ps, pc := newPipe()
	defer close(ps.done)
	server := newLocal(t)
	attachAt(t, server, "s", ps, pfs)
	saddr := tcpip.FullAddress{Addr: tcpip.AddrFromSlice(pfs.Addr().AsSlice()), Port: 80}
	serveThenClose(t, server, saddr, proto, []byte("hi"))

	const ports = 16
	for run := 0; run < 2; run++ {
		// A new client stack, on a new cable end, with the same address.
		if run > 0 {
			pc = &pipePort{mac: pc.mac, wake: make(chan struct{}, 1), done: make(chan struct{})}
			ps.setPeer(pc)
			pc.peer = ps
		}
		defer close(pc.done)
		client := newLocal(t)
		nc := attachAt(t, client, "c", pc, pfc)
		for i := 0; i < ports; i++ {
			// Named NIC: the address is on the loopback too (AddAddress).
			laddr := tcpip.FullAddress{NIC: nc, Addr: tcpip.AddrFromSlice(pfc.Addr().AsSlice()), Port: uint16(40000 + i)}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			c, err := gonet.DialTCPWithBind(ctx, client.Stack, laddr, saddr, proto)
			cancel()
			if err != nil {
				t.Fatalf("run %d, port %d: connect: %v", run, laddr.Port, err)
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if b, err := io.ReadAll(c); err != nil || string(b) != "hi" {
				t.Fatalf("run %d, port %d: read %q, %v", run, laddr.Port, b, err)
			}
			c.Close()
		}
		client.Close()
	}
}

// A connection the server closed first leaves a TIME-WAIT endpoint, which
// goes after timeWait, not Linux's minute (stack.go: each one is a whole
// endpoint, and a busy server held a gigabyte of them).
func TestTimeWaitEnds(t *testing.T) {
	st := newLocal(t)
	lo := tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	saddr := tcpip.FullAddress{Addr: lo, Port: 7100}
	ln, err := gonet.ListenTCP(st.Stack, saddr, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	laddr := tcpip.FullAddress{Addr: lo, Port: 40100}
	c, err := gonet.DialTCPWithBind(context.Background(), st.Stack, laddr, saddr, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(c) // the server's FIN
	c.Close()
	id := stack.TransportEndpointID{LocalPort: 7100, LocalAddress: lo, RemotePort: 40100, RemoteAddress: lo}
	state := func() tcp.EndpointState {
		if ep, ok := st.FindTransportEndpoint(ipv4.ProtocolNumber, tcp.ProtocolNumber, id, LoopbackNIC).(*tcp.Endpoint); ok {
			return tcp.EndpointState(ep.State())
		}
		return tcp.StateClose
	}
	start := time.Now()
	for state() != tcp.StateTimeWait {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the server's side is in %v, not TIME-WAIT", state())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for state() == tcp.StateTimeWait {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("still in TIME-WAIT after %v", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("TIME-WAIT ended after %v", time.Since(start).Round(100*time.Millisecond))
}

// Any frame in, however malformed, is looked at for a SYN that reopens a
// TIME-WAIT without panicking; a SYN that does reopen one is in the seeds.
func FuzzEndTimeWait(f *testing.F) {
	for _, v6 := range []bool{false, true} {
		f.Add(gsoFrame(v6, nil, nil, header.TCPFlagSyn))
		f.Add(gsoFrame(v6, []byte{1, 1, 1, 1}, []byte("x"), header.TCPFlagSyn|header.TCPFlagAck))
	}
	f.Add([]byte{})
	st, err := New()
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	nic, err := st.AttachPort("fuzz", NewNullPort(2800))
	if err != nil {
		f.Fatal(err)
	}
	st.mu.Lock()
	e := st.ports[nic].ep
	st.mu.Unlock()
	f.Fuzz(func(t *testing.T, frame []byte) {
		e.endTimeWait(frame)
	})
}
