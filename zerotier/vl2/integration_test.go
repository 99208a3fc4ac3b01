package vl2_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"ztnc/zerotier/api"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/service"
	"ztnc/zerotier/servicetest"
	"ztnc/zerotier/vl2"
)

type lab struct {
	t      testing.TB
	ids    []*identity.Identity
	root   *service.Service
	planet string
	ctl    *service.Service
}

func newLab(t testing.TB) *lab {
	ids := servicetest.Identities(t, "testdata/identities.json")
	root, planet := servicetest.Root(t, ids[0])
	l := &lab{t: t, ids: ids, root: root, planet: planet}
	l.ctl = l.leaf(1)
	return l
}

// leaf starts a service with identity ids[i] (no proof-of-work wait).
func (l *lab) leaf(i int) *service.Service {
	home := l.t.TempDir()
	if err := l.ids[i].WriteFiles(home); err != nil {
		l.t.Fatal(err)
	}
	return servicetest.Leaf(l.t, home, l.planet)
}

func client(s *service.Service) *api.Client { return &api.Client{Port: s.Port, Token: s.Token} }

func call(t testing.TB, s *service.Service, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	code, out, err := client(s).Do(method, path, b)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return code, m
}

func status(s *service.Service, nwid uint64) string {
	n := s.VL2.Network(nwid)
	if n == nil {
		return "absent"
	}
	return n.Status().String()
}

// recorder collects frames a port delivers.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) add(f []byte) {
	r.mu.Lock()
	r.frames = append(r.frames, append([]byte(nil), f...))
	r.mu.Unlock()
}

func (r *recorder) find(pred func([]byte) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.frames {
		if pred(f) {
			return true
		}
	}
	return false
}

func ipv4Of(t testing.TB, n *vl2.Network) netip.Addr {
	for _, p := range n.Addresses() {
		if p.Addr().Is4() {
			return p.Addr()
		}
	}
	t.Fatal("no IPv4 address")
	return netip.Addr{}
}

func arpRequest(srcMAC net.HardwareAddr, srcIP, dstIP netip.Addr) []byte {
	f := make([]byte, 14+28)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:], srcMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	a := f[14:]
	copy(a, []byte{0, 1, 8, 0, 6, 4, 0, 1})
	copy(a[8:], srcMAC)
	copy(a[14:], srcIP.AsSlice())
	copy(a[24:], dstIP.AsSlice())
	return f
}

func unicast(dst, src net.HardwareAddr, et uint16, payload []byte) []byte {
	f := append(append(append([]byte(nil), dst...), src...), byte(et>>8), byte(et))
	return append(f, payload...)
}

// TestPrivateNetwork: our controller + root + two members on 127.0.0.1.
// Unauthorized → ACCESS_DENIED; authorized → config with IPs; ARP through
// the multicast path and its unicast reply; NDP to the RFC4193 address; a
// route added via the API reaches members; deauthorization cuts frames off.
func TestPrivateNetwork(t *testing.T) {
	t.Parallel() // separate labs (own root, planet and ports)
	l := newLab(t)
	ctlAddr := l.ctl.Node.Address()
	code, nw := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%s______", ctlAddr), map[string]any{
		"name": "lab", "v4AssignMode": map[string]any{"zt": true}, "v6AssignMode": map[string]any{"rfc4193": true, "zt": true},
		"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.9.0.1", "ipRangeEnd": "10.9.0.250"},
			map[string]any{"ipRangeStart": "fd77::1", "ipRangeEnd": "fd77::ffff"}},
		"routes": []any{map[string]any{"target": "10.9.0.0/24"}, map[string]any{"target": "fd77::/64"}},
	})
	if code != 200 || nw["private"] != true || nw["multicastLimit"].(float64) != 32 {
		t.Fatalf("create: %d %v", code, nw)
	}
	var nwid uint64
	fmt.Sscanf(nw["id"].(string), "%016x", &nwid)
	if nwid>>24 != uint64(ctlAddr) {
		t.Fatalf("network %016x not under %s", nwid, ctlAddr)
	}

	a, b := l.leaf(2), l.leaf(3)
	for _, m := range []*service.Service{a, b} {
		if code, _ := call(t, m, "POST", fmt.Sprintf("/network/%016x", nwid), map[string]any{}); code != 200 {
			t.Fatalf("join: %d", code)
		}
	}
	servicetest.WaitFor(t, "ACCESS_DENIED", func() bool { return status(a, nwid) == "ACCESS_DENIED" && status(b, nwid) == "ACCESS_DENIED" })
	code, mem := call(t, l.ctl, "GET", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, a.Node.Address()), nil)
	if code != 200 || mem["authorized"] != false || mem["identity"] != l.ids[2].PublicOnly().String() {
		t.Fatalf("pending member: %d %v", code, mem)
	}
	for _, m := range []*service.Service{a, b} {
		if code, mem := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, m.Node.Address()),
			map[string]any{"authorized": true}); code != 200 || mem["authorized"] != true {
			t.Fatalf("authorize: %d %v", code, mem)
		}
	}
	servicetest.WaitFor(t, "configs", func() bool { return status(a, nwid) == "OK" && status(b, nwid) == "OK" })
	na, nb := a.VL2.Network(nwid), b.VL2.Network(nwid)
	ipA, ipB := ipv4Of(t, na), ipv4Of(t, nb)
	if !netip.MustParsePrefix("10.9.0.0/24").Contains(ipA) || ipA == ipB {
		t.Fatalf("IPs %s %s", ipA, ipB)
	}
	wantV6 := netconf.RFC4193(nwid, b.Node.Address())
	found := false
	for _, p := range nb.Addresses() {
		found = found || p == wantV6
	}
	if !found {
		t.Fatalf("B lacks %s: %v", wantV6, nb.Addresses())
	}
	code, mem = call(t, l.ctl, "GET", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, a.Node.Address()), nil)
	if ips := mem["ipAssignments"].([]any); code != 200 || len(ips) != 2 || ips[1] != ipA.String() || mem["vMinor"].(float64) != 14 {
		t.Fatalf("member record: %v", mem)
	}

	var ra, rb recorder
	na.Port().SetReceiver(ra.add)
	nb.Port().SetReceiver(rb.add)
	macA, macB := na.Port().MAC(), nb.Port().MAC()

	// ARP: broadcast request from A for B's IP reaches B via LIKE/GATHER;
	// the unicast reply reaches A.
	req := arpRequest(macA, ipA, ipB)
	servicetest.WaitFor(t, "ARP request at B", func() bool {
		if err := na.Port().WriteFrame(req); err != nil {
			t.Fatal(err)
		}
		return rb.find(func(f []byte) bool { return bytes.Equal(f, req) })
	})
	reply := unicast(macA, macB, 0x0806, []byte("arp-reply-body-of-some-length-0123456789"))
	servicetest.WaitFor(t, "reply at A", func() bool {
		_ = nb.Port().WriteFrame(reply)
		return ra.find(func(f []byte) bool { return bytes.Equal(f, reply) })
	})

	// NDP: a neighbour solicitation for B's pool address goes to its
	// solicited-node group through the multicast path; one for B's RFC4193
	// address is answered by A's NDP emulation without leaving A.
	var poolB netip.Addr
	for _, p := range nb.Addresses() {
		if p.Addr().Is6() && netip.MustParsePrefix("fd77::/64").Contains(p.Addr()) {
			poolB = p.Addr()
		}
	}
	if !poolB.IsValid() {
		t.Fatalf("B has no pool IPv6: %v", nb.Addresses())
	}
	ns := func(target netip.Addr) []byte {
		g := netconf.ResolutionGroup(target)
		p := make([]byte, 64)
		p[0], p[6], p[7] = 0x60, 58, 255
		copy(p[8:], netconf.RFC4193(nwid, a.Node.Address()).Addr().AsSlice())
		copy(p[24:], []byte{0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, g.MAC[3], g.MAC[4], g.MAC[5]})
		p[40] = 135
		copy(p[48:], target.AsSlice())
		return unicast(g.MAC[:], macA, 0x86dd, p)
	}
	nsFrame := ns(poolB)
	servicetest.WaitFor(t, "NDP at B", func() bool {
		_ = na.Port().WriteFrame(nsFrame)
		return rb.find(func(f []byte) bool { return bytes.Equal(f, nsFrame) })
	})
	if err := na.Port().WriteFrame(ns(wantV6.Addr())); err != nil {
		t.Fatal(err)
	}
	if !ra.find(func(f []byte) bool {
		return len(f) == 86 && f[14+40] == 136 && bytes.Equal(f[6:12], macB) && bytes.Equal(f[14+8:14+24], wantV6.Addr().AsSlice())
	}) {
		t.Fatal("no emulated neighbour advertisement for B's RFC4193 address")
	}

	// A network change reaches members.
	if code, _ := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x", nwid), map[string]any{
		"routes": []any{map[string]any{"target": "10.9.0.0/24"}, map[string]any{"target": "10.77.0.0/16", "via": "10.9.0.1"}},
	}); code != 200 {
		t.Fatal(code)
	}
	servicetest.WaitFor(t, "new route at A", func() bool {
		for _, r := range na.Port().Routes() {
			if r.Target.String() == "10.77.0.0/16" && r.Via.String() == "10.9.0.1" {
				return true
			}
		}
		return false
	})

	// A member change (a new IP) reaches that member.
	if code, _ := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, a.Node.Address()),
		map[string]any{"ipAssignments": []string{"10.9.0.200"}}); code != 200 {
		t.Fatal(code)
	}
	servicetest.WaitFor(t, "new IP at A", func() bool {
		for _, p := range na.Addresses() {
			if p.String() == "10.9.0.200/24" {
				return true
			}
		}
		return false
	})

	// Deauthorizing B: A learns the revocation and drops B's frames.
	if code, _ := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, b.Node.Address()),
		map[string]any{"authorized": false}); code != 200 {
		t.Fatal(code)
	}
	servicetest.WaitFor(t, "revocation at A", func() bool { return !na.Allowed(l.ids[3]) })
	drops := a.VL2.Counters.DropNotMember.Load()
	late := unicast(macA, macB, 0x0800, []byte("after-deauthorization-0123456789-0123456789"))
	_ = nb.Port().WriteFrame(late)
	servicetest.WaitFor(t, "B's frame dropped at A", func() bool { return a.VL2.Counters.DropNotMember.Load() > drops })
	if ra.find(func(f []byte) bool { return bytes.Equal(f, late) }) {
		t.Fatal("frame from a deauthorized member delivered")
	}
	if code, c := call(t, a, "GET", "/debug/counters", nil); code != 200 || c["vl2.dropNotMember"].(float64) < 1 || c["vl2.framesIn"].(float64) < 2 {
		t.Fatalf("counters %d %v", code, c)
	}
	// B itself learns of the denial at its next request (every 60 s once it
	// holds a config, as 1.14); its old config stays in use meanwhile.
}

// TestPublicAndMissing: a public network admits anyone; a network the
// controller does not have is NOT_FOUND; leave forgets it.
func TestPublicAndMissing(t *testing.T) {
	t.Parallel() // separate labs (own root, planet and ports)
	l := newLab(t)
	ctlAddr := l.ctl.Node.Address()
	nwid := uint64(ctlAddr)<<24 | 0x000abc
	if code, _ := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x", nwid), map[string]any{"private": false, "name": "pub"}); code != 200 {
		t.Fatal(code)
	}
	m := l.leaf(2)
	missing := uint64(ctlAddr)<<24 | 0x000def
	call(t, m, "POST", fmt.Sprintf("/network/%016x", nwid), nil)
	call(t, m, "POST", fmt.Sprintf("/network/%016x", missing), nil)
	servicetest.WaitFor(t, "statuses", func() bool { return status(m, nwid) == "OK" && status(m, missing) == "NOT_FOUND" })
	if c := m.VL2.Network(nwid).Config(); c.Name != "pub" || c.IsPrivate() {
		t.Fatalf("config %+v", c)
	}
	code, out := call(t, m, "DELETE", fmt.Sprintf("/network/%016x", missing), nil)
	if code != 200 || out["result"] != true || status(m, missing) != "absent" {
		t.Fatalf("leave: %d %v", code, out)
	}
	// The controller joining its own network talks to itself.
	call(t, l.ctl, "POST", fmt.Sprintf("/network/%016x", nwid), nil)
	servicetest.WaitFor(t, "controller member OK", func() bool { return status(l.ctl, nwid) == "OK" })
}

// TestBridging: a member marked activeBridge carries frames of a host
// behind it (EXT_FRAME both ways, MAC learned behind the bridge); a member
// that is no bridge may not send foreign source MACs.
func TestBridging(t *testing.T) {
	t.Parallel() // separate labs (own root, planet and ports)
	l := newLab(t)
	nwid := uint64(l.ctl.Node.Address())<<24 | 0xb1d
	if code, _ := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x", nwid), map[string]any{"private": false}); code != 200 {
		t.Fatal(code)
	}
	a, b := l.leaf(2), l.leaf(3)
	if code, _ := call(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", nwid, b.Node.Address()),
		map[string]any{"authorized": true, "activeBridge": true}); code != 200 {
		t.Fatal(code)
	}
	a.VL2.Join(nwid, nil)
	b.VL2.Join(nwid, nil)
	servicetest.WaitFor(t, "configs naming the bridge", func() bool {
		ca, cb := a.VL2.Network(nwid).Config(), b.VL2.Network(nwid).Config()
		return ca != nil && cb != nil && len(ca.ActiveBridges()) == 1 && len(cb.ActiveBridges()) == 1
	})
	na, nb := a.VL2.Network(nwid), b.VL2.Network(nwid)
	var ra, rb recorder
	na.Port().SetReceiver(ra.add)
	nb.Port().SetReceiver(rb.add)
	host := net.HardwareAddr{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
	out := unicast(na.Port().MAC(), host, 0x0800, []byte("from-a-host-behind-the-bridge-0123456789"))
	servicetest.WaitFor(t, "bridged frame at A", func() bool {
		_ = nb.Port().WriteFrame(out)
		return ra.find(func(f []byte) bool { return bytes.Equal(f, out) })
	})
	back := unicast(host, na.Port().MAC(), 0x0800, []byte("reply-to-the-host-behind-the-bridge-0123"))
	servicetest.WaitFor(t, "reply behind the bridge", func() bool {
		_ = na.Port().WriteFrame(back)
		return rb.find(func(f []byte) bool { return bytes.Equal(f, back) })
	})
	drops := a.VL2.Counters.DropFrame.Load()
	_ = na.Port().WriteFrame(unicast(nb.Port().MAC(), host, 0x0800, []byte("spoofed")))
	if a.VL2.Counters.DropFrame.Load() != drops+1 {
		t.Fatal("a member that is no bridge sent a foreign source MAC")
	}
}
