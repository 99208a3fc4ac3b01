package vl2_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"ztnc/netstack"
	"ztnc/netstack/netstacktest"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/service"
	"ztnc/zerotier/servicetest"
	"ztnc/zerotier/vl2"
)

// attach puts a member's port on a fresh userspace stack with its IPs.
func attach(t testing.TB, n *vl2.Network) (*netstack.Stack, tcpip.NICID) {
	st, err := netstack.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	nic, err := st.AttachPort("zt", n.Port())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range n.Addresses() {
		if err := st.AddAddress(nic, p); err != nil {
			t.Fatal(err)
		}
	}
	return st, nic
}

// TestNetstackTCP: two members' ports on gVisor stacks; TCP over IPv4 (ARP
// through the multicast path) and over the RFC4193 IPv6 addresses (NDP
// emulation), with segments large enough to need VL1 fragmentation, on a
// network whose rules admit only senders whose COO covers the source IP.
func TestNetstackTCP(t *testing.T) {
	t.Parallel() // separate labs (own root, planet and ports)
	l := newLab(t)
	nwid := uint64(l.ctl.Node.Address())<<24 | 0x5eed
	if code, _ := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x", nwid), map[string]any{
		"private": false, "v4AssignMode": map[string]any{"zt": true}, "v6AssignMode": map[string]any{"rfc4193": true},
		"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.44.0.1", "ipRangeEnd": "10.44.0.200"}},
		"routes":            []any{map[string]any{"target": "10.44.0.0/24"}},
		// Only frames whose sender owns its source IP (by its COO) pass.
		"rules": []any{map[string]any{"type": "MATCH_CHARACTERISTICS", "not": true, "mask": "1000000000000000"},
			map[string]any{"type": "ACTION_DROP"}, map[string]any{"type": "ACTION_ACCEPT"}},
	}); code != 200 {
		t.Fatal(code)
	}
	a, b := l.leaf(2), l.leaf(3)
	a.VL2.Join(nwid, nil)
	b.VL2.Join(nwid, nil)
	servicetest.WaitFor(t, "configs", func() bool {
		return len(a.VL2.Network(nwid).Addresses()) == 2 && len(b.VL2.Network(nwid).Addresses()) == 2
	})
	na, nb := a.VL2.Network(nwid), b.VL2.Network(nwid)
	// A spoofed source IP is dropped by the rules (outbound, at A).
	before := a.VL2.Counters.DropRules.Load()
	spoof := make([]byte, 28)
	spoof[0], spoof[9] = 0x45, 17
	copy(spoof[12:], netip.MustParseAddr("10.44.0.250").AsSlice())
	copy(spoof[16:], ipv4Of(t, nb).AsSlice())
	if err := na.Port().WriteFrame(unicast(nb.Port().MAC(), na.Port().MAC(), 0x0800, spoof)); err != nil {
		t.Fatal(err)
	}
	if a.VL2.Counters.DropRules.Load() != before+1 {
		t.Fatal("spoofed source not dropped by the rules")
	}
	sa, _ := attach(t, na)
	sb, _ := attach(t, nb)
	// The stack set its port's holder: a read's frames go up held.
	if r := b.VL2.HoldDeliveries(); r == nil {
		t.Fatal("no holder after attaching a stack")
	} else {
		r()
	}
	for _, dst := range []netip.Addr{ipv4Of(t, nb), netconf.RFC4193(nwid, b.Node.Address()).Addr()} {
		proto := ipv4.ProtocolNumber
		if dst.Is6() {
			proto = ipv6.ProtocolNumber
		}
		fa := tcpip.FullAddress{Addr: tcpip.AddrFromSlice(dst.AsSlice()), Port: 7777}
		ln, err := gonet.ListenTCP(sb.Stack, fa, proto)
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte("zerotier-"), 1000) // 9000 bytes: several 2800-byte frames, each fragmented
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			io.Copy(c, c) // echo
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		c, err := gonet.DialContextTCP(ctx, sa.Stack, fa, proto)
		cancel()
		if err != nil {
			t.Fatalf("dial %s: %v", dst, err)
		}
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo over %s: %v", dst, err)
		}
		c.Close()
		ln.Close()
	}
}

// echoOnce listens on st at (addr, port), dials it from other and checks an
// echo; it returns the dial error.
func echoOnce(t *testing.T, from, to *netstack.Stack, dst netip.Addr, port uint16, dialTimeout time.Duration) error {
	proto := ipv4.ProtocolNumber
	if dst.Is6() {
		proto = ipv6.ProtocolNumber
	}
	fa := tcpip.FullAddress{Addr: tcpip.AddrFromSlice(dst.AsSlice()), Port: port}
	ln, err := gonet.ListenTCP(to.Stack, fa, proto)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, from.Stack, fa, proto)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := []byte("adhoc-hello")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %v", err)
	}
	return nil
}

// TestAdhoc: controller-less networks. ffAA…01 gives each member
// AA.x.y.z/8 (ARP through the root's directory); ffSSSSEEEE000000 is IPv6
// 6PLANE only (NDP emulated) with TCP open to ports SSSS..EEEE only; a
// reversed range is NOT_FOUND.
func TestAdhoc(t *testing.T) {
	t.Parallel() // separate labs (own root, planet and ports)
	l := newLab(t)
	a, b := l.ctl, l.leaf(2) // the controller node is just a member here
	v4net, v6net, bad := uint64(0xff0a000000000001), uint64(0xff1f901f90000000), uint64(0xff00200010000000)
	for _, nw := range []uint64{v4net, v6net, bad} {
		a.VL2.Join(nw, nil)
		b.VL2.Join(nw, nil)
	}
	servicetest.WaitFor(t, "local configs", func() bool {
		return a.VL2.Network(v4net).Status() == vl2.StatusOK && b.VL2.Network(v6net).Status() == vl2.StatusOK &&
			a.VL2.Network(bad).Status() == vl2.StatusNotFound
	})
	if c := b.VL2.Network(v4net).Config(); c.Name != "adhoc-10.0.0.0" || c.IsPrivate() || len(c.StaticIPs) != 2 {
		t.Fatalf("config %+v", c)
	}
	if c := b.VL2.Network(v6net).Config(); c.Name != "adhoc-1f90-1f90" || c.MulticastLimit != 0 {
		t.Fatalf("config %+v", c)
	}
	sa4, _ := attach(t, a.VL2.Network(v4net))
	sb4, _ := attach(t, b.VL2.Network(v4net))
	ip4 := ipv4Of(t, b.VL2.Network(v4net))
	if !netip.MustParsePrefix("10.0.0.0/8").Contains(ip4) {
		t.Fatal(ip4)
	}
	if err := echoOnce(t, sa4, sb4, ip4, 7, 15*time.Second); err != nil {
		t.Fatalf("TCP on %s: %v", ip4, err)
	}
	sa6, _ := attach(t, a.VL2.Network(v6net))
	sb6, _ := attach(t, b.VL2.Network(v6net))
	ip6 := netconf.SixPlane(v6net, b.Node.Address()).Addr()
	if err := echoOnce(t, sa6, sb6, ip6, 8080, 15*time.Second); err != nil {
		t.Fatalf("TCP to [%s]:8080: %v", ip6, err)
	}
	if err := echoOnce(t, sa6, sb6, ip6, 9999, time.Second); err == nil {
		t.Fatal("TCP to a port outside the ad-hoc range connected")
	}
}

// benchPair joins two members of a fresh lab to one network and puts each
// on a userspace stack: s1 dials, s2 listens on fa.
func benchPair(b *testing.B, port uint16) (s1, s2 *netstack.Stack, fa tcpip.FullAddress) {
	l := newLab(b)
	nwid := uint64(l.ctl.Node.Address())<<24 | 0xbe4c
	call(b, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x", nwid), map[string]any{
		"v4AssignMode":      map[string]any{"zt": true},
		"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.46.0.1", "ipRangeEnd": "10.46.0.200"}},
		"routes":            []any{map[string]any{"target": "10.46.0.0/24"}}})
	m1, m2 := l.leaf(2), l.leaf(3)
	for _, m := range []*service.Service{m1, m2} {
		call(b, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, m.Node.Address()), map[string]any{"authorized": true})
		m.VL2.Join(nwid, nil)
	}
	servicetest.WaitFor(b, "configs", func() bool {
		return len(m1.VL2.Network(nwid).Addresses()) == 1 && len(m2.VL2.Network(nwid).Addresses()) == 1
	})
	s1, _ = attach(b, m1.VL2.Network(nwid))
	s2, _ = attach(b, m2.VL2.Network(nwid))
	fa = tcpip.FullAddress{Addr: tcpip.AddrFromSlice(ipv4Of(b, m2.VL2.Network(nwid)).AsSlice()), Port: port}
	return s1, s2, fa
}

// BenchmarkTCP: TCP throughput between two members' gVisor stacks over
// ZeroTier on 127.0.0.1 (random payload, private network, encrypted).
func BenchmarkTCP(b *testing.B) {
	s1, s2, fa := benchPair(b, 9)
	ln, err := gonet.ListenTCP(s2.Stack, fa, ipv4.ProtocolNumber)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		done <- n
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, s1.Stack, fa, ipv4.ProtocolNumber)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	rand.Read(buf)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	if got := <-done; got != int64(b.N)*int64(len(buf)) {
		b.Fatalf("received %d of %d bytes", got, int64(b.N)*int64(len(buf)))
	}
}

// BenchmarkTCPConnections: what a new connection costs in netstack and the
// node alone, without a supervisor, a trap or a program: short exchanges
// between two members' stacks over ZeroTier on 127.0.0.1.
func BenchmarkTCPConnections(b *testing.B) {
	s1, s2, fa := benchPair(b, 80)
	netstacktest.ShortConnections(b, s1.Stack, s2.Stack, fa)
}
