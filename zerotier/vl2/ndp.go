package vl2

import (
	"encoding/binary"

	"ztnc/zerotier/address"
	"ztnc/zerotier/netconf"
)

// ndpEmulateLocked answers a neighbour solicitation for another member's
// RFC4193 or 6PLANE address locally (VL2.md 6.11): the address embeds the
// member's ZeroTier address, so its MAC is known without asking anyone.
// It returns the fabricated advertisement frame, or nil.
func (n *Network) ndpEmulateLocked(src [6]byte, data []byte) []byte {
	if n.conf.Flags&netconf.FlagEnableNDPEmulation == 0 || len(data) < 64 || data[6] != 58 || data[40] != 135 {
		return nil
	}
	target := data[48:64]
	var embedded uint64
	found := false
	for _, p := range n.conf.StaticIPs {
		if !p.Addr().Is6() {
			continue
		}
		ip := p.Addr().As16()
		switch {
		case p.Bits() == 88 && ip[0] == 0xfd && ip[9] == 0x99 && ip[10] == 0x93 && string(target[:11]) == string(ip[:11]):
			embedded, found = be40(target[11:16]), true
		case p.Bits() == 40 && ip[0] == 0xfc && string(target[:5]) == string(ip[:5]):
			embedded, found = be40(target[5:10]), true
		}
		if found {
			break
		}
	}
	if !found || embedded == 0 || address.Address(embedded) == n.l.me.Address {
		return nil
	}
	mac := netconf.MAC(address.Address(embedded), n.id)
	f := make([]byte, 14+72)
	copy(f, src[:])
	copy(f[6:], mac)
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	ip := f[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], 32)
	ip[6], ip[7] = 58, 255
	copy(ip[8:24], target)      // from the solicited address
	copy(ip[24:40], data[8:24]) // to the solicitor
	icmp := ip[40:]
	icmp[0] = 136
	binary.BigEndian.PutUint32(icmp[4:], 0x60000000) // solicited, override
	copy(icmp[8:24], target)
	icmp[24], icmp[25] = 2, 1 // target link-layer address option
	copy(icmp[26:32], mac)
	binary.BigEndian.PutUint16(icmp[2:], icmpv6Checksum(ip[8:24], ip[24:40], icmp))
	return f
}

func be40(b []byte) uint64 {
	return uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
}

// icmpv6Checksum is the ICMPv6 checksum with the IPv6 pseudo-header.
func icmpv6Checksum(src, dst, msg []byte) uint16 {
	var s uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	var ph [8]byte
	binary.BigEndian.PutUint32(ph[:], uint32(len(msg)))
	ph[7] = 58
	add(ph[:])
	add(msg)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
