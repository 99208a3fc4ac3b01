package netstack

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Inside reports whether a is on one of the stack's networks: covered by a
// route other than a default route (the loopback, a network's subnets and
// the routes its config pushes). Fall-through sends only what is not inside
// to the host.
func (st *Stack) Inside(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() {
		return false
	}
	ta := tcpip.AddrFromSlice(a.AsSlice())
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range st.routes {
		if r.Destination.Prefix() > 0 && r.Destination.Contains(ta) {
			return true
		}
	}
	return false
}

// AddressNIC returns the NIC other than the loopback that holds address a,
// or 0. Every network address is also on the loopback NIC (AddAddress);
// sockets bound to one must leave by the network's NIC.
func (st *Stack) AddressNIC(a tcpip.Address) tcpip.NICID {
	for id, info := range st.NICInfo() {
		if id == LoopbackNIC {
			continue
		}
		for _, pa := range info.ProtocolAddresses {
			if pa.AddressWithPrefix.Address == a {
				return id
			}
		}
	}
	return 0
}

// Serves reports whether a socket of the stack takes trans (TCP or UDP)
// traffic to a:port arriving on the loopback: a listener or a bound
// datagram socket of the programs. Fall-through leaves such loopback
// destinations virtual.
func (st *Stack) Serves(trans tcpip.TransportProtocolNumber, a tcpip.Address, port uint16) bool {
	proto := ipv4.ProtocolNumber
	if a.Len() == 16 {
		proto = ipv6.ProtocolNumber
	}
	id := stack.TransportEndpointID{LocalPort: port, LocalAddress: a, RemotePort: 1, RemoteAddress: a}
	return st.FindTransportEndpoint(proto, trans, id, LoopbackNIC) != nil
}
