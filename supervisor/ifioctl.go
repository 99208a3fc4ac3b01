package supervisor

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"

	"ztnc/netstack"
)

// The interface ioctls (SIOCGIFCONF, SIOCGIFFLAGS, …) work on any socket and
// would describe the host's interfaces; on a program's socket they describe
// the virtual ones. Only these request numbers are trapped (the filter
// compares the argument); every other ioctl runs untouched.
var ifIoctls = []uint32{
	unix.SIOCGIFNAME, unix.SIOCGIFCONF, unix.SIOCGIFFLAGS, unix.SIOCGIFADDR,
	unix.SIOCGIFDSTADDR, unix.SIOCGIFBRDADDR, unix.SIOCGIFNETMASK,
	unix.SIOCGIFMETRIC, unix.SIOCGIFMTU, unix.SIOCGIFHWADDR, unix.SIOCGIFINDEX,
	unix.SIOCGIFTXQLEN,
}

const (
	sizeofIfreq  = 40
	sizeofIfconf = 16
)

// sysIoctl: ioctl(fd, SIOCGIF*, arg) on a socket.
func (s *Supervisor) sysIoctl(c *call) {
	if _, isSock, e := fdInode(c.pid, c.args[0]); e != 0 || !isSock {
		c.cont() // EBADF, ENOTTY: the kernel's to say
		return
	}
	ifs := s.st.Interfaces()
	req := uint32(c.args[1])
	if req == unix.SIOCGIFCONF {
		e := ifconf(c.pid, c.args[2], ifs)
		if e != 0 {
			c.fail(e)
			return
		}
		c.ret(0)
		return
	}
	b, e := readMem(c.pid, c.args[2], sizeofIfreq)
	if e != 0 {
		c.fail(e)
		return
	}
	out, e := ifreq(req, b, ifs)
	if e != 0 {
		c.fail(e)
		return
	}
	if e := writeMem(c.pid, c.args[2], out); e != 0 {
		c.fail(e)
		return
	}
	c.ret(0)
}

// ifreq answers one struct ifreq request.
func ifreq(req uint32, b []byte, ifs []netstack.Interface) ([]byte, unix.Errno) {
	out := make([]byte, sizeofIfreq)
	copy(out, b)
	var ifc netstack.Interface
	found := false
	if req == unix.SIOCGIFNAME {
		index := int32(binary.LittleEndian.Uint32(b[16:]))
		for _, x := range ifs {
			if int32(x.Index) == index {
				ifc, found = x, true
			}
		}
		if !found {
			return nil, unix.ENODEV
		}
		clear(out[:16])
		copy(out[:15], ifc.Name)
		return out, 0
	}
	name := cString(b[:16])
	for _, x := range ifs {
		if x.Name == name {
			ifc, found = x, true
		}
	}
	if !found {
		return nil, unix.ENODEV
	}
	u := out[16:]
	clear(u)
	le := binary.LittleEndian
	switch req {
	case unix.SIOCGIFFLAGS:
		le.PutUint16(u, uint16(ifFlags(ifc)))
	case unix.SIOCGIFMETRIC:
		le.PutUint32(u, 0)
	case unix.SIOCGIFMTU:
		le.PutUint32(u, ifc.MTU)
	case unix.SIOCGIFINDEX:
		le.PutUint32(u, uint32(ifc.Index))
	case unix.SIOCGIFTXQLEN:
		le.PutUint32(u, txQueueLen)
	case unix.SIOCGIFHWADDR:
		le.PutUint16(u, arpType(ifc))
		copy(u[2:8], macOf(ifc))
	case unix.SIOCGIFADDR, unix.SIOCGIFDSTADDR, unix.SIOCGIFBRDADDR, unix.SIOCGIFNETMASK:
		p, ok := firstV4(ifc)
		if !ok {
			return nil, unix.EADDRNOTAVAIL
		}
		var a netip.Addr
		switch req {
		case unix.SIOCGIFADDR, unix.SIOCGIFDSTADDR:
			a = p.Addr()
		case unix.SIOCGIFBRDADDR:
			if ifc.Loopback {
				a = netip.IPv4Unspecified()
			} else {
				a = broadcast(p)
			}
		case unix.SIOCGIFNETMASK:
			m := make([]byte, 4)
			binary.BigEndian.PutUint32(m, ^uint32(0)<<(32-p.Bits()))
			if p.Bits() == 0 {
				clear(m)
			}
			a = netip.AddrFrom4([4]byte(m))
		}
		putSockaddrIn(u, a)
	default:
		return nil, unix.ENOTTY
	}
	return out, 0
}

func firstV4(ifc netstack.Interface) (netip.Prefix, bool) {
	for _, p := range ifc.Addrs {
		if p.Addr().Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func putSockaddrIn(b []byte, a netip.Addr) {
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	v := a.As4()
	copy(b[4:8], v[:])
}

// ifconf answers SIOCGIFCONF: one struct ifreq per IPv4 address; with a
// NULL buffer, only the length they need.
func ifconf(pid int, p uint64, ifs []netstack.Interface) unix.Errno {
	b, e := readMem(pid, p, sizeofIfconf)
	if e != 0 {
		return e
	}
	room := int32(binary.LittleEndian.Uint32(b))
	buf := binary.LittleEndian.Uint64(b[8:])
	var all []byte
	for _, ifc := range ifs {
		for _, a := range ifc.Addrs {
			if !a.Addr().Is4() {
				continue
			}
			r := make([]byte, sizeofIfreq)
			copy(r[:15], ifc.Name)
			putSockaddrIn(r[16:], a.Addr())
			all = append(all, r...)
		}
	}
	n := len(all)
	if buf != 0 {
		if room < 0 {
			room = 0
		}
		n = min(n, int(room)/sizeofIfreq*sizeofIfreq)
		if e := writeMem(pid, buf, all[:n]); e != 0 {
			return e
		}
	}
	return writeU32(pid, p, uint32(n))
}
