package vl2_test

import (
	"bytes"
	"context"
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
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/servicetest"
	"ztnc/zerotier/vl2"
)

// attach puts a member's port on a fresh userspace stack with its IPs.
func attach(t *testing.T, n *vl2.Network) (*netstack.Stack, tcpip.NICID) {
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
