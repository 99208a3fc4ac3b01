package main

// DNS for CMD: a responder on the virtual stack at the nameserver addresses
// of /etc/resolv.conf (see netstack/dns and the README's DNS section).

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"ztnc/netstack"
	"ztnc/netstack/dns"
)

// dnsFlags are --dns, --dns-server and --dns-domain.
type dnsFlags struct {
	mode    string // "", "host", "network", "off"
	servers []netip.Addr
	domain  string
}

func (d *dnsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.mode, "dns", "", "")
	fs.Func("dns-server", "", func(s string) error {
		for _, f := range strings.Split(s, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("not an IP address: %q", f)
			}
			d.servers = append(d.servers, a.Unmap())
		}
		return nil
	})
	fs.StringVar(&d.domain, "dns-domain", "", "")
}

func (d *dnsFlags) check() error {
	switch d.mode {
	case "", "host", "network", "off":
	default:
		return fmt.Errorf("--dns %q: want host, network or off", d.mode)
	}
	if d.domain != "" && len(d.servers) == 0 {
		return fmt.Errorf("--dns-domain needs --dns-server")
	}
	if d.mode == "off" && len(d.servers) > 0 {
		return fmt.Errorf("--dns off and --dns-server contradict each other")
	}
	return nil
}

// newDNS makes the responder (nil with --dns off). Names outside the
// networks' domains go to the host's resolvers with --dns host, or by
// default when anything falls through.
func newDNS(st *netstack.Stack, d dnsFlags, fallthroughOn bool, log *slog.Logger) *dns.Server {
	if d.mode == "off" {
		return nil
	}
	srv := dns.NewServer(st, dns.HostNameservers(), log)
	if d.mode == "host" || d.mode == "" && fallthroughOn {
		srv.Host = dns.ExchangeHost
		for _, a := range srv.Addrs() {
			srv.HostNS = append(srv.HostNS, netip.AddrPortFrom(a, 53))
		}
	}
	if len(d.servers) > 0 {
		srv.SetZone("local", dns.Zone{Domain: d.domain, Servers: d.servers})
	}
	return srv
}
