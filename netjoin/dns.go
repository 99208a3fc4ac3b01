package netjoin

import (
	"fmt"

	"ztnc/netstack/dns"
	"ztnc/zerotier/vl2"
)

// FollowDNS keeps srv's zone for n in step with the DNS settings n's
// controller pushes (domain and servers), now and after each new config.
func FollowDNS(srv *dns.Server, n *vl2.Network) {
	if srv == nil {
		return
	}
	owner := fmt.Sprintf("%016x", n.ID())
	port := n.Port()
	apply := func() {
		c := port.DNS()
		srv.SetZone(owner, dns.Zone{Domain: c.Domain, Servers: c.Servers})
	}
	port.OnConfigChange(apply)
	apply()
}
