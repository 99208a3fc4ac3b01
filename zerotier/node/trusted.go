package node

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"ztnc/zerotier/packet"
)

// MaxPhysicalPaths is ZT_MAX_CONFIGURABLE_PATHS: entries beyond it are ignored.
const MaxPhysicalPaths = 32

// PhysicalPath is one local.conf "physical" entry (ZT_PhysicalPathConfiguration):
// packets to and from Network use TrustedPathID (cipher 2: no encryption,
// no MAC; the ID in the MAC field) when it is non-zero, and fragment at MTU.
type PhysicalPath struct {
	Network       netip.Prefix
	TrustedPathID uint64
	MTU           int // 0 = default (1432); else clamped to 1400..10024
}

// normalizePhysicalPaths orders the entries as 1.14's std::map keyed by
// InetAddress (family, then prefix length and address compared as
// little-endian integers of network-order bytes, as InetAddress::operator<
// on x86-64), keeps the last of duplicate networks and the first 32, and
// clamps MTUs, so that lookups pick the same entry as ZeroTier One's.
func normalizePhysicalPaths(in []PhysicalPath) ([]PhysicalPath, error) {
	byNet := map[netip.Prefix]PhysicalPath{}
	for _, pp := range in {
		if !pp.Network.IsValid() {
			return nil, fmt.Errorf("node: physical path with an invalid network")
		}
		pp.Network = netip.PrefixFrom(pp.Network.Addr().Unmap(), pp.Network.Bits()-unmapBits(pp.Network))
		switch {
		case pp.MTU <= 0:
			pp.MTU = packet.DefaultPhysMTU
		case pp.MTU < packet.MinPhysMTU:
			pp.MTU = packet.MinPhysMTU
		case pp.MTU > packet.MaxPacketSize:
			pp.MTU = packet.MaxPacketSize // our packets never exceed this, so neither need fragments
		}
		byNet[pp.Network] = pp
	}
	out := make([]PhysicalPath, 0, len(byNet))
	for _, pp := range byNet {
		out = append(out, pp)
	}
	slices.SortFunc(out, func(a, b PhysicalPath) int {
		x, y := a.Network.Addr(), b.Network.Addr()
		if x.Is4() != y.Is4() {
			if x.Is4() {
				return -1
			}
			return 1
		}
		swap := func(bits int) int { return (bits&0xff)<<8 | bits>>8 }
		if c := cmp.Compare(swap(a.Network.Bits()), swap(b.Network.Bits())); c != 0 {
			return c
		}
		xs, ys := x.AsSlice(), y.AsSlice()
		if x.Is4() {
			slices.Reverse(xs)
			slices.Reverse(ys)
		}
		return bytes.Compare(xs, ys)
	})
	if len(out) > MaxPhysicalPaths {
		out = out[:MaxPhysicalPaths]
	}
	return out, nil
}

// unmapBits is how many prefix bits an IPv4-mapped IPv6 prefix loses when unmapped.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

// contains is InetAddress::containsAddress: same family and the first Bits
// bits equal (a /0 network contains every address of its family).
func (pp *PhysicalPath) contains(a netip.Addr) bool {
	return pp.Network.Addr().Is4() == a.Is4() && pp.Network.Masked().Contains(a)
}

// outboundPathInfo is Topology::getOutboundPathInfo: the MTU and trusted
// path ID of the first configured network containing the destination.
func (n *Node) outboundPathInfo(to netip.AddrPort) (mtu int, trustedPathID uint64) {
	for i := range n.cfg.PhysicalPaths {
		if pp := &n.cfg.PhysicalPaths[i]; pp.contains(to.Addr().Unmap()) {
			return pp.MTU, pp.TrustedPathID
		}
	}
	return n.cfg.MTU, 0
}

// inboundTrusted is Topology::shouldInboundPathBeTrusted: some configured
// network contains the sender and carries the packet's trusted path ID.
func (n *Node) inboundTrusted(from netip.AddrPort, id uint64) bool {
	if id == 0 {
		return false
	}
	for i := range n.cfg.PhysicalPaths {
		if pp := &n.cfg.PhysicalPaths[i]; pp.TrustedPathID == id && pp.contains(from.Addr().Unmap()) {
			return true
		}
	}
	return false
}
