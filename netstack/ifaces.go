package netstack

import (
	"net"
	"net/netip"
	"sort"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Interface is a read-only view of one NIC, as interface enumeration
// (getifaddrs, SIOCGIFCONF) shows it to the supervised programs.
type Interface struct {
	Index    int
	Name     string
	MAC      net.HardwareAddr // nil on loopback
	MTU      uint32
	Loopback bool
	Up       bool
	Addrs    []netip.Prefix // IPv4 first, then IPv6
}

// Route is one entry of the stack's route table.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr // invalid for a directly connected subnet
	Index   int        // the NIC's
}

// Interfaces lists the NICs by index. The loopback NIC also carries /32
// (/128) addresses for local delivery — a copy of every other NIC's address,
// the DNS responder's — which are left out: lo shows only loopback
// addresses, as the kernel keeps such ones in its local table, not on lo.
func (st *Stack) Interfaces() []Interface {
	info := st.NICInfo()
	var out []Interface
	for id, ni := range info {
		ifc := Interface{
			Index:    int(id),
			Name:     ni.Name,
			MTU:      ni.MTU,
			Loopback: ni.Flags.Loopback || ni.ARPHardwareType == header.ARPHardwareLoopback,
			Up:       ni.Flags.Up,
		}
		if len(ni.LinkAddress) == 6 {
			ifc.MAC = net.HardwareAddr([]byte(ni.LinkAddress))
		}
		for _, pa := range ni.ProtocolAddresses {
			a, ok := netip.AddrFromSlice(pa.AddressWithPrefix.Address.AsSlice())
			if !ok {
				continue
			}
			if id == LoopbackNIC && !a.IsLoopback() {
				continue
			}
			ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(a, pa.AddressWithPrefix.PrefixLen))
		}
		sort.SliceStable(ifc.Addrs, func(i, j int) bool {
			return ifc.Addrs[i].Addr().Is4() && !ifc.Addrs[j].Addr().Is4()
		})
		out = append(out, ifc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// Routes lists the stack's route table, in lookup order.
func (st *Stack) Routes() []Route {
	var out []Route
	for _, r := range st.GetRouteTable() {
		id := r.Destination.ID()
		dst, ok := netip.AddrFromSlice(id.AsSlice())
		if !ok {
			continue
		}
		rt := Route{Dst: netip.PrefixFrom(dst, r.Destination.Prefix()), Index: int(r.NIC)}
		if r.Gateway.Len() > 0 {
			rt.Gateway, _ = netip.AddrFromSlice(r.Gateway.AsSlice())
		}
		out = append(out, rt)
	}
	return out
}
