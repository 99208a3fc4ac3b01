package rules

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"testing"
)

func rj(t *testing.T, s string) Rule {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	r, ok := FromJSON(m)
	if !ok {
		t.Fatalf("rule %s refused", s)
	}
	return r
}

var (
	accept = Rule{T: ActionAccept}
	drop   = Rule{T: ActionDrop}
)

// ipv4 builds an IPv4 packet with a TCP/UDP/ICMP header.
func ipv4(src, dst string, proto byte, l4 []byte) []byte {
	p := make([]byte, 20, 20+len(l4))
	p[0], p[1], p[9] = 0x45, 0x10, proto
	copy(p[12:], netip.MustParseAddr(src).AsSlice())
	copy(p[16:], netip.MustParseAddr(dst).AsSlice())
	return append(p, l4...)
}

func ipv6(src, dst string, nh byte, ext bool, l4 []byte) []byte {
	p := make([]byte, 40)
	p[0] = 0x60
	p[6] = nh
	copy(p[8:], netip.MustParseAddr(src).AsSlice())
	copy(p[24:], netip.MustParseAddr(dst).AsSlice())
	if ext { // a hop-by-hop header in front
		p[6] = 0
		p = append(p, nh, 0, 0, 0, 0, 0, 0, 0)
	}
	return append(p, l4...)
}

func tcp(sport, dport uint16, flags uint16) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[12:], 5<<12|flags)
	return h
}

func TestEvaluate(t *testing.T) {
	dropNonIP := []Rule{
		rj(t, `{"type":"MATCH_ETHERTYPE","not":true,"etherType":2048}`),
		rj(t, `{"type":"MATCH_ETHERTYPE","not":true,"etherType":2054}`),
		rj(t, `{"type":"MATCH_ETHERTYPE","not":true,"etherType":34525}`),
		drop, accept,
	}
	v4 := ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1234, 22, 0x02))
	v6 := ipv6("fd00::1", "fd00::2", 17, true, []byte{0, 53, 0, 80, 0, 8, 0, 0})
	icmp := ipv4("10.0.0.1", "10.0.0.2", 1, []byte{8, 0, 0, 0})
	me, peer := uint64(0x1111111111), uint64(0x2222222222)
	fr := func(et uint16, p []byte) *Frame {
		return &Frame{Me: me, ZTSource: me, ZTDest: peer, EtherType: et, Payload: p,
			MACSource: [6]byte{2, 1, 1, 1, 1, 1}, MACDest: [6]byte{2, 2, 2, 2, 2, 2}}
	}
	in := func(f *Frame) *Frame { f.Inbound, f.ZTSource, f.ZTDest = true, peer, me; return f }
	tags := func(own, remote map[uint32]uint32) func(*Frame) *Frame {
		return func(f *Frame) *Frame {
			f.OwnTag = func(id uint32) (uint32, bool) { v, ok := own[id]; return v, ok }
			if remote != nil {
				f.PeerTag = func(id uint32) (uint32, bool) { v, ok := remote[id]; return v, ok }
			}
			return f
		}
	}
	cases := []struct {
		name  string
		rules []Rule
		f     *Frame
		want  Result
	}{
		{"empty list: no match (the caller drops)", nil, fr(0x0800, v4), NoMatch},
		{"accept", []Rule{accept}, fr(0x0800, v4), Accept},
		{"drop non-IP: IPv4 passes", dropNonIP, fr(0x0800, v4), Accept},
		{"drop non-IP: ARP passes", dropNonIP, fr(0x0806, nil), Accept},
		{"drop non-IP: IPv6 passes", dropNonIP, fr(0x86dd, v6), Accept},
		{"drop non-IP: other dropped", dropNonIP, fr(0x88cc, nil), Drop},
		{"OR", []Rule{rj(t, `{"type":"MATCH_ETHERTYPE","etherType":1}`), rj(t, `{"type":"MATCH_ETHERTYPE","or":true,"etherType":2048}`), drop, accept}, fr(0x0800, v4), Drop},
		{"AND short-circuit", []Rule{rj(t, `{"type":"MATCH_ETHERTYPE","etherType":1}`), rj(t, `{"type":"MATCH_ETHERTYPE","etherType":2048}`), drop, accept}, fr(0x0800, v4), Accept},
		{"IPv4 source in prefix", []Rule{rj(t, `{"type":"MATCH_IPV4_SOURCE","ip":"10.0.0.0/24"}`), drop, accept}, fr(0x0800, v4), Drop},
		{"IPv4 dest outside prefix", []Rule{rj(t, `{"type":"MATCH_IPV4_DEST","ip":"10.1.0.0/16"}`), drop, accept}, fr(0x0800, v4), Accept},
		{"IPv4 rule on IPv6 is hard no even with NOT", []Rule{rj(t, `{"type":"MATCH_IPV4_SOURCE","not":true,"ip":"10.0.0.0/8"}`), drop, accept}, fr(0x86dd, v6), Accept},
		{"IPv6 dest", []Rule{rj(t, `{"type":"MATCH_IPV6_DEST","ip":"fd00::/64"}`), drop, accept}, fr(0x86dd, v6), Drop},
		{"IP protocol through an IPv6 extension header", []Rule{rj(t, `{"type":"MATCH_IP_PROTOCOL","ipProtocol":17}`), drop, accept}, fr(0x86dd, v6), Drop},
		{"TCP dest port range", []Rule{rj(t, `{"type":"MATCH_IP_DEST_PORT_RANGE","start":20,"end":25}`), drop, accept}, fr(0x0800, v4), Drop},
		{"UDP source port over IPv6", []Rule{rj(t, `{"type":"MATCH_IP_SOURCE_PORT_RANGE","start":53,"end":53}`), drop, accept}, fr(0x86dd, v6), Drop},
		{"port rule on ICMP is a plain no", []Rule{rj(t, `{"type":"MATCH_IP_DEST_PORT_RANGE","not":true,"start":1,"end":2}`), drop, accept}, fr(0x0800, icmp), Drop},
		{"ICMP type", []Rule{rj(t, `{"type":"MATCH_ICMP","icmpType":8,"icmpCode":null}`), drop, accept}, fr(0x0800, icmp), Drop},
		{"ICMP type mismatch is hard no", []Rule{rj(t, `{"type":"MATCH_ICMP","not":true,"icmpType":0,"icmpCode":null}`), drop, accept}, fr(0x0800, icmp), Accept},
		{"ICMP code", []Rule{rj(t, `{"type":"MATCH_ICMP","icmpType":8,"icmpCode":1}`), drop, accept}, fr(0x0800, icmp), Accept},
		{"TCP SYN characteristic", []Rule{rj(t, `{"type":"MATCH_CHARACTERISTICS","mask":"0000000000000002"}`), drop, accept}, fr(0x0800, v4), Drop},
		{"inbound characteristic", []Rule{rj(t, `{"type":"MATCH_CHARACTERISTICS","mask":"8000000000000000"}`), drop, accept}, in(fr(0x0800, v4)), Drop},
		{"frame size", []Rule{rj(t, `{"type":"MATCH_FRAME_SIZE_RANGE","start":0,"end":10}`), drop, accept}, fr(0x0806, []byte{1}), Drop},
		{"TOS", []Rule{rj(t, `{"type":"MATCH_IP_TOS","mask":252,"start":16,"end":16}`), drop, accept}, fr(0x0800, v4), Drop},
		{"MAC dest", []Rule{rj(t, `{"type":"MATCH_MAC_DEST","mac":"02:02:02:02:02:02"}`), drop, accept}, fr(0x0800, v4), Drop},
		{"ZeroTier source", []Rule{rj(t, `{"type":"MATCH_SOURCE_ZEROTIER_ADDRESS","zt":"2222222222"}`), drop, accept}, in(fr(0x0800, v4)), Drop},
		{"ZeroTier dest", []Rule{rj(t, `{"type":"MATCH_DEST_ZEROTIER_ADDRESS","zt":"2222222222"}`), drop, accept}, fr(0x0800, v4), Drop},
		{"random always", []Rule{rj(t, `{"type":"MATCH_RANDOM","probability":4294967295}`), drop, accept}, fr(0x0800, v4), Drop},
		{"break", []Rule{{T: ActionBreak}, accept}, fr(0x0800, v4), NoMatch},
		{"unknown match with NOT", []Rule{{T: 20 | FlagNot}, drop, accept}, fr(0x0800, v4), Drop},
		{"unknown action ignored", []Rule{{T: 9}, accept}, fr(0x0800, v4), Accept},
		{"redirect", []Rule{rj(t, `{"type":"ACTION_REDIRECT","address":"3333333333","flags":0}`)}, fr(0x0800, v4), Redirect},
		{"TEE at us inbound: super accept", []Rule{rj(t, `{"type":"ACTION_TEE","address":"1111111111","flags":0,"length":0}`), accept}, in(fr(0x0800, v4)), SuperAccept},
		{"tags equal", []Rule{rj(t, `{"type":"MATCH_TAGS_EQUAL","id":1,"value":5}`), drop, accept}, tags(map[uint32]uint32{1: 5}, map[uint32]uint32{1: 5})(fr(0x0800, v4)), Drop},
		{"tags difference", []Rule{rj(t, `{"type":"MATCH_TAGS_DIFFERENCE","id":1,"value":2}`), drop, accept}, tags(map[uint32]uint32{1: 5}, map[uint32]uint32{1: 8})(fr(0x0800, v4)), Accept},
		{"tag of unknown peer outbound: hard yes, skip the drop", []Rule{rj(t, `{"type":"MATCH_TAGS_EQUAL","id":1,"value":5}`), drop, accept}, tags(map[uint32]uint32{1: 5}, nil)(fr(0x0800, v4)), Accept},
		{"tag of unknown peer inbound: hard no", []Rule{rj(t, `{"type":"MATCH_TAGS_EQUAL","not":true,"id":1,"value":5}`), drop, accept}, tags(map[uint32]uint32{1: 5}, nil)(in(fr(0x0800, v4))), Accept},
		{"tag sender inbound", []Rule{rj(t, `{"type":"MATCH_TAG_SENDER","id":1,"value":7}`), drop, accept}, tags(nil, map[uint32]uint32{1: 7})(in(fr(0x0800, v4))), Drop},
		{"integer range", []Rule{{T: MatchIntegerRange, Value: intRange(6, 6, 2, 7)}, drop, accept}, fr(0x0800, v4), Drop},
	}
	for _, c := range cases {
		if got := Evaluate(c.rules, c.f); got.Result != c.want {
			t.Errorf("%s: got %v want %v", c.name, got.Result, c.want)
		}
	}
	v := Evaluate([]Rule{rj(t, `{"type":"ACTION_TEE","address":"3333333333","flags":0,"length":64}`), accept}, fr(0x0800, v4))
	if v.Result != Accept || len(v.Tees) != 1 || v.Tees[0].Target != 0x3333333333 || v.Tees[0].Length != 64 {
		t.Fatalf("TEE: %+v", v)
	}
}

// intRange is an INTEGER_RANGE value; a big-endian value of n bytes is
// read from idx+8-n (so idx 2, one byte: the IPv4 protocol at 9).
func intRange(start, end uint64, idx uint16, format byte) []byte {
	v := make([]byte, 19)
	binary.BigEndian.PutUint64(v, start)
	binary.BigEndian.PutUint64(v[8:], end)
	binary.BigEndian.PutUint16(v[16:], idx)
	v[18] = format
	return v
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{0xa5, 2, 8, 0, 0, 0, 1, 0}, []byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, rb, payload []byte) {
		rs, err := Parse(rb, MaxNetworkRules)
		if err != nil {
			return
		}
		for _, et := range []uint16{0x0800, 0x86dd, 0x0806} {
			Evaluate(rs, &Frame{EtherType: et, Payload: payload, Inbound: len(payload)%2 == 0})
		}
	})
}

// TestAcceptsAll: where AcceptsAll holds, Evaluate accepts any frame, tee
// free, whatever follows the first rule (including the modifier bits).
func TestAcceptsAll(t *testing.T) {
	tee := Rule{T: ActionTee, Value: make([]byte, 14)}
	binary.BigEndian.PutUint64(tee.Value, 0x1122334455)
	frames := []*Frame{
		{Inbound: true, Me: 1, ZTSource: 2, ZTDest: 1, EtherType: 0x0800, Payload: ipv4("10.0.0.1", "10.0.0.2", 6, make([]byte, 20))},
		{Me: 1, ZTSource: 1, ZTDest: 0x1122334455, MACDest: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EtherType: 0x0806},
		{Inbound: true, Me: 1, EtherType: 0x86dd, Payload: []byte{1}},
	}
	for _, rs := range [][]Rule{{accept}, {accept, drop}, {{T: ActionAccept | FlagNot}, tee}, {{T: ActionAccept | FlagOr}}} {
		if !AcceptsAll(rs) {
			t.Fatalf("AcceptsAll(%v) false", rs)
		}
		for _, f := range frames {
			if v := Evaluate(rs, f); v.Result != Accept || len(v.Tees) != 0 {
				t.Fatalf("Evaluate(%v, %+v) = %+v", rs, f, v)
			}
		}
	}
	for _, rs := range [][]Rule{nil, {drop, accept}, {tee, accept}, {rj(t, `{"type":"MATCH_ETHERTYPE","etherType":2048}`), accept}} {
		if AcceptsAll(rs) {
			t.Fatalf("AcceptsAll(%v) true", rs)
		}
	}
}
