package supervisor

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"ztnc/netstack"
)

func testView() *nlView {
	return &nlView{
		ifs: []netstack.Interface{
			{Index: 1, Name: "lo", MTU: 65536, Loopback: true, Up: true,
				Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}},
			{Index: 2, Name: "ztabcdefgh", MTU: 2800, Up: true, MAC: net.HardwareAddr{2, 1, 2, 3, 4, 5},
				Addrs: []netip.Prefix{netip.MustParsePrefix("10.147.17.5/24"), netip.MustParsePrefix("fd00:9::5/88")}},
		},
		routes: []netstack.Route{
			{Dst: netip.MustParsePrefix("127.0.0.0/8"), Index: 1},
			{Dst: netip.MustParsePrefix("10.147.17.0/24"), Index: 2},
			{Dst: netip.MustParsePrefix("10.0.0.0/8"), Gateway: netip.MustParseAddr("10.147.17.1"), Index: 2},
		},
	}
}

func request(typ, flags uint16, seq uint32, body []byte) []byte {
	b := make([]byte, 16, 16+len(body))
	binary.LittleEndian.PutUint32(b, uint32(16+len(body)))
	binary.LittleEndian.PutUint16(b[4:], typ)
	binary.LittleEndian.PutUint16(b[6:], flags)
	binary.LittleEndian.PutUint32(b[8:], seq)
	return append(b, body...)
}

// replies flattens the reply datagrams into messages, checking each
// datagram's size and each message's header.
func replies(t *testing.T, ds [][]byte, seq, port uint32) []nlMsg {
	t.Helper()
	var out []nlMsg
	for _, d := range ds {
		if len(d) > nlDatagram {
			t.Fatalf("a reply datagram of %d bytes, more than %d", len(d), nlDatagram)
		}
		ms := parseNlMsgs(d)
		n := 0
		for _, m := range ms {
			n += nlAlign(len(m.raw))
			if m.seq != seq || m.pid != port {
				t.Fatalf("reply seq/pid %d/%d, want %d/%d", m.seq, m.pid, seq, port)
			}
		}
		if n != len(d) {
			t.Fatalf("datagram of %d bytes parses as %d", len(d), n)
		}
		out = append(out, ms...)
	}
	return out
}

func TestNetlinkLinkDump(t *testing.T) {
	v := testView()
	ms := replies(t, v.nlReplies(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 7, make([]byte, 16)), 4242), 7, 4242)
	if len(ms) != 3 || ms[2].typ != unix.NLMSG_DONE {
		t.Fatalf("got %d messages, want 2 links and DONE", len(ms))
	}
	for i, want := range []string{"lo", "ztabcdefgh"} {
		m := ms[i]
		if m.typ != unix.RTM_NEWLINK || m.flags&unix.NLM_F_MULTI == 0 {
			t.Fatalf("message %d: type %d flags %#x", i, m.typ, m.flags)
		}
		a := nlAttrs(m.body[16:])
		if got := cString(a[unix.IFLA_IFNAME]); got != want {
			t.Errorf("link %d name %q, want %q", i, got, want)
		}
		if idx := binary.LittleEndian.Uint32(m.body[4:]); idx != uint32(i+1) {
			t.Errorf("link %d index %d", i, idx)
		}
	}
	if mac := nlAttrs(ms[1].body[16:])[unix.IFLA_ADDRESS]; net.HardwareAddr(mac).String() != "02:01:02:03:04:05" {
		t.Errorf("MAC %x", mac)
	}
	if mtu := binary.LittleEndian.Uint32(nlAttrs(ms[1].body[16:])[unix.IFLA_MTU]); mtu != 2800 {
		t.Errorf("MTU %d", mtu)
	}
}

func TestNetlinkAddrDump(t *testing.T) {
	v := testView()
	for _, tc := range []struct {
		fam  uint8
		want []string
	}{
		{unix.AF_UNSPEC, []string{"127.0.0.1/8", "::1/128", "10.147.17.5/24", "fd00:9::5/88"}},
		{unix.AF_INET, []string{"127.0.0.1/8", "10.147.17.5/24"}},
		{unix.AF_INET6, []string{"::1/128", "fd00:9::5/88"}},
	} {
		ms := replies(t, v.nlReplies(request(unix.RTM_GETADDR, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{tc.fam, 0, 0, 0, 0, 0, 0, 0}), 9), 1, 9)
		var got []string
		for _, m := range ms {
			if m.typ != unix.RTM_NEWADDR {
				continue
			}
			a, _ := netip.AddrFromSlice(nlAttrs(m.body[8:])[unix.IFA_ADDRESS])
			got = append(got, netip.PrefixFrom(a, int(m.body[1])).String())
		}
		if len(got) != len(tc.want) {
			t.Fatalf("family %d: %v, want %v", tc.fam, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("family %d: %v, want %v", tc.fam, got, tc.want)
			}
		}
		if last := ms[len(ms)-1]; last.typ != unix.NLMSG_DONE {
			t.Errorf("family %d: no NLMSG_DONE at the end", tc.fam)
		}
	}
}

func TestNetlinkRouteDump(t *testing.T) {
	ms := replies(t, testView().nlReplies(request(unix.RTM_GETROUTE, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 3, make([]byte, 12)), 1), 3, 1)
	if len(ms) != 4 {
		t.Fatalf("%d messages, want 3 routes and DONE", len(ms))
	}
	gw := nlAttrs(ms[2].body[12:])[unix.RTA_GATEWAY]
	if a, _ := netip.AddrFromSlice(gw); a.String() != "10.147.17.1" {
		t.Errorf("gateway %v", gw)
	}
	if ms[0].body[4] != unix.RT_TABLE_LOCAL || ms[1].body[4] != unix.RT_TABLE_MAIN {
		t.Errorf("tables %d %d: loopback's route in the local table, the rest in main", ms[0].body[4], ms[1].body[4])
	}
}

func TestNetlinkChangesRefused(t *testing.T) {
	for _, typ := range []uint16{unix.RTM_NEWADDR, unix.RTM_DELADDR, unix.RTM_NEWLINK, unix.RTM_SETLINK, unix.RTM_NEWROUTE, unix.RTM_DELROUTE} {
		ms := replies(t, testView().nlReplies(request(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 5, make([]byte, 16)), 1), 5, 1)
		if len(ms) != 1 || ms[0].typ != unix.NLMSG_ERROR || int32(binary.LittleEndian.Uint32(ms[0].body)) != -int32(unix.EPERM) {
			t.Errorf("type %d: want one NLMSG_ERROR -EPERM, got %+v", typ, ms)
		}
	}
}

func TestNetlinkGetLinkByName(t *testing.T) {
	body := make([]byte, 16)
	body = append(body, 8+3, 0, unix.IFLA_IFNAME, 0)
	body = append(body, []byte("lo\x00\x00")...)
	binary.LittleEndian.PutUint16(body[16:], 4+3)
	ms := replies(t, testView().nlReplies(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 2, body), 1), 2, 1)
	if len(ms) != 1 || ms[0].typ != unix.RTM_NEWLINK || binary.LittleEndian.Uint32(ms[0].body[4:]) != 1 {
		t.Fatalf("want lo's NEWLINK, got %+v", ms)
	}
	binary.LittleEndian.PutUint32(body[4:], 99)
	ms = replies(t, testView().nlReplies(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 2, body[:16]), 1), 2, 1)
	if len(ms) != 1 || int32(binary.LittleEndian.Uint32(ms[0].body)) != -int32(unix.ENODEV) {
		t.Fatalf("unknown index: want ENODEV, got %+v", ms)
	}
}

// Many interfaces: the dump is split into datagrams glibc's 4 KiB buffer takes.
func TestNetlinkDumpSplits(t *testing.T) {
	v := testView()
	for i := 3; i < 200; i++ {
		v.ifs = append(v.ifs, netstack.Interface{Index: i, Name: "zt" + string(rune('a'+i%26)), MTU: 2800, Up: true,
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/24")}})
	}
	ds := v.nlReplies(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, make([]byte, 16)), 1)
	if len(ds) < 2 {
		t.Fatalf("%d datagrams for 199 links", len(ds))
	}
	if ms := replies(t, ds, 1, 1); len(ms) != 200 {
		t.Fatalf("%d messages, want 199 links and DONE", len(ms))
	}
}

func FuzzNetlinkRequest(f *testing.F) {
	f.Add(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, make([]byte, 16)))
	f.Add(request(unix.RTM_GETADDR, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1, []byte{2, 0, 0, 0, 0, 0, 0, 0}))
	f.Add(append(request(unix.RTM_GETLINK, unix.NLM_F_REQUEST, 1, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 3, 0, 'l', 'o', 0, 0}),
		request(unix.RTM_NEWADDR, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 2, make([]byte, 8))...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 18, 0})
	v := testView()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range v.nlReplies(b, 77) {
			if len(d) > nlDatagram+1024+64 { // an error reply may quote up to 1 KiB
				t.Fatalf("reply datagram of %d bytes", len(d))
			}
			for _, m := range parseNlMsgs(d) {
				if m.pid != 77 {
					t.Fatalf("reply with port %d", m.pid)
				}
			}
		}
		nlAttrs(b)
	})
}
