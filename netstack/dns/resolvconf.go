package dns

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
)

// ResolvConf is the file the programs' resolvers read.
const ResolvConf = "/etc/resolv.conf"

// Nameservers returns the nameserver addresses of a resolv.conf, in order,
// without duplicates; 127.0.0.1 when it names none, as glibc and musl assume.
func Nameservers(b []byte) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		a = a.WithZone("").Unmap()
		if !seen[a] && !a.IsUnspecified() && !a.IsMulticast() {
			seen[a] = true
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	return out
}

// HostNameservers reads ResolvConf; the default when it cannot be read.
func HostNameservers() []netip.Addr {
	b, _ := os.ReadFile(ResolvConf)
	return Nameservers(b)
}
