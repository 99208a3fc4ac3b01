package rules

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
)

// Result of evaluating a rule list (Network.cpp _doZtFilter).
type Result int

const (
	NoMatch Result = iota
	Drop
	Accept
	SuperAccept // we are a TEE/REDIRECT target: deliver regardless of bridging checks
	Redirect
)

// Characteristic bits (MATCH_CHARACTERISTICS).
const (
	CharInbound           = 0x8000000000000000
	CharMulticast         = 0x4000000000000000
	CharBroadcast         = 0x2000000000000000
	CharSenderIPAuth      = 0x1000000000000000
	CharSenderMACAuth     = 0x0800000000000000
	CharTCPFlagsMask      = 0x0000000000000fff
	flagUnsupportedResult = 0x08
)

// Frame is what the rules see of one Ethernet frame.
type Frame struct {
	Inbound   bool
	Me        uint64 // our ZeroTier address
	ZTSource  uint64
	ZTDest    uint64 // 0 for multicast
	MACSource [6]byte
	MACDest   [6]byte
	EtherType uint16
	Payload   []byte // after the Ethernet header
	// ConfigFlags are the network config flags (0x08 changes unknown matches).
	ConfigFlags uint64
	// OwnTag and PeerTag look up tag values (nil: none).
	OwnTag, PeerTag func(id uint32) (uint32, bool)
	// SenderIPAuth, SenderMACAuth: a COO covers the frame's source IP / MAC
	// (the sender's inbound, our own outbound).
	SenderIPAuth, SenderMACAuth bool
}

// Tee is a copy request produced by TEE/WATCH rules.
type Tee struct {
	Target uint64
	Flags  uint32
	Length uint16
	Watch  bool
}

// Verdict is the outcome of Evaluate.
type Verdict struct {
	Result   Result
	Redirect uint64 // target when Result is Redirect
	Tees     []Tee
}

// AcceptsAll reports whether rs accepts every frame without looking at it
// (its first rule is ACCEPT, as in the default rule set): Evaluate would
// return Accept with no tees for any frame, so callers can skip building one.
func AcceptsAll(rs []Rule) bool { return len(rs) > 0 && rs[0].Type() == ActionAccept }

// Evaluate runs one rule list over a frame.
func Evaluate(rs []Rule, f *Frame) Verdict {
	var v Verdict
	set, superAccept, skipDrop := true, false, false
	ip := parseIP(f)
	for _, r := range rs {
		t := r.Type()
		val := r.Value
		if t <= 15 {
			if !set {
				if f.Inbound && (t == ActionTee || t == ActionWatch || t == ActionRedirect) && len(val) >= 8 &&
					binary.BigEndian.Uint64(val)&0xffffffffff == f.Me {
					superAccept = true
				}
				set = true
				continue
			}
			switch t {
			case ActionPriority:
				v.Result = Accept
				return v
			case ActionDrop:
				if skipDrop {
					skipDrop = false
					continue
				}
				v.Result = Drop
				return v
			case ActionAccept:
				v.Result = Accept
				if superAccept {
					v.Result = SuperAccept
				}
				return v
			case ActionTee, ActionWatch, ActionRedirect:
				target := binary.BigEndian.Uint64(val) & 0xffffffffff
				if target == f.ZTSource {
					continue
				}
				if target == f.Me {
					if f.Inbound {
						v.Result = SuperAccept
						return v
					}
					continue
				}
				if target == f.ZTDest && f.ZTDest != 0 {
					continue
				}
				if t == ActionRedirect {
					v.Result, v.Redirect = Redirect, target
					return v
				}
				v.Tees = append(v.Tees, Tee{Target: target, Flags: binary.BigEndian.Uint32(val[8:]),
					Length: binary.BigEndian.Uint16(val[12:]), Watch: t == ActionWatch})
				continue
			case ActionBreak:
				v.Result = NoMatch
				return v
			}
			continue // unknown actions are ignored
		}
		if !set && !r.Or() {
			continue
		}
		m, hard, hardYes, sd := match(t, val, f, ip, superAccept)
		if sd {
			skipDrop = true
		}
		var res bool
		if hard {
			res = hardYes
		} else {
			res = m != r.Not()
		}
		if r.Or() {
			set = set || res
		} else {
			set = set && res
		}
	}
	return v
}

// ipInfo is the parsed IP view of a frame.
type ipInfo struct {
	v4, v6     bool
	src, dst   netip.Addr
	proto      int // final protocol / next header, -1 unknown
	l4         []byte
	tos        byte
	tcpFlags   uint64
	validProto bool
}

func parseIP(f *Frame) ipInfo {
	p := f.Payload
	var in ipInfo
	in.proto = -1
	switch {
	case f.EtherType == 0x0800 && len(p) >= 20:
		in.v4 = true
		in.src = netip.AddrFrom4([4]byte(p[12:16]))
		in.dst = netip.AddrFrom4([4]byte(p[16:20]))
		in.proto = int(p[9])
		in.tos = p[1]
		hl := int(p[0]&0xf) * 4
		if hl >= 20 && hl <= len(p) {
			in.l4 = p[hl:]
		}
		in.validProto = true
	case f.EtherType == 0x86dd && len(p) >= 40:
		in.v6 = true
		in.src = netip.AddrFrom16([16]byte(p[8:24]))
		in.dst = netip.AddrFrom16([16]byte(p[24:40]))
		in.tos = byte(binary.BigEndian.Uint16(p) >> 4)
		nh := int(p[6])
		off := 40
		for off < len(p) {
			if nh == 0 || nh == 43 || nh == 60 || nh == 135 {
				if off+2 > len(p) {
					break
				}
				nh, off = int(p[off]), off+8*(int(p[off+1])+1)
				continue
			}
			break
		}
		in.proto = nh
		if off <= len(p) {
			in.l4 = p[off:]
			in.validProto = true
		}
	}
	if (in.v4 || in.v6) && in.proto == 6 && len(in.l4) >= 14 {
		in.tcpFlags = uint64(binary.BigEndian.Uint16(in.l4[12:]) & 0xfff)
	}
	return in
}

// match evaluates one match rule: m is the raw result; hard forces the
// outcome (hardYes) regardless of NOT; sd requests skipping the next DROP.
func match(t byte, v []byte, f *Frame, ip ipInfo, superAccept bool) (m, hard, hardYes, sd bool) {
	hardNo := func() (bool, bool, bool, bool) { return false, true, false, false }
	switch t {
	case MatchSourceZeroTierAddress:
		return f.ZTSource == be40(v), false, false, false
	case MatchDestZeroTierAddress:
		return f.ZTDest == be40(v), false, false, false
	case MatchVlanID:
		return binary.BigEndian.Uint16(v) == 0, false, false, false
	case MatchVlanPCP, MatchVlanDEI:
		return v[0] == 0, false, false, false
	case MatchMACSource:
		return [6]byte(v[:6]) == f.MACSource, false, false, false
	case MatchMACDest:
		return [6]byte(v[:6]) == f.MACDest, false, false, false
	case MatchIPv4Source, MatchIPv4Dest:
		if !ip.v4 {
			return hardNo()
		}
		a := ip.src
		if t == MatchIPv4Dest {
			a = ip.dst
		}
		p, err := netip.AddrFrom4([4]byte(v[:4])).Prefix(int(min(v[4], 32)))
		return err == nil && p.Contains(a), false, false, false
	case MatchIPv6Source, MatchIPv6Dest:
		if !ip.v6 {
			return hardNo()
		}
		a := ip.src
		if t == MatchIPv6Dest {
			a = ip.dst
		}
		p, err := netip.AddrFrom16([16]byte(v[:16])).Prefix(int(min(v[16], 128)))
		return err == nil && p.Contains(a), false, false, false
	case MatchIPTOS:
		if !ip.v4 && !ip.v6 {
			return hardNo()
		}
		x := ip.tos & v[0]
		return x >= v[1] && x <= v[2], false, false, false
	case MatchIPProtocol:
		if !ip.validProto {
			return hardNo()
		}
		return ip.proto == int(v[0]), false, false, false
	case MatchEthertype:
		return f.EtherType == binary.BigEndian.Uint16(v), false, false, false
	case MatchICMP:
		if !((ip.v4 && ip.proto == 1) || (ip.v6 && ip.proto == 58)) || len(ip.l4) < 2 {
			return hardNo()
		}
		if ip.l4[0] != v[0] {
			return hardNo()
		}
		if v[2]&1 != 0 {
			return ip.l4[1] == v[1], false, false, false
		}
		return true, true, true, false
	case MatchIPSourcePortRange, MatchIPDestPortRange:
		if !ip.v4 && !ip.v6 {
			return hardNo()
		}
		switch ip.proto {
		case 6, 17, 132, 136:
		default:
			return false, false, false, false
		}
		if len(ip.l4) < 4 {
			return hardNo()
		}
		port := binary.BigEndian.Uint16(ip.l4)
		if t == MatchIPDestPortRange {
			port = binary.BigEndian.Uint16(ip.l4[2:])
		}
		if ip.v6 && port == 0 {
			return false, false, false, false
		}
		return port >= binary.BigEndian.Uint16(v) && port <= binary.BigEndian.Uint16(v[2:]), false, false, false
	case MatchCharacteristics:
		var c uint64
		if f.Inbound {
			c |= CharInbound
		}
		if f.SenderIPAuth {
			c |= CharSenderIPAuth
		}
		if f.SenderMACAuth {
			c |= CharSenderMACAuth
		}
		if f.MACDest[0]&1 != 0 {
			c |= CharMulticast
		}
		if f.MACDest == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
			c |= CharBroadcast
		}
		c |= ip.tcpFlags
		return c&binary.BigEndian.Uint64(v) != 0, false, false, false
	case MatchFrameSizeRange:
		n := len(f.Payload)
		return n >= int(binary.BigEndian.Uint16(v)) && n <= int(binary.BigEndian.Uint16(v[2:])), false, false, false
	case MatchRandom:
		return rand.Uint32() <= binary.BigEndian.Uint32(v), false, false, false
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor, MatchTagsEqual:
		id, want := binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])
		a, ok := lookup(f.OwnTag, id)
		if !ok {
			return hardNo()
		}
		b, ok := lookup(f.PeerTag, id)
		if !ok {
			if f.Inbound && !superAccept {
				return hardNo()
			}
			return true, true, true, true
		}
		switch t {
		case MatchTagsDifference:
			d := a - b
			if b > a {
				d = b - a
			}
			return d <= want, false, false, false
		case MatchTagsBitwiseAnd:
			return a&b == want, false, false, false
		case MatchTagsBitwiseOr:
			return a|b == want, false, false, false
		case MatchTagsBitwiseXor:
			return a^b == want, false, false, false
		default:
			return a == want && b == want, false, false, false
		}
	case MatchTagSender, MatchTagReceiver:
		if superAccept {
			return true, true, true, true
		}
		id, want := binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])
		remote := (t == MatchTagSender) == f.Inbound
		if remote {
			b, ok := lookup(f.PeerTag, id)
			if !ok {
				if t == MatchTagReceiver {
					return true, true, true, true
				}
				return hardNo()
			}
			return b == want, false, false, false
		}
		a, ok := lookup(f.OwnTag, id)
		if !ok {
			return hardNo()
		}
		return a == want, false, false, false
	case MatchIntegerRange:
		start, end := binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
		idx, format := int(binary.BigEndian.Uint16(v[16:])), v[18]
		bits := int(format&63) + 1
		nb := (bits + 7) / 8
		var x uint64
		if format&0x80 == 0 {
			at := idx + 8 - nb
			if at >= 0 && at+nb <= len(f.Payload) {
				for _, c := range f.Payload[at : at+nb] {
					x = x<<8 | uint64(c)
				}
				if bits < 64 {
					x &= 1<<bits - 1
				}
			}
		} else if idx+nb <= len(f.Payload) {
			for i := nb - 1; i >= 0; i-- {
				x = x<<8 | uint64(f.Payload[idx+i])
			}
			if bits < 64 {
				x &= 1<<bits - 1
			}
		}
		return x >= start && x <= end, false, false, false
	}
	return f.ConfigFlags&flagUnsupportedResult != 0, false, false, false
}

func lookup(fn func(uint32) (uint32, bool), id uint32) (uint32, bool) {
	if fn == nil {
		return 0, false
	}
	return fn(id)
}

func be40(v []byte) uint64 {
	return uint64(v[0])<<32 | uint64(v[1])<<24 | uint64(v[2])<<16 | uint64(v[3])<<8 | uint64(v[4])
}
