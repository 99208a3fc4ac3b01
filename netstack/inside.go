package netstack

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
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
