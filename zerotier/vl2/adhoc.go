package vl2

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/rules"
)

// adhocConfig fabricates the config of a controller-less network
// (Network::requestConfiguration, VL2.md 1.1): ffSSSSEEEE000000 is IPv6
// (6PLANE) only with TCP/UDP to ports SSSS..EEEE; ffAAhhhhhhhhhh01 is
// IPv4 AA.0.0.0/8 plus 6PLANE, open. ok is false for other ff… IDs; a port
// range with EEEE < SSSS is NOT_FOUND.
func adhocConfig(nwid uint64, me address.Address, now time.Time) (c *netconf.Config, ok bool, notFound bool) {
	if nwid>>56 != 0xff {
		return nil, false, false
	}
	c = &netconf.Config{Version: netconf.Version, NetworkID: nwid, Timestamp: now.UnixMilli(), MaxDelta: credential.DefaultMaxDelta,
		IssuedTo: me, Type: netconf.TypePublic, MTU: netconf.DefaultMTU, Flags: netconf.FlagEnableNDPEmulation,
		StaticIPs: []netip.Prefix{netconf.SixPlane(nwid, me)}}
	switch {
	case nwid&0xffffff == 0:
		start, end := uint16(nwid>>40), uint16(nwid>>24)
		if end < start {
			return nil, false, true
		}
		c.Name = fmt.Sprintf("adhoc-%04x-%04x", start, end)
		ports := make([]byte, 4)
		binary.BigEndian.PutUint16(ports, start)
		binary.BigEndian.PutUint16(ports[2:], end)
		eth := []byte{0x86, 0xdd}
		chr := func(mask uint64) []byte { return binary.BigEndian.AppendUint64(nil, mask) }
		c.Rules = []rules.Rule{
			{T: rules.MatchEthertype | rules.FlagNot, Value: eth}, {T: rules.ActionDrop},
			{T: rules.MatchIPProtocol, Value: []byte{58}}, {T: rules.ActionAccept},
			{T: rules.MatchIPProtocol, Value: []byte{17}}, {T: rules.MatchIPProtocol | rules.FlagOr, Value: []byte{6}},
			{T: rules.MatchIPDestPortRange, Value: ports}, {T: rules.ActionAccept},
			{T: rules.MatchCharacteristics | rules.FlagNot, Value: chr(0x02)}, {T: rules.ActionAccept}, // no SYN
			{T: rules.MatchCharacteristics, Value: chr(0x02)}, {T: rules.MatchCharacteristics, Value: chr(0x10)}, {T: rules.ActionAccept}, // SYN+ACK
			{T: rules.ActionDrop},
		}
		return c, true, false
	case nwid&0xff == 0x01:
		aa := byte(nwid >> 48)
		c.Name = fmt.Sprintf("adhoc-%d.0.0.0", aa)
		c.MulticastLimit = 1024
		c.StaticIPs = append(c.StaticIPs, netip.PrefixFrom(netip.AddrFrom4([4]byte{aa, byte(me >> 16), byte(me >> 8), byte(me)}), 8))
		c.Rules = []rules.Rule{{T: rules.ActionAccept}}
		if hub := (nwid >> 8) & 0xffffffffff; hub != 0 {
			c.Specialists = []uint64{hub}
		}
		return c, true, false
	}
	return nil, false, false
}
