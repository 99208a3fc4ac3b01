package supervisor

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// Fall-through: a connection or datagram to a destination outside every
// network of the stack, and inside what the user allowed, goes through the
// host's network stack. The supervisor makes a host socket like the virtual
// one (options, bound port, O_NONBLOCK carried over), puts it in place of
// the program's fd (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD) and does the
// connect or send itself, on the address it checked: never CONTINUE, which
// would let another thread of the program swap the sockaddr after the check.
// From then on the kernel carries the data. Every later trapped call on a
// host socket that could reach an address (connect, sendto, sendmsg,
// sendmmsg, bind, listen) is checked the same way (hostcall.go).

// FallThrough is what may go through the host's stack.
type FallThrough struct {
	All      bool           // every destination outside the networks, loopback excepted
	Prefixes []netip.Prefix // these, even loopback when listed
	Keep     []netip.Addr   // never (the DNS responder's addresses)
}

// Parse reads one --fallthrough value into f: "all" or a CIDR.
func (f *FallThrough) Parse(v string) error {
	if v == "all" {
		f.All = true
		return nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		if a, aerr := netip.ParseAddr(v); aerr == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		} else {
			return fmt.Errorf("not \"all\" or an address/prefix like 192.0.2.0/24: %q", v)
		}
	}
	f.Prefixes = append(f.Prefixes, p.Masked())
	return nil
}

// Enabled reports whether anything may fall through.
func (f *FallThrough) Enabled() bool { return f != nil && (f.All || len(f.Prefixes) > 0) }

func (f *FallThrough) listed(a netip.Addr) bool {
	for _, p := range f.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// SetPort53Owner names the holder of port 53 on addrs (the DNS responder)
// and how to free it (its Stop), called once when a program binds port 53
// on "any" or on one of addrs and finds it taken: the program's own DNS
// server then takes over, as on a host.
func (s *Supervisor) SetPort53Owner(addrs []netip.Addr, free func()) {
	s.addrs53, s.free53 = addrs, free
}

// SetFallThrough lets destinations f allows go through the host's stack.
// Call it before Serve.
func (s *Supervisor) SetFallThrough(f FallThrough) {
	// The program inherits ztnc-run's fds that are not close-on-exec: a
	// host socket there (inetd, systemd Accept=yes, a test harness) is one
	// from the start (checked.go). Without --fallthrough too: an empty
	// policy then has every call on it checked, so it reaches nothing.
	inherited := inheritedHostSocket()
	if f.Enabled() || inherited {
		s.fall = &f
	}
	if inherited {
		s.markHostSockets()
	}
}

// inheritedHostSocket reports whether this process holds an IPv4 or IPv6
// socket that an exec'd program would inherit.
func inheritedHostSocket() bool {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return true // cannot tell: assume so, which only costs speed
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || fl&unix.FD_CLOEXEC != 0 {
			continue
		}
		if fam, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil && (fam == unix.AF_INET || fam == unix.AF_INET6) {
			return true
		}
	}
	return false
}

// fallsThrough reports whether a connection or datagram to a goes to the
// host. The unspecified address means the local host, as the kernel takes
// it: on an IPv6 socket ::1 or 127.0.0.1 (decodeAddr no longer tells "::"
// from "::ffff:0.0.0.0"), so both must be allowed.
func (s *Supervisor) fallsThrough(ta tcpip.Address, fam int) bool {
	f := s.fall
	if f == nil {
		return false
	}
	a, ok := netip.AddrFromSlice(ta.AsSlice())
	if !ok || a.IsUnspecified() {
		v4 := f.listed(netip.MustParseAddr("127.0.0.1"))
		if fam == unix.AF_INET6 {
			return v4 && f.listed(netip.IPv6Loopback())
		}
		return v4
	}
	a = a.Unmap()
	if a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	for _, k := range f.Keep {
		if k.Unmap() == a {
			return false
		}
	}
	if a.IsLoopback() {
		return f.listed(a) // "all" never includes the loopback
	}
	if s.st.Inside(a) {
		return false
	}
	return f.All || f.listed(a)
}

// bindFallsThrough reports whether a socket bound (by the program) to b may
// become a host socket: unbound, bound to "any", or to an address that
// itself falls through.
func (s *Supervisor) bindFallsThrough(b *tcpip.FullAddress, fam int) bool {
	return b == nil || b.Addr.Len() == 0 || s.fallsThrough(b.Addr, fam)
}

// toHost replaces the program's virtual socket so (fd in argument 0 of c)
// with a host socket of the same kind and returns the supervisor's copy of
// it. On failure it returns the errno to answer.
func (s *Supervisor) toHost(c *call, so *socket) (int, unix.Errno) {
	fd := int(c.args[0])
	prog, err := so.progFD(c.pid, fd)
	if err != nil {
		return -1, unix.EBADF
	}
	defer unix.Close(prog)
	fl, _ := fdFlags(c.pid, fd)
	h, err := unix.Socket(so.fam, so.typ|unix.SOCK_CLOEXEC, so.proto)
	if err != nil {
		return -1, err.(unix.Errno)
	}
	so.carryOptions(prog, h)
	so.mu.Lock()
	bound := so.bound
	so.mu.Unlock()
	if bound != nil && (bound.Port != 0 || bound.Addr.Len() != 0) {
		if bound.Port != 0 && int(bound.Port) < unprivPortStart() && !hasCap(c.pid, unix.CAP_NET_BIND_SERVICE) {
			unix.Close(h)
			return -1, unix.EACCES
		}
		sa := encodeAddr(*bound, so.fam)
		if e := rawSockaddrCall(unix.SYS_BIND, h, sa); e != 0 {
			unix.Close(h)
			return -1, e
		}
	}
	if fl&unix.O_NONBLOCK != 0 {
		unix.SetNonblock(h, true)
	}
	if !c.valid() {
		unix.Close(h)
		return -1, unix.EINTR
	}
	s.markHostSockets() // before the program can dup it anywhere
	if _, err := addFD(c.lfd, c.id, h, fd, fl&unix.O_CLOEXEC != 0, false); err != nil {
		unix.Close(h)
		return -1, unix.EBADF
	}
	if so.typ != unix.SOCK_STREAM {
		s.holdHost(h) // its next sendto/sendmsg needs it (held.go)
	}
	s.Stats.FellThrough.Add(1)
	s.log.Debug("fell through to a host socket", "pid", c.pid, "fd", fd, "ino", so.ino)
	return h, 0
}

// carryOptions sets on the host socket h what the program set on its virtual
// socket: the options kept by the netstack endpoint, the timeouts of the
// program's end (prog), and the stored options known to be harmless. Not
// everything stored: the supervisor may be root, and options such as
// IP_TRANSPARENT must not gain a privilege the program lacks.
func (so *socket) carryOptions(prog, h int) {
	o := so.ep.SocketOptions()
	setInt := func(level, name, v int) { unix.SetsockoptInt(h, level, name, v) }
	setInt(unix.SOL_SOCKET, unix.SO_REUSEADDR, boolInt(o.GetReuseAddress()))
	setInt(unix.SOL_SOCKET, unix.SO_REUSEPORT, boolInt(o.GetReusePort()))
	setInt(unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(o.GetKeepAlive()))
	setInt(unix.SOL_SOCKET, unix.SO_BROADCAST, boolInt(o.GetBroadcast()))
	if l := o.GetLinger(); l.Enabled {
		unix.SetsockoptLinger(h, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: int32(l.Timeout.Seconds())})
	}
	if so.fam == unix.AF_INET6 {
		setInt(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolInt(o.GetV6Only()))
	}
	if so.stream() {
		setInt(unix.IPPROTO_TCP, unix.TCP_NODELAY, boolInt(!o.GetDelayOption()))
		if o.GetCorkOption() {
			setInt(unix.IPPROTO_TCP, unix.TCP_CORK, 1)
		}
	}
	for _, name := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
		if tv, err := unix.GetsockoptTimeval(prog, unix.SOL_SOCKET, name); err == nil && (tv.Sec != 0 || tv.Usec != 0) {
			unix.SetsockoptTimeval(h, unix.SOL_SOCKET, name, tv)
		}
	}
	// Buffer sizes the program set (they differ from a fresh pair's); the
	// kernel doubles what it is given, as it did for the program's end.
	def := pairBufDefaults(so.stream())
	for i, name := range []int{unix.SO_RCVBUF, unix.SO_SNDBUF} {
		if v, err := unix.GetsockoptInt(prog, unix.SOL_SOCKET, name); err == nil && v != def[i] && def[i] != 0 {
			unix.SetsockoptInt(h, unix.SOL_SOCKET, name, v/2)
		}
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	for k, v := range so.opts {
		if harmlessOpt(k) {
			unix.SetsockoptString(h, int(k.level), int(k.name), string(v))
		}
	}
}

// harmlessOpt: stored options that need no privilege and change only how
// this socket talks, not where to.
func harmlessOpt(k optKey) bool {
	switch k.level {
	case unix.IPPROTO_TCP:
		switch k.name {
		case unix.TCP_KEEPIDLE, unix.TCP_KEEPINTVL, unix.TCP_KEEPCNT, unix.TCP_USER_TIMEOUT,
			unix.TCP_SYNCNT, unix.TCP_LINGER2, unix.TCP_WINDOW_CLAMP, unix.TCP_NOTSENT_LOWAT,
			unix.TCP_MAXSEG, unix.TCP_QUICKACK, unix.TCP_FASTOPEN_CONNECT:
			return true
		}
	case unix.IPPROTO_IP:
		switch k.name {
		case unix.IP_TOS, unix.IP_TTL, unix.IP_PKTINFO, unix.IP_RECVTTL, unix.IP_RECVTOS,
			unix.IP_RECVERR, unix.IP_MTU_DISCOVER, unix.IP_MULTICAST_TTL, unix.IP_MULTICAST_LOOP:
			return true
		}
	case unix.IPPROTO_IPV6:
		switch k.name {
		case unix.IPV6_TCLASS, unix.IPV6_UNICAST_HOPS, unix.IPV6_RECVPKTINFO, unix.IPV6_RECVHOPLIMIT,
			unix.IPV6_RECVERR, unix.IPV6_MTU_DISCOVER, unix.IPV6_RECVTCLASS:
			return true
		}
	case unix.IPPROTO_UDP:
		return k.name == unix.UDP_CORK || k.name == unix.UDP_SEGMENT || k.name == unix.UDP_GRO
	}
	return false
}

// unprivPortStart is the lowest port an unprivileged program may bind.
func unprivPortStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}

// hasCap reports whether thread pid has capability c in its effective set.
func hasCap(pid int, c int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && m&(1<<uint(c)) != 0
		}
	}
	return false
}

// mayFallThrough reports whether a connect or send of so to a goes to the
// host. Only a socket not yet in use (a connect under way or done stays
// virtual) and not bound to a virtual address; ping sockets stay virtual.
func (s *Supervisor) mayFallThrough(so *socket, a tcpip.FullAddress) bool {
	if s.fall == nil || so.proto == unix.IPPROTO_ICMP || so.proto == unix.IPPROTO_ICMPV6 {
		return false
	}
	if so.fam == unix.AF_INET6 && isV4Mapped(a.Addr) && so.ep.SocketOptions().GetV6Only() {
		return false
	}
	if !s.fallsThrough(a.Addr, so.fam) || s.servedVirtually(so, a) {
		return false
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.state == stIdle && s.bindFallsThrough(so.bound, so.fam)
}

// sendFallsThrough reads the destination of the msghdr at p (a sendmsg, or
// the first of a sendmmsg) and reports whether it falls through.
func (s *Supervisor) sendFallsThrough(c *call, so *socket, p uint64) bool {
	if s.fall == nil {
		return false
	}
	m, e := readMsghdr(c.pid, p)
	if e != 0 {
		return false
	}
	to, e := so.destination(c.pid, m.name, int(min(m.namelen, sizeofSockaddrStorage)))
	return e == 0 && to != nil && s.mayFallThrough(so, *to)
}

// fallThen makes so a host socket and lets then do the call on it; then
// reads the call's arguments again and checks them itself, so a program
// that changed its sockaddr meanwhile gains nothing.
func (s *Supervisor) fallThen(c *call, so *socket, then func(*call, hostSock)) {
	h, e := s.toHost(c, so)
	if e != 0 {
		if e != unix.EINTR {
			c.fail(e)
		}
		return
	}
	then(c, hostSock{fd: h, fam: so.fam, typ: so.typ})
}

// take53 frees port 53 (once) for a program binding it on a (a wildcard
// or the responder's address); false when there was nothing to free.
func (s *Supervisor) take53(a tcpip.Address) bool {
	if a.Len() != 0 {
		na, _ := netip.AddrFromSlice(a.AsSlice())
		mine := false
		for _, x := range s.addrs53 {
			mine = mine || x.Unmap() == na.Unmap()
		}
		if !mine {
			return false
		}
	}
	s.mu.Lock()
	free := s.free53
	s.free53 = nil
	s.mu.Unlock()
	if free == nil {
		return false
	}
	s.log.Info("a program binds port 53: ztnc's DNS responder steps aside")
	free()
	return true
}

// servedVirtually reports whether a is a loopback destination that a
// program of this stack serves (a listener, a bound UDP socket): it stays
// virtual even when the loopback falls through, so programs keep reaching
// one another while reaching the host's other loopback services.
func (s *Supervisor) servedVirtually(so *socket, a tcpip.FullAddress) bool {
	dst := a.Addr
	if isV4Mapped(dst) {
		dst = tcpip.AddrFrom4Slice(dst.AsSlice()[12:])
	}
	na, ok := netip.AddrFromSlice(dst.AsSlice())
	if !ok || !na.IsLoopback() {
		return false
	}
	trans := udp.ProtocolNumber
	if so.stream() {
		trans = tcp.ProtocolNumber
	}
	return s.st.Serves(trans, dst, a.Port)
}

var (
	bufDefaultsOnce sync.Once
	bufDefaults     [2][2]int // [stream][SO_RCVBUF, SO_SNDBUF] of a fresh AF_UNIX pair
)

// pairBufDefaults are the buffer sizes of an AF_UNIX pair nobody has set.
func pairBufDefaults(stream bool) [2]int {
	bufDefaultsOnce.Do(func() {
		for i, typ := range []int{unix.SOCK_SEQPACKET, unix.SOCK_STREAM} {
			p, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				continue
			}
			bufDefaults[i][0], _ = unix.GetsockoptInt(p[0], unix.SOL_SOCKET, unix.SO_RCVBUF)
			bufDefaults[i][1], _ = unix.GetsockoptInt(p[0], unix.SOL_SOCKET, unix.SO_SNDBUF)
			unix.Close(p[0])
			unix.Close(p[1])
		}
	})
	if stream {
		return bufDefaults[1]
	}
	return bufDefaults[0]
}
