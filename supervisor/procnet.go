package supervisor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"ztnc/netstack"
)

// Some programs list interfaces from files rather than netlink: Java's
// NetworkInterface reads /proc/net/if_inet6 for IPv6 addresses, ifconfig
// (net-tools, busybox) /proc/net/dev, route(8) /proc/net/route. Opens that
// could be one of these — read-only, no other flag, which is how fopen(…,
// "r") opens — are trapped, the path is read, and these few files get a
// copy written from the virtual stack; every other open is continued.

// procNetFiles maps the paths to their generators.
var procNetFiles = map[string]func([]netstack.Interface, []netstack.Route) []byte{
	"net/dev":        procNetDev,
	"net/if_inet6":   procNetIfInet6,
	"net/route":      procNetRoute,
	"net/ipv6_route": procNetIPv6Route,
}

// procNetName returns the key of procNetFiles that path names, if any.
func procNetName(path string) (string, bool) {
	for _, pre := range []string{"/proc/", "/proc/self/", "/proc/thread-self/"} {
		if rest, ok := strings.CutPrefix(path, pre); ok {
			if _, ok := procNetFiles[rest]; ok {
				return rest, true
			}
		}
	}
	return "", false
}

// readPath reads a NUL-terminated path of at most max bytes, a page piece at
// a time so that a short string at the end of a mapping does not fault.
func readPath(pid int, addr uint64, max int) (string, bool) {
	var out []byte
	for len(out) < max {
		n := min(int(4096-(addr+uint64(len(out)))%4096), max-len(out))
		b, e := readMem(pid, addr+uint64(len(out)), n)
		if e != 0 {
			return "", false
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(append(out, b[:i]...)), true
		}
		out = append(out, b...)
	}
	return "", false // longer than any path we answer
}

// sysOpen: open(path, O_RDONLY) and openat(AT_FDCWD, path, O_RDONLY).
func (s *Supervisor) sysOpen(c *call, pathArg uint64) {
	path, ok := readPath(c.pid, pathArg, 32)
	if !ok {
		c.cont()
		return
	}
	name, ok := procNetName(path)
	if !ok {
		c.cont()
		return
	}
	content := procNetFiles[name](s.st.Interfaces(), s.st.Routes())
	fd, err := readOnlyMemfd("ztnc-proc-"+strings.ReplaceAll(name, "/", "-"), content)
	if err != nil {
		s.log.Warn("making a /proc/net file", "path", path, "err", err)
		c.cont()
		return
	}
	defer unix.Close(fd)
	if !c.valid() {
		return
	}
	c.inject(fd, false)
}

// readOnlyMemfd returns a read-only descriptor of a memory file holding b.
func readOnlyMemfd(name string, b []byte) (int, error) {
	mf, err := memfd(name)
	if err != nil {
		return -1, err
	}
	defer mf.Close()
	if _, err := mf.Write(b); err != nil {
		return -1, fmt.Errorf("writing %s: %w", name, err)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", mf.Fd()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("reopening %s read-only: %w", name, err)
	}
	return fd, nil
}

func procNetDev(ifs []netstack.Interface, _ []netstack.Route) []byte {
	var b bytes.Buffer
	b.WriteString("Inter-|   Receive                                                |  Transmit\n")
	b.WriteString(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
	for _, ifc := range ifs {
		fmt.Fprintf(&b, "%6s: %7d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n",
			ifc.Name, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	return b.Bytes()
}

func ipv6Scope(a netip.Addr) int {
	switch {
	case a.IsLoopback():
		return 0x10
	case a.IsLinkLocalUnicast():
		return 0x20
	}
	return 0
}

func procNetIfInet6(ifs []netstack.Interface, _ []netstack.Route) []byte {
	var b bytes.Buffer
	for _, ifc := range ifs {
		for _, p := range ifc.Addrs {
			if p.Addr().Is4() {
				continue
			}
			a := p.Addr().As16()
			fmt.Fprintf(&b, "%x %02x %02x %02x %02x %8s\n", a[:], ifc.Index, p.Bits(), ipv6Scope(p.Addr()), unix.IFA_F_PERMANENT, ifc.Name)
		}
	}
	return b.Bytes()
}

func ifName(ifs []netstack.Interface, index int) string {
	for _, ifc := range ifs {
		if ifc.Index == index {
			return ifc.Name
		}
	}
	return "?"
}

// hex32 prints an IPv4 address as /proc/net/route does: its bytes in memory
// order read as a little-endian number.
func hex32(a netip.Addr) string {
	if !a.IsValid() {
		return "00000000"
	}
	v := a.As4()
	return fmt.Sprintf("%08X", binary.LittleEndian.Uint32(v[:]))
}

func procNetRoute(ifs []netstack.Interface, routes []netstack.Route) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-127s\n", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT")
	for _, r := range routes {
		if !r.Dst.Addr().Is4() || r.Dst.Addr().IsLoopback() {
			continue // the kernel keeps loopback's in the local table, not shown here
		}
		flags := unix.RTF_UP
		if r.Gateway.IsValid() {
			flags |= unix.RTF_GATEWAY
		}
		mask := netip.AddrFrom4([4]byte{})
		if r.Dst.Bits() > 0 {
			var m [4]byte
			binary.BigEndian.PutUint32(m[:], ^uint32(0)<<(32-r.Dst.Bits()))
			mask = netip.AddrFrom4(m)
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%04X\t%d\t%d\t%d\t%s\t%d\t%d\t%d",
			ifName(ifs, r.Index), hex32(r.Dst.Addr()), hex32(r.Gateway), flags, 0, 0, 0, hex32(mask), 0, 0, 0)
		fmt.Fprintf(&b, "%-127s\n", line)
	}
	return b.Bytes()
}

func procNetIPv6Route(ifs []netstack.Interface, routes []netstack.Route) []byte {
	var b bytes.Buffer
	zero := make([]byte, 16)
	for _, r := range routes {
		if r.Dst.Addr().Is4() {
			continue
		}
		d := r.Dst.Addr().As16()
		gw := zero
		flags := unix.RTF_UP
		if r.Gateway.IsValid() && !r.Gateway.Is4() {
			g := r.Gateway.As16()
			gw = g[:]
			flags |= unix.RTF_GATEWAY
		}
		fmt.Fprintf(&b, "%x %02x %x %02x %x %08x %08x %08x %08x %8s\n",
			d[:], r.Dst.Bits(), zero, 0, gw, 256, 1, 0, flags, ifName(ifs, r.Index))
	}
	return b.Bytes()
}
