package supervisor

import (
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// An emulated NETLINK_ROUTE socket: the program holds one end of an AF_UNIX
// seqpacket pair (message boundaries kept), the supervisor the other. What
// the program sends, trapped (sendto, sendmsg) or not (send, write), is
// answered from the virtual stack (rtnetlink.go) into the program's receive
// queue. Trapped receives report the kernel as sender (nl_pid 0), which
// glibc checks.

const solNetlink = 270 // SOL_NETLINK

type nlSock struct {
	s      *Supervisor
	ino    uint64
	typ    int
	peer   *os.File
	mu     sync.Mutex
	portID uint32
	held   int // the program's end, without pidfd_getfd (-1: none)
	closed bool
}

var nlPortIDs sync.Map // port ids in use, as the kernel keeps them unique

func (s *Supervisor) nlSocket(c *call, typ, flags int) {
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		c.fail(unix.EINVAL)
		return
	}
	if typ != unix.SOCK_RAW && typ != unix.SOCK_DGRAM {
		c.fail(unix.ESOCKTNOSUPPORT)
		return
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		c.fail(err.(unix.Errno))
		return
	}
	prog, mine := pair[0], pair[1]
	defer unix.Close(prog)
	if flags&unix.SOCK_NONBLOCK != 0 {
		unix.SetNonblock(prog, true)
	}
	var st unix.Stat_t
	unix.Fstat(prog, &st)
	unix.SetNonblock(mine, true)
	nl := &nlSock{s: s, ino: st.Ino, typ: typ, peer: os.NewFile(uintptr(mine), "ztnc-netlink"), held: -1}
	s.mu.Lock()
	s.nls[nl.ino] = nl
	s.mu.Unlock()
	if _, err := c.inject(prog, flags&unix.SOCK_CLOEXEC != 0); err != nil {
		nl.close()
		return
	}
	if !fastFDs() {
		held, err := unix.FcntlInt(uintptr(prog), unix.F_DUPFD_CLOEXEC, 0)
		if err == nil {
			// Under the lock: the reaper may close nl meanwhile.
			nl.mu.Lock()
			if nl.closed {
				unix.Close(held)
			} else {
				nl.held = held
			}
			nl.mu.Unlock()
		}
	}
	go nl.serveUntrapped()
}

// serveUntrapped answers what the program sends with send or write, and
// notices the program closing its end.
func (nl *nlSock) serveUntrapped() {
	buf := make([]byte, 64<<10)
	for {
		n, err := nl.peer.Read(buf)
		if err != nil || n == 0 {
			break
		}
		nl.request(buf[:n])
	}
	nl.close()
}

func (nl *nlSock) close() {
	nl.mu.Lock()
	if nl.closed {
		nl.mu.Unlock()
		return
	}
	nl.closed = true
	held := nl.held
	nl.held = -1
	nl.mu.Unlock()
	nl.s.mu.Lock()
	if nl.s.nls[nl.ino] == nl {
		delete(nl.s.nls, nl.ino)
	}
	nl.s.mu.Unlock()
	nl.peer.Close()
	if held >= 0 {
		unix.Close(held)
	}
	if nl.portID != 0 {
		nlPortIDs.Delete(nl.portID)
	}
}

// bindPort gives the socket a port id if it has none: the process's id
// first, as the kernel's autobind, then unique negative ones.
func (nl *nlSock) bindPort(pid int, want uint32) unix.Errno {
	nl.mu.Lock()
	defer nl.mu.Unlock()
	if nl.portID != 0 {
		if want != 0 && want != nl.portID {
			return unix.EINVAL
		}
		return 0
	}
	if want != 0 {
		if _, taken := nlPortIDs.LoadOrStore(want, true); taken {
			return unix.EADDRINUSE
		}
		nl.portID = want
		return 0
	}
	id := uint32(pid)
	if tgid, err := threadGroup(pid); err == nil {
		id = uint32(tgid)
	}
	for {
		if _, taken := nlPortIDs.LoadOrStore(id, true); !taken {
			nl.portID = id
			return 0
		}
		id = uint32(-4096 - int32(nlNextID.Add(1)))
	}
}

var nlNextID atomic.Int32

// request answers one request datagram into the program's receive queue.
func (nl *nlSock) request(b []byte) {
	nl.mu.Lock()
	port := nl.portID
	nl.mu.Unlock()
	v := &nlView{ifs: nl.s.st.Interfaces(), routes: nl.s.st.Routes()}
	for _, d := range v.nlReplies(b, port) {
		rc, err := nl.peer.SyscallConn()
		if err != nil {
			return
		}
		// A full queue loses the reply, as a netlink socket overruns (ENOBUFS).
		rc.Write(func(fd uintptr) bool {
			unix.SendmsgN(int(fd), d, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
			return true
		})
	}
}

func nlSockaddr(port uint32) []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint16(b, unix.AF_NETLINK)
	binary.LittleEndian.PutUint32(b[4:], port)
	return b
}

// nlAddr checks a sockaddr_nl from the program; it returns its nl_pid.
func nlAddr(b []byte) (uint32, unix.Errno) {
	if len(b) < 12 {
		return 0, unix.EINVAL
	}
	if binary.LittleEndian.Uint16(b) != unix.AF_NETLINK {
		return 0, unix.EINVAL
	}
	return binary.LittleEndian.Uint32(b[4:]), 0
}

// nlCall answers a trapped call on an emulated netlink socket.
func (s *Supervisor) nlCall(c *call, nl *nlSock) {
	switch c.nr {
	case unix.SYS_BIND:
		b, e := readMem(c.pid, c.args[1], int(min(uint32(c.args[2]), 128)))
		if e != 0 {
			c.fail(e)
			return
		}
		want, e := nlAddr(b)
		if e == 0 {
			e = nl.bindPort(c.pid, want)
		}
		if e != 0 {
			c.fail(e)
			return
		}
		c.ret(0)
	case unix.SYS_CONNECT:
		b, e := readMem(c.pid, c.args[1], int(min(uint32(c.args[2]), 128)))
		if e != 0 {
			c.fail(e)
			return
		}
		if _, e := nlAddr(b); e != 0 {
			c.fail(e)
			return
		}
		nl.bindPort(c.pid, 0)
		c.ret(0)
	case unix.SYS_GETSOCKNAME, unix.SYS_GETPEERNAME:
		port := uint32(0)
		if c.nr == unix.SYS_GETSOCKNAME {
			nl.mu.Lock()
			port = nl.portID
			nl.mu.Unlock()
		}
		if e := putName(c.pid, c.args[1], c.args[2], nlSockaddr(port)); e != 0 {
			c.fail(e)
			return
		}
		c.ret(0)
	case unix.SYS_SENDTO:
		nl.sendto(c)
	case unix.SYS_SENDMSG:
		nl.sendmsg(c)
	case unix.SYS_RECVFROM:
		nl.recv(c, false)
	case unix.SYS_RECVMSG:
		nl.recv(c, true)
	case unix.SYS_GETSOCKOPT:
		nl.getsockopt(c)
	case unix.SYS_SETSOCKOPT:
		switch int(int32(c.args[1])) {
		case solNetlink:
			c.ret(0) // NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, memberships: accepted
		case unix.SOL_SOCKET:
			c.cont() // buffer sizes and timeouts are the AF_UNIX socket's
		default:
			c.fail(unix.ENOPROTOOPT)
		}
	case unix.SYS_SHUTDOWN:
		c.cont()
	default: // listen, accept, sendmmsg, recvmmsg
		c.fail(unix.EOPNOTSUPP)
	}
}

func (nl *nlSock) getsockopt(c *call) {
	level, name := int32(c.args[1]), int32(c.args[2])
	var v int
	switch {
	case level == unix.SOL_SOCKET && name == unix.SO_TYPE:
		v = nl.typ
	case level == unix.SOL_SOCKET && name == unix.SO_DOMAIN:
		v = unix.AF_NETLINK
	case level == unix.SOL_SOCKET && name == unix.SO_PROTOCOL:
		v = unix.NETLINK_ROUTE
	case level == solNetlink:
		v = 0
	case level == unix.SOL_SOCKET:
		c.cont()
		return
	default:
		c.fail(unix.ENOPROTOOPT)
		return
	}
	l, e := readU32(c.pid, c.args[4])
	if e != 0 {
		c.fail(e)
		return
	}
	if int32(l) < 0 {
		c.fail(unix.EINVAL)
		return
	}
	n := min(int(l), 4)
	if e := writeMem(c.pid, c.args[3], intBytes(v)[:n]); e != 0 {
		c.fail(e)
		return
	}
	if e := writeU32(c.pid, c.args[4], uint32(n)); e != 0 {
		c.fail(e)
		return
	}
	c.ret(0)
}

// checkDest refuses destinations other than the kernel (nl_pid 0), as an
// unprivileged sender is refused.
func (nl *nlSock) checkDest(pid int, ptr uint64, alen uint32) unix.Errno {
	if ptr == 0 || alen == 0 {
		return 0
	}
	b, e := readMem(pid, ptr, int(min(alen, 128)))
	if e != 0 {
		return e
	}
	dst, e := nlAddr(b)
	if e != 0 {
		return e
	}
	if dst != 0 {
		return unix.EPERM
	}
	return 0
}

const nlMaxSend = 64 << 10

func (nl *nlSock) sendto(c *call) {
	if e := nl.checkDest(c.pid, c.args[4], uint32(c.args[5])); e != 0 {
		c.fail(e)
		return
	}
	b, e := readMem(c.pid, c.args[1], int(min(c.args[2], nlMaxSend)))
	if e != 0 {
		c.fail(e)
		return
	}
	if !c.valid() {
		return
	}
	nl.bindPort(c.pid, 0)
	nl.request(b)
	c.ret(int64(c.args[2]))
}

func (nl *nlSock) sendmsg(c *call) {
	m, e := readMsghdr(c.pid, c.args[1])
	if e != 0 {
		c.fail(e)
		return
	}
	if e := nl.checkDest(c.pid, m.name, m.namelen); e != 0 {
		c.fail(e)
		return
	}
	iov, e := readIovecs(c.pid, m.iov, m.iovlen)
	if e != 0 {
		c.fail(e)
		return
	}
	b, e := gather(c.pid, iov, nlMaxSend)
	if e != 0 {
		c.fail(e)
		return
	}
	if !c.valid() {
		return
	}
	nl.bindPort(c.pid, 0)
	nl.request(b)
	var total uint64
	for _, v := range iov {
		total += v.len
	}
	c.ret(int64(total))
}

// recv: recvfrom with an address, or recvmsg. The datagram comes off the
// program's own end; the sender reported is the kernel.
func (nl *nlSock) recv(c *call, msg bool) {
	flags := int(c.args[2])
	var req recvReq
	var size int
	if msg {
		var e unix.Errno
		if req, e = readRecvReq(c.pid, c.args[1]); e != 0 {
			c.fail(e)
			return
		}
		size = iovLen(req.iov)
	} else {
		flags = int(c.args[3])
		size = int(min(c.args[2], maxCopy))
		if c.args[5] != 0 {
			if l, e := readU32(c.pid, c.args[5]); e != 0 || int32(l) < 0 {
				if e == 0 {
					e = unix.EINVAL
				}
				c.fail(e)
				return
			}
		}
	}
	dup, err := nl.progFD(c.pid, int(c.args[0]))
	if err != nil {
		c.fail(unix.EBADF)
		return
	}
	fl, _ := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0)
	block := fl&unix.O_NONBLOCK == 0 && flags&unix.MSG_DONTWAIT == 0
	c.retry(dup, unix.POLLIN, unix.SO_RCVTIMEO, func() bool {
		buf := make([]byte, 64<<10)
		n, _, _, _, err := unix.Recvmsg(dup, buf, nil, flags&unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == unix.EAGAIN && block {
			return false
		}
		if err != nil {
			c.fail(err.(unix.Errno))
			return true
		}
		data := buf[:min(n, size)]
		sa := nlSockaddr(0) // from the kernel
		var got int
		if msg {
			var e unix.Errno
			if got, e = scatter(c.pid, req.iov, data); e != 0 {
				c.fail(e)
				return true
			}
			mflags := uint32(0)
			if got < n {
				mflags = unix.MSG_TRUNC
			}
			if req.m.name != 0 {
				if e := writeMem(c.pid, req.m.name, sa[:min(int(min(req.m.namelen, 12)), 12)]); e != 0 {
					c.fail(e)
					return true
				}
				if e := writeU32(c.pid, req.p+8, 12); e != 0 {
					c.fail(e)
					return true
				}
			}
			var tail [12]byte
			binary.LittleEndian.PutUint32(tail[8:], mflags)
			if e := writeMem(c.pid, req.p+40, tail[:]); e != 0 {
				c.fail(e)
				return true
			}
		} else {
			if e := writeMem(c.pid, c.args[1], data); e != 0 {
				c.fail(e)
				return true
			}
			got = len(data)
			if c.args[4] != 0 {
				if e := putAddr(c.pid, c.args[4], c.args[5], sa); e != 0 {
					c.fail(e)
					return true
				}
			}
		}
		if flags&unix.MSG_TRUNC != 0 {
			got = n
		}
		c.ret(int64(got))
		return true
	})
}

func (nl *nlSock) progFD(pid, fd int) (int, error) {
	if fastFDs() {
		return takeFD(pid, fd)
	}
	nl.mu.Lock()
	defer nl.mu.Unlock()
	if nl.held < 0 {
		return -1, unix.EBADF
	}
	return unix.FcntlInt(uintptr(nl.held), unix.F_DUPFD_CLOEXEC, 0)
}
