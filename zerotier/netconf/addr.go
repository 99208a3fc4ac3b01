package netconf

import (
	"net"
	"net/netip"

	"ztnc/zerotier/address"
)

// MAC derives a member's Ethernet address on a network (MAC.hpp
// fromAddress, VL2.md 1.2).
func MAC(a address.Address, nwid uint64) net.HardwareAddr {
	f := FirstOctet(nwid)
	m := make(net.HardwareAddr, 6)
	m[0] = f
	for i := 0; i < 5; i++ {
		m[1+i] = byte(uint64(a)>>(32-8*i)) ^ byte(nwid>>(8*(i+1)))
	}
	return m
}

// FirstOctet is the first MAC byte of every member of a network: locally
// administered unicast, never 0x52 (KVM/libvirt's prefix).
func FirstOctet(nwid uint64) byte {
	f := byte(nwid)&0xfe | 0x02
	if f == 0x52 {
		f = 0x32
	}
	return f
}

// AddressOfMAC reverses MAC; ok is false if the MAC is not a member MAC of
// the network (first octet differs).
func AddressOfMAC(m net.HardwareAddr, nwid uint64) (address.Address, bool) {
	if len(m) != 6 || m[0] != FirstOctet(nwid) {
		return 0, false
	}
	var a uint64
	for i := 0; i < 5; i++ {
		a = a<<8 | uint64(m[1+i]^byte(nwid>>(8*(i+1))))
	}
	return address.Address(a), true
}

// RFC4193 is the member's RFC4193-scheme address with its /88 prefix length.
func RFC4193(nwid uint64, a address.Address) netip.Prefix {
	var b [16]byte
	b[0] = 0xfd
	for i := 0; i < 8; i++ {
		b[1+i] = byte(nwid >> (56 - 8*i))
	}
	b[9], b[10] = 0x99, 0x93
	for i := 0; i < 5; i++ {
		b[11+i] = byte(uint64(a) >> (32 - 8*i))
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 88)
}

// SixPlane is the member's 6PLANE address with the network's /40 prefix
// length (the member owns the /80 around it).
func SixPlane(nwid uint64, a address.Address) netip.Prefix {
	var b [16]byte
	b[0] = 0xfc
	h := uint32(nwid ^ (nwid >> 32))
	b[1], b[2], b[3], b[4] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	for i := 0; i < 5; i++ {
		b[5+i] = byte(uint64(a) >> (32 - 8*i))
	}
	b[15] = 1
	return netip.PrefixFrom(netip.AddrFrom16(b), 40)
}

// MulticastGroup is a (MAC, ADI) pair.
type MulticastGroup struct {
	MAC [6]byte
	ADI uint32
}

// Broadcast is the Ethernet broadcast group with ADI 0.
var Broadcast = MulticastGroup{MAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}

// ResolutionGroup is the group for ARP (IPv4) or NDP (IPv6) of an address
// (deriveMulticastGroupForAddressResolution).
func ResolutionGroup(ip netip.Addr) MulticastGroup {
	if ip.Is4() {
		b := ip.As4()
		return MulticastGroup{MAC: Broadcast.MAC, ADI: uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])}
	}
	b := ip.As16()
	return MulticastGroup{MAC: [6]byte{0x33, 0x33, 0xff, b[13], b[14], b[15]}}
}

// String is "mac/adi" as the reference prints groups.
func (g MulticastGroup) String() string {
	return net.HardwareAddr(g.MAC[:]).String() + "/" + hex32(g.ADI)
}

func hex32(v uint32) string {
	const d = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = d[v&15]
		v >>= 4
	}
	return string(b)
}
