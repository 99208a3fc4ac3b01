package rules

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

var typeNames = map[byte]string{
	ActionDrop: "ACTION_DROP", ActionAccept: "ACTION_ACCEPT", ActionTee: "ACTION_TEE",
	ActionWatch: "ACTION_WATCH", ActionRedirect: "ACTION_REDIRECT", ActionBreak: "ACTION_BREAK",
	ActionPriority:             "ACTION_PRIORITY",
	MatchSourceZeroTierAddress: "MATCH_SOURCE_ZEROTIER_ADDRESS", MatchDestZeroTierAddress: "MATCH_DEST_ZEROTIER_ADDRESS",
	MatchVlanID: "MATCH_VLAN_ID", MatchVlanPCP: "MATCH_VLAN_PCP", MatchVlanDEI: "MATCH_VLAN_DEI",
	MatchMACSource: "MATCH_MAC_SOURCE", MatchMACDest: "MATCH_MAC_DEST",
	MatchIPv4Source: "MATCH_IPV4_SOURCE", MatchIPv4Dest: "MATCH_IPV4_DEST",
	MatchIPv6Source: "MATCH_IPV6_SOURCE", MatchIPv6Dest: "MATCH_IPV6_DEST",
	MatchIPTOS: "MATCH_IP_TOS", MatchIPProtocol: "MATCH_IP_PROTOCOL", MatchEthertype: "MATCH_ETHERTYPE",
	MatchICMP: "MATCH_ICMP", MatchIPSourcePortRange: "MATCH_IP_SOURCE_PORT_RANGE",
	MatchIPDestPortRange: "MATCH_IP_DEST_PORT_RANGE", MatchCharacteristics: "MATCH_CHARACTERISTICS",
	MatchFrameSizeRange: "MATCH_FRAME_SIZE_RANGE", MatchRandom: "MATCH_RANDOM",
	MatchTagsDifference: "MATCH_TAGS_DIFFERENCE", MatchTagsBitwiseAnd: "MATCH_TAGS_BITWISE_AND",
	MatchTagsBitwiseOr: "MATCH_TAGS_BITWISE_OR", MatchTagsBitwiseXor: "MATCH_TAGS_BITWISE_XOR",
	MatchTagsEqual: "MATCH_TAGS_EQUAL", MatchTagSender: "MATCH_TAG_SENDER", MatchTagReceiver: "MATCH_TAG_RECEIVER",
	MatchIntegerRange: "INTEGER_RANGE",
}

// TypeName is the controller's JSON name of a rule type ("" if unknown).
func TypeName(t byte) string { return typeNames[t&TypeMask] }

// ToJSON renders a rule as the embedded controller does (_renderRule).
func ToJSON(r Rule) map[string]any {
	m := map[string]any{"not": r.Not(), "or": r.Or()}
	name := TypeName(r.T)
	if name == "" {
		return nil
	}
	m["type"] = name
	v := r.Value
	be16 := func(i int) int { return int(binary.BigEndian.Uint16(v[i:])) }
	be32 := func(i int) uint32 { return binary.BigEndian.Uint32(v[i:]) }
	switch r.Type() {
	case ActionTee, ActionWatch, ActionRedirect:
		m["address"] = fmt.Sprintf("%010x", binary.BigEndian.Uint64(v)&0xffffffffff)
		m["flags"] = be32(8)
		if r.Type() != ActionRedirect {
			m["length"] = be16(12)
		}
	case MatchSourceZeroTierAddress, MatchDestZeroTierAddress:
		m["zt"] = fmt.Sprintf("%010x", v[:5])
	case MatchVlanID:
		m["vlanId"] = be16(0)
	case MatchVlanPCP:
		m["vlanPcp"] = int(v[0])
	case MatchVlanDEI:
		m["vlanDei"] = int(v[0])
	case MatchMACSource, MatchMACDest:
		m["mac"] = net.HardwareAddr(v[:6]).String()
	case MatchIPv4Source, MatchIPv4Dest:
		m["ip"] = netip.PrefixFrom(netip.AddrFrom4([4]byte(v[:4])), int(v[4])).String()
	case MatchIPv6Source, MatchIPv6Dest:
		m["ip"] = netip.PrefixFrom(netip.AddrFrom16([16]byte(v[:16])), int(v[16])).String()
	case MatchIPTOS:
		m["mask"], m["start"], m["end"] = int(v[0]), int(v[1]), int(v[2])
	case MatchIPProtocol:
		m["ipProtocol"] = int(v[0])
	case MatchEthertype:
		m["etherType"] = be16(0)
	case MatchICMP:
		m["icmpType"] = int(v[0])
		if v[2]&1 != 0 {
			m["icmpCode"] = int(v[1])
		} else {
			m["icmpCode"] = nil
		}
	case MatchIPSourcePortRange, MatchIPDestPortRange, MatchFrameSizeRange:
		m["start"], m["end"] = be16(0), be16(2)
	case MatchCharacteristics:
		m["mask"] = fmt.Sprintf("%016x", binary.BigEndian.Uint64(v))
	case MatchRandom:
		m["probability"] = be32(0)
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor,
		MatchTagsEqual, MatchTagSender, MatchTagReceiver:
		m["id"], m["value"] = be32(0), be32(4)
	}
	return m
}

func num(m map[string]any, k string) (uint64, bool) {
	switch x := m[k].(type) {
	case float64:
		if x < 0 || x > math.MaxUint64 {
			return 0, false
		}
		return uint64(x), true
	case string:
		s := strings.TrimSpace(x)
		if strings.HasPrefix(s, "0x") {
			n, err := strconv.ParseUint(s[2:], 16, 64)
			return n, err == nil
		}
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func boolOf(m map[string]any, k string) bool {
	switch x := m[k].(type) {
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != "" && (x[0] == 't' || x[0] == 'T' || x[0] == '1')
	}
	return false
}

// FromJSON parses a controller rule object (_parseRule); ok is false for
// rules the reference controller drops (unknown type, bad fields,
// INTEGER_RANGE, ACTION_PRIORITY).
func FromJSON(m map[string]any) (Rule, bool) {
	name, _ := m["type"].(string)
	var t byte = 0xff
	for k, n := range typeNames {
		if n == name {
			t = k
		}
	}
	if t == 0xff || t == MatchIntegerRange || t == ActionPriority {
		return Rule{}, false
	}
	r := Rule{T: t, Value: make([]byte, valueLen(t))}
	if boolOf(m, "not") {
		r.T |= FlagNot
	}
	if boolOf(m, "or") {
		r.T |= FlagOr
	}
	v := r.Value
	put16 := func(i int, k string) bool {
		n, ok := num(m, k)
		binary.BigEndian.PutUint16(v[i:], uint16(n))
		return ok
	}
	put32 := func(i int, k string) bool {
		n, ok := num(m, k)
		binary.BigEndian.PutUint32(v[i:], uint32(n))
		return ok
	}
	hexAddr := func(k string) (uint64, bool) {
		s, _ := m[k].(string)
		n, err := strconv.ParseUint(s, 16, 64)
		return n & 0xffffffffff, err == nil
	}
	ok := true
	switch t {
	case ActionTee, ActionWatch, ActionRedirect:
		a, aok := hexAddr("address")
		binary.BigEndian.PutUint64(v, a)
		put32(8, "flags")
		put16(12, "length")
		ok = aok
	case MatchSourceZeroTierAddress, MatchDestZeroTierAddress:
		a, aok := hexAddr("zt")
		copy(v, binary.BigEndian.AppendUint64(nil, a)[3:])
		ok = aok
	case MatchVlanID:
		ok = put16(0, "vlanId")
	case MatchVlanPCP, MatchVlanDEI, MatchIPProtocol:
		k := map[byte]string{MatchVlanPCP: "vlanPcp", MatchVlanDEI: "vlanDei", MatchIPProtocol: "ipProtocol"}[t]
		n, nok := num(m, k)
		v[0], ok = byte(n), nok
	case MatchMACSource, MatchMACDest:
		s, _ := m["mac"].(string)
		hw, err := net.ParseMAC(strings.ReplaceAll(s, "-", ":"))
		ok = err == nil && len(hw) == 6
		copy(v, hw)
	case MatchIPv4Source, MatchIPv4Dest, MatchIPv6Source, MatchIPv6Dest:
		s, _ := m["ip"].(string)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, aerr := netip.ParseAddr(s); aerr == nil {
				p, err = netip.PrefixFrom(a, a.BitLen()), nil
			}
		}
		v4 := t == MatchIPv4Source || t == MatchIPv4Dest
		ok = err == nil && p.Addr().Is4() == v4
		if ok {
			raw := p.Addr().AsSlice()
			copy(v, raw)
			v[len(raw)] = byte(p.Bits())
		}
	case MatchIPTOS:
		for i, k := range []string{"mask", "start", "end"} {
			n, nok := num(m, k)
			v[i] = byte(n)
			ok = ok && nok
		}
	case MatchEthertype:
		ok = put16(0, "etherType")
	case MatchICMP:
		n, nok := num(m, "icmpType")
		v[0], ok = byte(n), nok
		if c, cok := num(m, "icmpCode"); cok && m["icmpCode"] != nil {
			v[1], v[2] = byte(c), 1
		}
	case MatchIPSourcePortRange, MatchIPDestPortRange, MatchFrameSizeRange:
		ok = put16(0, "start")
		ok = put16(2, "end") && ok
	case MatchCharacteristics:
		var n uint64
		switch x := m["mask"].(type) {
		case string:
			var err error
			n, err = strconv.ParseUint(strings.TrimPrefix(x, "0x"), 16, 64)
			ok = err == nil
		default:
			n, ok = num(m, "mask")
		}
		binary.BigEndian.PutUint64(v, n)
	case MatchRandom:
		ok = put32(0, "probability")
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor,
		MatchTagsEqual, MatchTagSender, MatchTagReceiver:
		ok = put32(0, "id")
		ok = put32(4, "value") && ok
	}
	return r, ok
}
