package supervisor

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Trapped calls on host sockets: the ones fall-through made, and any other
// AF_INET/AF_INET6 socket the program holds that is not ours. The filter
// traps by system call, not by fd, so these still arrive here; each that can
// name a destination is checked against the fall-through policy and, when
// allowed, done by the supervisor on its own copy of the socket with the
// address it checked. Calls that cannot reach anywhere new run natively.

// hostCall handles c when its fd is a host socket and fall-through is on;
// it reports whether it did (and then answered, or will answer, c).
func (s *Supervisor) hostCall(c *call) bool {
	switch c.nr {
	case unix.SYS_CONNECT, unix.SYS_BIND, unix.SYS_LISTEN,
		unix.SYS_SENDTO, unix.SYS_SENDMSG, unix.SYS_SENDMMSG:
	default:
		return false
	}
	ino, isSock, e := fdInode(c.pid, c.args[0])
	if e != 0 || !isSock {
		return false
	}
	s.mu.Lock()
	_, ours := s.socks[ino]
	s.mu.Unlock()
	if ours {
		return false
	}
	fd, err := takeFD(c.pid, int(c.args[0]))
	if err != nil && !fastFDs() {
		var held bool
		if fd, held = s.heldHost(ino); !held {
			if notInet(ino) {
				return false // AF_UNIX, netlink: nothing to check
			}
			err = errNoCopy
		} else {
			err = nil
		}
	}
	if err != nil {
		c.fail(unix.EBADF) // never CONTINUE what we could not check
		return true
	}
	fam, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		unix.Close(fd)
		return false
	}
	typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	h := hostSock{fd: fd, fam: fam, typ: typ}
	s.markHostSockets() // one the program had from elsewhere
	switch c.nr {
	case unix.SYS_CONNECT:
		s.hostConnect(c, h)
	case unix.SYS_BIND:
		s.hostBind(c, h)
	case unix.SYS_LISTEN:
		// A host listener would take connections from anywhere.
		unix.Close(fd)
		if typ == unix.SOCK_STREAM {
			c.fail(unix.EINVAL)
		} else {
			c.fail(unix.EOPNOTSUPP)
		}
	case unix.SYS_SENDTO:
		s.hostSendto(c, h)
	case unix.SYS_SENDMSG:
		s.hostSendmsg(c, h, false)
	case unix.SYS_SENDMMSG:
		s.hostSendmsg(c, h, true)
	}
	return true
}

// hostSock is the supervisor's copy of a program's host socket.
type hostSock struct {
	fd       int
	fam, typ int
}

// checkedAddr reads the sockaddr (ptr, alen) of a call on h and decides.
// It returns the bytes to give the kernel (nil: no address), or the errno
// to answer. forSend: AF_UNSPEC on an IPv4 datagram send still carries an
// address the kernel uses, so it is checked as AF_INET.
func (s *Supervisor) checkedAddr(c *call, h hostSock, ptr uint64, alen int, forSend bool) ([]byte, unix.Errno) {
	if alen < 0 || alen > sizeofSockaddrStorage {
		return nil, unix.EINVAL
	}
	b, e := readMem(c.pid, ptr, alen)
	if e != 0 {
		return nil, e
	}
	if len(b) >= 2 && binary.LittleEndian.Uint16(b) == unix.AF_UNSPEC {
		if !forSend || h.fam == unix.AF_INET6 {
			return b, 0 // disconnect, or (IPv6 send) no address
		}
		b = append([]byte(nil), b...)
		binary.LittleEndian.PutUint16(b, unix.AF_INET)
	}
	a, _, e := decodeAddr(b, h.fam)
	if e != 0 {
		return nil, e
	}
	if !s.fallsThrough(a.Addr, h.fam) {
		return nil, unix.ENETUNREACH
	}
	return b, 0
}

func (s *Supervisor) hostConnect(c *call, h hostSock) {
	sa, e := s.checkedAddr(c, h, c.args[1], int(int32(c.args[2])), false)
	if e == 0 && !c.valid() {
		unix.Close(h.fd)
		return
	}
	if e != 0 {
		unix.Close(h.fd)
		c.fail(e)
		return
	}
	s.connectHost(c, h.fd, sa)
}

// connectHost connects fd (the supervisor's copy) to sa for c and answers
// with the kernel's result; a blocking connect waits in a goroutine, as the
// program's own call would have. It closes fd.
func (s *Supervisor) connectHost(c *call, fd int, sa []byte) {
	fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if fl&unix.O_NONBLOCK != 0 {
		e := rawSockaddrCall(unix.SYS_CONNECT, fd, sa)
		unix.Close(fd)
		c.respond(0, e, 0)
		return
	}
	go func() {
		e := rawSockaddrCall(unix.SYS_CONNECT, fd, sa)
		unix.Close(fd)
		c.respond(0, e, 0)
	}()
}

func (s *Supervisor) hostBind(c *call, h hostSock) {
	defer unix.Close(h.fd)
	alen := int(int32(c.args[2]))
	if alen < 0 || alen > sizeofSockaddrStorage {
		c.fail(unix.EINVAL)
		return
	}
	b, e := readMem(c.pid, c.args[1], alen)
	if e != 0 {
		c.fail(e)
		return
	}
	a, unspec, e := decodeAddr(b, h.fam)
	if unspec {
		e = unix.EAFNOSUPPORT
	}
	if e != 0 {
		c.fail(e)
		return
	}
	if a.Addr.Len() != 0 && !s.fallsThrough(a.Addr, h.fam) {
		c.fail(unix.EADDRNOTAVAIL)
		return
	}
	if a.Port != 0 && int(a.Port) < unprivPortStart() && !hasCap(c.pid, unix.CAP_NET_BIND_SERVICE) {
		c.fail(unix.EACCES) // the supervisor may be root; the program decides
		return
	}
	if !c.valid() {
		return
	}
	c.respond(0, rawSockaddrCall(unix.SYS_BIND, h.fd, b), 0)
}

// hostSendto: sendto with an address on a host socket.
func (s *Supervisor) hostSendto(c *call, h hostSock) {
	flags := int(c.args[3])
	if h.typ == unix.SOCK_STREAM {
		unix.Close(h.fd)
		// TCP ignores the address (flags are a register: no race), except
		// for a Fast Open connect, which we do not do.
		if flags&unix.MSG_FASTOPEN != 0 {
			c.fail(unix.EOPNOTSUPP)
			return
		}
		c.cont()
		return
	}
	if !accessOK(c.args[1], c.args[2]) {
		unix.Close(h.fd)
		c.fail(unix.EFAULT)
		return
	}
	sa, e := s.checkedAddr(c, h, c.args[4], int(int32(c.args[5])), true)
	if e != 0 {
		unix.Close(h.fd)
		c.fail(e)
		return
	}
	payload, e := readMem(c.pid, c.args[1], int(min(c.args[2], maxDatagram+1)))
	if e != 0 {
		unix.Close(h.fd)
		c.fail(e)
		return
	}
	if !c.valid() {
		unix.Close(h.fd)
		return
	}
	block := flags&unix.MSG_DONTWAIT == 0 && !isNonblock(h.fd)
	c.retry(h.fd, unix.POLLOUT, unix.SO_SNDTIMEO, func() bool {
		n, e := rawSendmsg(h.fd, sa, [][]byte{payload}, nil, flags|unix.MSG_DONTWAIT)
		if e == unix.EAGAIN && block {
			return false
		}
		c.respond(int64(n), e, 0)
		return true
	})
}

// hostMsg is one struct msghdr of a send on a host socket, read and checked.
type hostMsg struct {
	name, control, payload []byte
}

func (s *Supervisor) readHostMsg(c *call, h hostSock, p uint64) (hostMsg, unix.Errno) {
	m, e := readMsghdr(c.pid, p)
	if e != 0 {
		return hostMsg{}, e
	}
	iov, e := readIovecs(c.pid, m.iov, m.iovlen)
	if e != 0 {
		return hostMsg{}, e
	}
	var hm hostMsg
	if m.controllen > 0 {
		if m.controllen > 1<<16 {
			return hostMsg{}, unix.ENOBUFS
		}
		if hm.control, e = readMem(c.pid, m.control, int(m.controllen)); e != 0 {
			return hostMsg{}, e
		}
		if !harmlessCmsgs(hm.control) {
			return hostMsg{}, unix.EINVAL
		}
	}
	if m.name != 0 && m.namelen != 0 {
		if hm.name, e = s.checkedAddr(c, h, m.name, int(min(m.namelen, sizeofSockaddrStorage)), true); e != 0 {
			return hostMsg{}, e
		}
	}
	hm.payload, e = gather(c.pid, iov, maxDatagram+1)
	return hm, e
}

// hostSendmsg: sendmsg (or sendmmsg) on a host socket. Even without an
// address it is done here: msg_name lives in the program's memory and could
// be filled in after a check.
func (s *Supervisor) hostSendmsg(c *call, h hostSock, batch bool) {
	flagArg := 2
	if batch {
		flagArg = 3
	}
	flags := int(c.args[flagArg])
	if h.typ == unix.SOCK_STREAM {
		unix.Close(h.fd)
		if flags&unix.MSG_FASTOPEN != 0 {
			c.fail(unix.EOPNOTSUPP)
			return
		}
		c.cont() // TCP ignores msg_name (flags are a register: no race)
		return
	}
	n := uint64(1)
	if batch {
		n = min(c.args[2], uioMaxIov)
	}
	msgs := make([]hostMsg, 0, n)
	for i := uint64(0); i < n; i++ {
		p := c.args[1]
		if batch {
			p += i * sizeofMmsghdr
		}
		m, e := s.readHostMsg(c, h, p)
		if e != 0 {
			if len(msgs) == 0 {
				unix.Close(h.fd)
				c.fail(e)
				return
			}
			break
		}
		msgs = append(msgs, m)
	}
	if !c.valid() {
		unix.Close(h.fd)
		return
	}
	block := flags&unix.MSG_DONTWAIT == 0 && !isNonblock(h.fd)
	sent := 0
	c.retry(h.fd, unix.POLLOUT, unix.SO_SNDTIMEO, func() bool {
		for sent < len(msgs) {
			m := msgs[sent]
			k, e := rawSendmsg(h.fd, m.name, [][]byte{m.payload}, m.control, flags|unix.MSG_DONTWAIT)
			if e == unix.EAGAIN && block && sent == 0 {
				return false
			}
			if e != 0 {
				if sent == 0 {
					c.fail(e)
					return true
				}
				break
			}
			if batch {
				writeU32(c.pid, c.args[1]+uint64(sent)*sizeofMmsghdr+56, uint32(k))
			} else {
				c.ret(int64(k))
				return true
			}
			sent++
		}
		c.ret(int64(sent))
		return true
	})
}

func isNonblock(fd int) bool {
	fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return fl&unix.O_NONBLOCK != 0
}

// rawSockaddrCall runs connect or bind with the sockaddr bytes as given.
func rawSockaddrCall(nr uintptr, fd int, sa []byte) unix.Errno {
	var p unsafe.Pointer
	if len(sa) > 0 {
		p = unsafe.Pointer(&sa[0])
	}
	_, _, e := unix.Syscall(nr, uintptr(fd), uintptr(p), uintptr(len(sa)))
	return e
}

// rawSendmsg is sendmsg(2) with the sockaddr bytes as given.
func rawSendmsg(fd int, name []byte, bufs [][]byte, control []byte, flags int) (int, unix.Errno) {
	var m unix.Msghdr
	if len(name) > 0 {
		m.Name = &name[0]
		m.Namelen = uint32(len(name))
	}
	iov := make([]unix.Iovec, 0, len(bufs))
	for _, b := range bufs {
		v := unix.Iovec{Len: uint64(len(b))}
		if len(b) > 0 {
			v.Base = &b[0]
		}
		iov = append(iov, v)
	}
	if len(iov) > 0 {
		m.Iov = &iov[0]
		m.Iovlen = uint64(len(iov))
	}
	if len(control) > 0 {
		m.Control = &control[0]
		m.Controllen = uint64(len(control))
	}
	r, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&m)), uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// harmlessCmsgs reports whether every control message of a send is one that
// only shapes the packet (TTL, TOS, source interface, GSO size). Others
// could route it elsewhere (IP_RETOPTS source routing) or be checked
// against the supervisor's privileges rather than the program's (SO_MARK).
func harmlessCmsgs(b []byte) bool {
	msgs, err := unix.ParseSocketControlMessage(b)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		ok := false
		switch m.Header.Level {
		case unix.IPPROTO_IP:
			ok = m.Header.Type == unix.IP_TTL || m.Header.Type == unix.IP_TOS || m.Header.Type == unix.IP_PKTINFO
		case unix.IPPROTO_IPV6:
			ok = m.Header.Type == unix.IPV6_HOPLIMIT || m.Header.Type == unix.IPV6_TCLASS || m.Header.Type == unix.IPV6_PKTINFO
		case unix.IPPROTO_UDP:
			ok = m.Header.Type == unix.UDP_SEGMENT
		}
		if !ok {
			return false
		}
	}
	return true
}
