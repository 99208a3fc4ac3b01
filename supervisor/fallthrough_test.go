package supervisor

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"

	"ztnc/netstack"
)

func TestFallsThrough(t *testing.T) {
	st, err := netstack.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nic, err := st.AttachPort("local", netstack.NewNullPort(2800))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddAddress(nic, netip.MustParsePrefix("10.9.0.1/24")); err != nil {
		t.Fatal(err)
	}
	addr := func(s string) tcpip.Address {
		if s == "" {
			return tcpip.Address{}
		}
		return tcpip.AddrFromSlice(netip.MustParseAddr(s).AsSlice())
	}
	for _, c := range []struct {
		policy []string
		fam    int
		dst    string
		want   bool
	}{
		{nil, unix.AF_INET, "192.0.2.1", false},
		{[]string{"all"}, unix.AF_INET, "192.0.2.1", true},
		{[]string{"all"}, unix.AF_INET, "10.9.0.7", false}, // on the network
		{[]string{"10.0.0.0/8"}, unix.AF_INET, "10.9.0.7", false},
		{[]string{"10.0.0.0/8"}, unix.AF_INET, "10.8.0.7", true},
		{[]string{"all"}, unix.AF_INET, "127.0.0.1", false}, // loopback only when listed
		{[]string{"127.0.0.0/8"}, unix.AF_INET, "127.0.0.1", true},
		{[]string{"127.0.0.0/8"}, unix.AF_INET6, "::ffff:127.0.0.1", true},
		{[]string{"127.0.0.0/8"}, unix.AF_INET6, "::1", false},
		{[]string{"127.0.0.0/8"}, unix.AF_INET, "", true},   // 0.0.0.0 is 127.0.0.1
		{[]string{"127.0.0.0/8"}, unix.AF_INET6, "", false}, // :: may be ::1
		{[]string{"127.0.0.0/8", "::1"}, unix.AF_INET6, "", true},
		{[]string{"all"}, unix.AF_INET, "224.0.0.1", false},
		{[]string{"all"}, unix.AF_INET, "255.255.255.255", false},
		{[]string{"all"}, unix.AF_INET, "10.255.255.53", false}, // kept: the DNS responder
		{[]string{"all"}, unix.AF_INET6, "2001:db8::1", true},
	} {
		var f FallThrough
		for _, p := range c.policy {
			if err := f.Parse(p); err != nil {
				t.Fatal(err)
			}
		}
		f.Keep = []netip.Addr{netip.MustParseAddr("10.255.255.53")}
		s := &Supervisor{st: st}
		s.SetFallThrough(f)
		if got := s.fallsThrough(addr(c.dst), c.fam); got != c.want {
			t.Errorf("policy %v, fam %d, %q: %v, want %v", c.policy, c.fam, c.dst, got, c.want)
		}
	}
	var f FallThrough
	for _, bad := range []string{"", "10.0.0.0/33", "everything", "::1/200"} {
		if f.Parse(bad) == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
