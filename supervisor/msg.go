package supervisor

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// sendmsg/recvmsg and their batch forms. On TCP sockets they run natively
// (continued): the data path stays the kernel's. On UDP and ICMP sockets the
// supervisor reads the struct msghdr and does the work.

const (
	sizeofMsghdr = 56
	// the kernel clamps msg_namelen to sizeof(struct sockaddr_storage)
	sizeofSockaddrStorage = 128
	sizeofMmsghdr         = 64
	uioMaxIov             = 1024
)

type msghdr struct {
	name       uint64
	namelen    uint32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
}

func readMsghdr(pid int, p uint64) (msghdr, unix.Errno) {
	b, e := readMem(pid, p, sizeofMsghdr)
	if e != 0 {
		return msghdr{}, e
	}
	le := binary.LittleEndian
	m := msghdr{
		name: le.Uint64(b), namelen: le.Uint32(b[8:]), iov: le.Uint64(b[16:]),
		iovlen: le.Uint64(b[24:]), control: le.Uint64(b[32:]), controllen: le.Uint64(b[40:]),
	}
	if int32(m.namelen) < 0 {
		return m, unix.EINVAL
	}
	return m, 0
}

// sendOne performs one sendmsg described by the msghdr at p.
func (so *socket) sendOne(pid int, p uint64, flags int) (int, unix.Errno) {
	m, e := readMsghdr(pid, p)
	if e != 0 {
		return 0, e
	}
	iov, e := readIovecs(pid, m.iov, m.iovlen)
	if e != 0 {
		return 0, e
	}
	if m.controllen > 0 {
		// Ancillary data is not used, but a bad pointer is still a fault.
		if _, e := readMem(pid, m.control, int(min(m.controllen, 4096))); e != 0 {
			return 0, e
		}
	}
	dst, e := so.destination(pid, m.name, int(min(m.namelen, sizeofSockaddrStorage)))
	if e != 0 {
		return 0, e
	}
	var total uint64
	for _, v := range iov {
		total += min(v.len, 1<<32)
	}
	if e := so.dgramCheck(total, flags); e != 0 {
		return 0, e
	}
	payload, e := gather(pid, iov, maxDatagram)
	if e != 0 {
		return 0, e
	}
	return so.dgramSend(payload, dst)
}

// datagramCall finds the UDP or ICMP socket of a msg call; nil when the
// call is not ours to do (TCP sockets' sendmsg/recvmsg run natively), in
// which case it has been answered.
func (s *Supervisor) datagramCall(c *call) *socket {
	so := s.lookup(c, c.args[0])
	if so == nil {
		return nil
	}
	if so.stream() {
		c.cont()
		return nil
	}
	return so
}

// sysSendmsg: sendmsg(fd, msg, flags).
func (s *Supervisor) sysSendmsg(c *call) {
	so := s.datagramCall(c)
	if so == nil {
		return
	}
	if s.sendFallsThrough(c, so, c.args[1]) {
		s.fallThen(c, so, func(c *call, h hostSock) { s.hostSendmsg(c, h, false) })
		return
	}
	n, e := so.sendOne(c.pid, c.args[1], int(c.args[2]))
	if !c.valid() {
		return
	}
	if e != 0 {
		c.fail(e)
		return
	}
	c.ret(int64(n))
}

// sysSendmmsg: sendmmsg(fd, msgvec, vlen, flags) — glibc's resolver sends its
// A and AAAA queries this way.
func (s *Supervisor) sysSendmmsg(c *call) {
	so := s.datagramCall(c)
	if so == nil {
		return
	}
	vec, vlen := c.args[1], min(c.args[2], uioMaxIov)
	if vlen > 0 && s.sendFallsThrough(c, so, vec) {
		s.fallThen(c, so, func(c *call, h hostSock) { s.hostSendmsg(c, h, true) })
		return
	}
	sent := 0
	for i := uint64(0); i < vlen; i++ {
		p := vec + i*sizeofMmsghdr
		n, e := so.sendOne(c.pid, p, int(c.args[3]))
		if e == 0 {
			e = writeU32(c.pid, p+56, uint32(n))
		}
		if e != 0 {
			if sent == 0 {
				c.fail(e)
				return
			}
			break
		}
		sent++
	}
	c.ret(int64(sent))
}

// recvInto completes one recvmsg into the msghdr at p from datagram r.
func (so *socket) recvInto(pid int, p uint64, m msghdr, iov []iovec, r received) (int, unix.Errno) {
	var pieces [maxMemWrites]memWrite
	w, n := scatterPieces(pieces[:0], iov, r.data)
	flags := uint32(0)
	if n < r.full {
		flags |= unix.MSG_TRUNC
	}
	var namelen [4]byte
	if m.name != 0 {
		sa := encodeAddr(r.from, so.fam)
		binary.LittleEndian.PutUint32(namelen[:], uint32(len(sa)))
		w = append(w, memWrite{m.name, sa[:min(int(min(m.namelen, sizeofSockaddrStorage)), len(sa))]},
			memWrite{p + 8, namelen[:]})
	}
	cmsgs, trunc := so.controlMessages(r.stamps, r.cm, m.controllen)
	if trunc {
		flags |= unix.MSG_CTRUNC
	}
	w = append(w, memWrite{m.control, cmsgs})
	var tail [12]byte // msg_controllen, msg_flags
	binary.LittleEndian.PutUint64(tail[:], uint64(len(cmsgs)))
	binary.LittleEndian.PutUint32(tail[8:], flags)
	w = append(w, memWrite{p + 40, tail[:]})
	if e := writeMemV(pid, w); e != 0 {
		return 0, e
	}
	return n, 0
}

// controlMessages lays out the ancillary data the socket asked for (the
// receive timestamps in stamps, then IP_PKTINFO, IPV6_RECVPKTINFO,
// IP_RECVTTL, IPV6_RECVHOPLIMIT) in at most room bytes; DNS servers such as
// dnsmasq need the packet info, ping and NTP clients the timestamps.
func (so *socket) controlMessages(stamps []byte, cm tcpip.ReceivableControlMessages, room uint64) ([]byte, bool) {
	var out []byte
	trunc := false
	add := func(level, typ int32, data []byte) {
		h := cmsg(level, typ, data)
		if uint64(len(out)+len(h)) > room {
			trunc = true
			return
		}
		out = append(out, h...)
	}
	// The timestamps first, as Linux puts them.
	if uint64(len(stamps)) <= room {
		out = append(out, stamps...)
	} else if len(stamps) > 0 {
		trunc = true
	}
	opts := so.ep.SocketOptions()
	if opts.GetReceivePacketInfo() && cm.HasIPPacketInfo {
		d := make([]byte, 12) // struct in_pktinfo
		binary.LittleEndian.PutUint32(d, uint32(cm.PacketInfo.NIC))
		copy(d[4:8], ip4(cm.PacketInfo.LocalAddr))
		copy(d[8:12], ip4(cm.PacketInfo.DestinationAddr))
		add(unix.IPPROTO_IP, unix.IP_PKTINFO, d)
	}
	if opts.GetReceiveTTL() && cm.HasTTL {
		add(unix.IPPROTO_IP, unix.IP_TTL, intBytes(int(cm.TTL)))
	}
	if opts.GetIPv6ReceivePacketInfo() && cm.HasIPv6PacketInfo {
		d := make([]byte, 20) // struct in6_pktinfo
		a := cm.IPv6PacketInfo.Addr
		if a.Len() == 4 {
			d[10], d[11] = 0xff, 0xff
			copy(d[12:16], a.AsSlice())
		} else {
			copy(d[:16], a.AsSlice())
		}
		binary.LittleEndian.PutUint32(d[16:], uint32(cm.IPv6PacketInfo.NIC))
		add(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, d)
	}
	if opts.GetReceiveHopLimit() && cm.HasHopLimit {
		add(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, intBytes(int(cm.HopLimit)))
	}
	return out, trunc
}

// cmsg lays out one control message, padded to its space.
func cmsg(level, typ int32, data []byte) []byte {
	h := make([]byte, 16+(len(data)+7)&^7)
	binary.LittleEndian.PutUint64(h, uint64(16+len(data)))
	binary.LittleEndian.PutUint32(h[8:], uint32(level))
	binary.LittleEndian.PutUint32(h[12:], uint32(typ))
	copy(h[16:], data)
	return h
}

func ip4(a tcpip.Address) []byte {
	switch a.Len() {
	case 4:
		return a.AsSlice()
	case 16:
		return a.AsSlice()[12:]
	}
	return make([]byte, 4)
}

type recvReq struct {
	p   uint64
	m   msghdr
	iov []iovec
}

func readRecvReq(pid int, p uint64) (recvReq, unix.Errno) {
	m, e := readMsghdr(pid, p)
	if e != 0 {
		return recvReq{}, e
	}
	iov, e := readIovecs(pid, m.iov, m.iovlen)
	if e != 0 {
		return recvReq{}, e
	}
	return recvReq{p, m, iov}, 0
}

// sysRecvmsg: recvmsg(fd, msg, flags).
func (s *Supervisor) sysRecvmsg(c *call) {
	so := s.datagramCall(c)
	if so == nil {
		return
	}
	flags := int(c.args[2])
	req, e := readRecvReq(c.pid, c.args[1])
	if e != 0 {
		c.fail(e)
		return
	}
	if flags&unix.MSG_ERRQUEUE != 0 {
		c.fail(unix.EAGAIN)
		return
	}
	dup, block, ok := c.progEnd(so, flags)
	if !ok {
		return
	}
	c.retry(dup, unix.POLLIN, unix.SO_RCVTIMEO, func() bool {
		r, e := so.recvDatagram(dup, iovLen(req.iov), flags)
		if e == unix.EAGAIN && block {
			return false
		}
		if e != 0 {
			c.fail(e)
			return true
		}
		n, e := so.recvInto(c.pid, req.p, req.m, req.iov, r)
		if e != 0 {
			c.fail(e)
			return true
		}
		if flags&unix.MSG_TRUNC != 0 {
			n = r.full
		}
		c.ret(int64(n))
		return true
	})
}

// sysRecvmmsg: recvmmsg(fd, msgvec, vlen, flags, timeout). The first
// datagram is waited for as the socket's mode says; the rest are taken only
// if already queued (MSG_WAITFORONE behaviour).
func (s *Supervisor) sysRecvmmsg(c *call) {
	so := s.datagramCall(c)
	if so == nil {
		return
	}
	vec, vlen, flags := c.args[1], min(c.args[2], uioMaxIov), int(c.args[3])
	if ts := c.args[4]; ts != 0 {
		b, e := readMem(c.pid, ts, 16)
		if e != 0 {
			c.fail(e)
			return
		}
		sec, nsec := int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
		if sec < 0 || nsec < 0 || nsec >= 1e9 {
			c.fail(unix.EINVAL)
			return
		}
	}
	if vlen == 0 {
		c.ret(0)
		return
	}
	reqs := make([]recvReq, vlen)
	for i := range reqs {
		r, e := readRecvReq(c.pid, vec+uint64(i)*sizeofMmsghdr)
		if e != 0 {
			c.fail(e)
			return
		}
		reqs[i] = r
	}
	dup, block, ok := c.progEnd(so, flags)
	if !ok {
		return
	}
	c.retry(dup, unix.POLLIN, unix.SO_RCVTIMEO, func() bool {
		got := 0
		for i, req := range reqs {
			r, e := so.recvDatagram(dup, iovLen(req.iov), flags)
			if e == unix.EAGAIN && i == 0 && block {
				return false
			}
			if e == 0 {
				var n int
				n, e = so.recvInto(c.pid, req.p, req.m, req.iov, r)
				if e == 0 {
					e = writeU32(c.pid, req.p+56, uint32(n))
				}
			}
			if e != 0 {
				if got == 0 {
					c.fail(e)
					return true
				}
				break
			}
			got++
		}
		c.ret(int64(got))
		return true
	})
}
