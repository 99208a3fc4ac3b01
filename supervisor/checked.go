package supervisor

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The fd-number race. The supervisor lets the kernel run (CONTINUE) calls it
// judged need no check: sendmsg on an AF_UNIX or TCP socket, connect on an
// AF_UNIX socket, a call on an fd that is not a socket. The kernel looks the
// fd number up again when it runs the call, so another thread can dup2() a
// host socket onto that number in between: a host UDP socket then sends
// anywhere, a host TCP socket connects or listens anywhere. Once a program
// holds any host socket (a connected TCP one too: connect(AF_UNSPEC) run that
// way would disconnect it, and it could then connect again), none of these
// calls is continued any more: the supervisor does them itself, on its own
// copy of the file it checked and its own copy of the arguments.

// guardedNr are the trapped calls that could reach an address on a host
// socket. bind is not among them: it names no destination, and the
// program's own privileges still apply to a continued bind.
func guardedNr(nr int) bool {
	switch nr {
	case unix.SYS_CONNECT, unix.SYS_LISTEN, unix.SYS_SENDTO, unix.SYS_SENDMSG, unix.SYS_SENDMMSG:
		return true
	}
	return false
}

// routingOpt: socket options that send a socket's packets by another route
// (IPv4 source routing, IPv6 routing headers): on a host socket they would
// reach a first hop the policy never checked. The level and name are
// registers, so refusing them needs no look at the fd.
func routingOpt(level, name int32) bool {
	switch level {
	case unix.IPPROTO_IP:
		return name == unix.IP_OPTIONS
	case unix.IPPROTO_IPV6:
		// IPV6_2292PKTOPTIONS sets sticky ancillary data, a routing header among them
		return name == unix.IPV6_RTHDR || name == unix.IPV6_2292RTHDR || name == unix.IPV6_2292PKTOPTIONS
	}
	return false
}

// markHostSockets records that a program may hold a host socket. It stays
// set for good: the supervisor does not follow where copies of an fd go.
func (s *Supervisor) markHostSockets() { s.hostSockets.Store(true) }

// checkedCall does c itself instead of continuing it (see above).
func (s *Supervisor) checkedCall(c *call) {
	s.Stats.Checked.Add(1)
	fd, err := takeFD(c.pid, int(int32(c.args[0])))
	if err != nil || int64(int32(c.args[0])) < 0 {
		if fd >= 0 {
			unix.Close(fd)
		}
		c.fail(unix.EBADF)
		return
	}
	fam, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		unix.Close(fd)
		c.fail(unix.ENOTSOCK)
		return
	}
	typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	inet := fam == unix.AF_INET || fam == unix.AF_INET6
	h := hostSock{fd: fd, fam: fam, typ: typ}
	switch c.nr {
	case unix.SYS_LISTEN:
		if inet {
			// swapped in: a host listener would take connections from anywhere
			unix.Close(fd)
			if typ == unix.SOCK_STREAM {
				c.fail(unix.EINVAL)
			} else {
				c.fail(unix.EOPNOTSUPP)
			}
			return
		}
		cr, err := readCreds(c.pid)
		if err != nil {
			unix.Close(fd)
			c.fail(unix.ESRCH)
			return
		}
		// A listener hands its ids to those who connect (SO_PEERCRED).
		e := asProgram(cr, func() unix.Errno { return sysErrno(unix.Listen(fd, int(int32(c.args[1])))) })
		unix.Close(fd)
		c.respond(0, e, 0)
	case unix.SYS_CONNECT:
		if inet {
			s.hostConnect(c, h) // checked on the bytes it uses
			return
		}
		s.nativeConnect(c, h)
	default:
		if inet && typ != unix.SOCK_STREAM {
			switch c.nr {
			case unix.SYS_SENDTO:
				s.hostSendto(c, h)
			case unix.SYS_SENDMSG:
				s.hostSendmsg(c, h, false)
			default:
				s.hostSendmsg(c, h, true)
			}
			return
		}
		s.nativeSend(c, h)
	}
}

func sysErrno(err error) unix.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EINVAL
}

// unixName turns an AF_UNIX sockaddr of the program into one the supervisor
// can use: a path is looked up from the program's root or working directory
// and named through /proc/self/fd (which also lifts the 108-byte limit).
// It returns the sockaddr and an fd to close after the call (-1: none).
func unixName(pid int, b []byte) ([]byte, int, unix.Errno) {
	if len(b) <= 2 || binary.LittleEndian.Uint16(b) != unix.AF_UNIX || b[2] == 0 {
		return b, -1, 0 // unnamed, abstract, or not AF_UNIX: the kernel judges
	}
	path := string(b[2:])
	if i := strings.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	// Both kinds are looked up inside the program's root (a chroot's "..",
	// or an absolute symlink, must not lead out of it): a relative path as
	// its working directory seen from that root.
	root := fmt.Sprintf("/proc/%d/root", pid)
	if !strings.HasPrefix(path, "/") {
		cwd, err1 := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		top, err2 := os.Readlink(root)
		if err1 != nil || err2 != nil {
			return nil, -1, unix.ENOENT
		}
		if top != "/" {
			rel, ok := strings.CutPrefix(cwd, top)
			if !ok || rel != "" && rel[0] != '/' {
				return nil, -1, unix.ENOENT // a working directory outside its root
			}
			cwd = rel
		}
		path = cwd + "/" + path
	}
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, -1, unix.ENOENT
	}
	defer unix.Close(dir)
	cr, err := readCreds(pid)
	if err != nil {
		return nil, -1, unix.ESRCH
	}
	// With the program's ids, so its search permission on the directories
	// is what the kernel checks.
	pfd := -1
	e := asProgram(cr, func() unix.Errno {
		fd, err := unix.Openat2(dir, "."+path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
		pfd = fd
		return sysErrno(err)
	})
	if e != 0 {
		return nil, -1, e
	}
	if !mayWrite(pid, pfd) {
		unix.Close(pfd)
		return nil, -1, unix.EACCES
	}
	name := fmt.Sprintf("/proc/self/fd/%d", pfd)
	sa := make([]byte, 2+len(name)+1)
	binary.LittleEndian.PutUint16(sa, unix.AF_UNIX)
	copy(sa[2:], name)
	return sa, pfd, 0
}

// mayWrite reports whether thread pid may write the file fd names, as the
// kernel checks a socket path before connecting or sending to it: the
// supervisor may be root while the program dropped its privileges. Mode
// bits only (no ACLs, no search permission on the directories).
func mayWrite(pid int, fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	if hasCap(pid, unix.CAP_DAC_OVERRIDE) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	var fsuid, fsgid = -1, -1
	groups := map[int]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch {
		case k == "Uid" && len(f) == 4:
			fsuid, _ = strconv.Atoi(f[3])
		case k == "Gid" && len(f) == 4:
			fsgid, _ = strconv.Atoi(f[3])
		case k == "Groups":
			for _, g := range f {
				n, _ := strconv.Atoi(g)
				groups[n] = true
			}
		}
	}
	switch {
	case fsuid == int(st.Uid):
		return st.Mode&0o200 != 0
	case fsgid == int(st.Gid) || groups[int(st.Gid)]:
		return st.Mode&0o020 != 0
	}
	return st.Mode&0o002 != 0
}

// nativeConnect: connect on a socket that is not a host one (AF_UNIX, the
// netlink families the kernel serves), done by the supervisor.
func (s *Supervisor) nativeConnect(c *call, h hostSock) {
	alen := int(int32(c.args[2]))
	if alen < 0 || alen > sizeofSockaddrStorage {
		unix.Close(h.fd)
		c.fail(unix.EINVAL)
		return
	}
	b, e := readMem(c.pid, c.args[1], alen)
	if e != 0 {
		unix.Close(h.fd)
		c.fail(e)
		return
	}
	closeAfter := -1
	if h.fam == unix.AF_UNIX {
		if b, closeAfter, e = unixName(c.pid, b); e != 0 {
			unix.Close(h.fd)
			c.fail(e)
			return
		}
	}
	cr, err := readCreds(c.pid)
	if err != nil {
		unix.Close(h.fd)
		if closeAfter >= 0 {
			unix.Close(closeAfter)
		}
		c.fail(unix.ESRCH)
		return
	}
	// Off the notification loop: a blocking connect waits for the
	// listener's backlog, and asProgram may hold a thread meanwhile.
	go func() {
		e := asProgram(cr, func() unix.Errno { return rawSockaddrCall(unix.SYS_CONNECT, h.fd, b) })
		unix.Close(h.fd)
		if closeAfter >= 0 {
			unix.Close(closeAfter)
		}
		c.respond(0, e, 0)
	}()
}

// nativeMsg is one message of a send done by the supervisor. A stream's
// bytes are read from the program as they go (chunk by chunk, as the
// kernel copies them); a datagram's at once.
type nativeMsg struct {
	name, control []byte
	iov           []iovec
	size          uint64
	payload       []byte // datagrams
}

// nativeSend: sendto, sendmsg or sendmmsg on a socket that is not a host
// datagram socket: AF_UNIX (the program end of a virtual TCP socket too),
// netlink, or a host TCP socket, where the address is dropped (TCP ignores
// it unless it connects: Fast Open, refused).
func (s *Supervisor) nativeSend(c *call, h hostSock) {
	var closeAfter []int
	cleanup := func() {
		for _, fd := range closeAfter {
			unix.Close(fd)
		}
	}
	flags, msgs, e := s.readNativeMsgs(c, h, &closeAfter)
	if e != 0 {
		cleanup()
		unix.Close(h.fd)
		c.fail(e)
		return
	}
	cr, err := readCreds(c.pid)
	if err != nil {
		cleanup()
		unix.Close(h.fd)
		c.fail(unix.ESRCH)
		return
	}
	stream := h.typ == unix.SOCK_STREAM
	block := flags&unix.MSG_DONTWAIT == 0 && !isNonblock(h.fd)
	done, off := 0, uint64(0) // messages sent; bytes of the current one (streams)
	finish := func(val int64, e unix.Errno) bool {
		if e == unix.EPIPE && stream && flags&unix.MSG_NOSIGNAL == 0 {
			c.sigpipe() // as a stream socket's send does
		}
		c.respond(val, e, 0)
		return true
	}
	try := func() bool {
		for done < len(msgs) {
			m := msgs[done]
			data, control := m.payload, m.control
			if stream {
				var e unix.Errno
				if data, e = gather(c.pid, skipIov(m.iov, off), streamChunk); e != 0 {
					if done == 0 && off == 0 {
						return finish(0, e)
					}
					break
				}
				if off > 0 {
					control = nil // went with the first bytes
				}
			}
			var k int
			e := asProgram(cr, func() (e unix.Errno) {
				k, e = rawSendmsg(h.fd, m.name, [][]byte{data}, control, flags|unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
				return e
			})
			if e == unix.EAGAIN && block && done == 0 {
				return false
			}
			if e != 0 {
				if done == 0 && off == 0 {
					return finish(0, e)
				}
				break
			}
			off += uint64(k)
			if stream && off < m.size {
				if block && done == 0 {
					continue
				}
				break
			}
			if c.nr != unix.SYS_SENDMMSG {
				return finish(int64(off), 0)
			}
			writeU32(c.pid, c.args[1]+uint64(done)*sizeofMmsghdr+56, uint32(off))
			done, off = done+1, 0
		}
		if c.nr != unix.SYS_SENDMMSG {
			return finish(int64(off), 0)
		}
		return finish(int64(done), 0)
	}
	timedOut := func() {
		if off > 0 && c.nr != unix.SYS_SENDMMSG {
			c.ret(int64(off)) // SO_SNDTIMEO: what went, as the kernel
			return
		}
		if done > 0 {
			c.ret(int64(done))
			return
		}
		c.fail(unix.EAGAIN)
	}
	retryThen(c, h.fd, unix.POLLOUT, unix.SO_SNDTIMEO, try, cleanup, timedOut)
}

// streamChunk is how much of a stream send is read from the program at once.
const streamChunk = 256 << 10

// skipIov returns the iovecs of v past its first off bytes.
func skipIov(v []iovec, off uint64) []iovec {
	for len(v) > 0 && off >= v[0].len {
		off -= v[0].len
		v = v[1:]
	}
	if len(v) == 0 || off == 0 {
		return v
	}
	out := append([]iovec{{v[0].base + off, v[0].len - off}}, v[1:]...)
	return out
}

// payloadOf fills m's bytes from iov: all of them for a datagram.
func payloadOf(c *call, h hostSock, m *nativeMsg, iov []iovec) unix.Errno {
	m.iov = iov
	for _, v := range iov {
		m.size += v.len
	}
	if h.typ == unix.SOCK_STREAM {
		return 0
	}
	if m.size > maxCopy {
		return unix.EMSGSIZE
	}
	var e unix.Errno
	m.payload, e = gather(c.pid, iov, maxCopy)
	return e
}

// retryThen is call.retry, running cleanup when it is over and timedOut
// when the socket's timeout passed.
func retryThen(c *call, fd int, events int16, timeoOpt int, try func() bool, cleanup, timedOut func()) {
	if try() {
		cleanup()
		unix.Close(fd)
		return
	}
	var deadline time.Time
	if tv, err := unix.GetsockoptTimeval(fd, unix.SOL_SOCKET, timeoOpt); err == nil && (tv.Sec != 0 || tv.Usec != 0) {
		deadline = time.Now().Add(time.Duration(tv.Nano()))
	}
	go func() {
		defer unix.Close(fd)
		defer cleanup()
		for c.waitFDUntil(fd, events, deadline) {
			if !c.valid() || try() {
				return
			}
		}
		if !deadline.IsZero() && time.Now().After(deadline) && c.valid() {
			timedOut()
		}
	}()
}

// readNativeMsgs copies the messages of a send c on h; fds it opens for
// them are added to closeAfter.
func (s *Supervisor) readNativeMsgs(c *call, h hostSock, closeAfter *[]int) (int, []nativeMsg, unix.Errno) {
	inet := h.fam == unix.AF_INET || h.fam == unix.AF_INET6
	if c.nr == unix.SYS_SENDTO {
		flags := int(c.args[3])
		if inet && flags&unix.MSG_FASTOPEN != 0 {
			return 0, nil, unix.EOPNOTSUPP
		}
		var m nativeMsg
		if !accessOK(c.args[1], c.args[2]) {
			return 0, nil, unix.EFAULT
		}
		if e := payloadOf(c, h, &m, []iovec{{c.args[1], c.args[2]}}); e != 0 {
			return 0, nil, e
		}
		var e unix.Errno
		if c.args[4] != 0 && !inet {
			alen := int(int32(c.args[5]))
			if alen < 0 || alen > sizeofSockaddrStorage {
				return 0, nil, unix.EINVAL
			}
			if m.name, e = readMem(c.pid, c.args[4], alen); e != 0 {
				return 0, nil, e
			}
			if m.name, e = s.nativeName(c, h, m.name, closeAfter); e != 0 {
				return 0, nil, e
			}
		}
		return flags, []nativeMsg{m}, 0
	}
	batch := c.nr == unix.SYS_SENDMMSG
	n, flags := uint64(1), int(c.args[2])
	if batch {
		n, flags = min(c.args[2], uioMaxIov), int(c.args[3])
	}
	if inet && flags&unix.MSG_FASTOPEN != 0 {
		return 0, nil, unix.EOPNOTSUPP
	}
	var msgs []nativeMsg
	for i := uint64(0); i < n; i++ {
		p := c.args[1]
		if batch {
			p += i * sizeofMmsghdr
		}
		m, e := s.readNativeMsg(c, h, p, closeAfter)
		if e != 0 {
			if len(msgs) == 0 {
				return 0, nil, e
			}
			break
		}
		msgs = append(msgs, m)
	}
	return flags, msgs, 0
}

func (s *Supervisor) readNativeMsg(c *call, h hostSock, p uint64, closeAfter *[]int) (nativeMsg, unix.Errno) {
	inet := h.fam == unix.AF_INET || h.fam == unix.AF_INET6
	m, e := readMsghdr(c.pid, p)
	if e != 0 {
		return nativeMsg{}, e
	}
	iov, e := readIovecs(c.pid, m.iov, m.iovlen)
	if e != 0 {
		return nativeMsg{}, e
	}
	var nm nativeMsg
	if e := payloadOf(c, h, &nm, iov); e != 0 {
		return nativeMsg{}, e
	}
	if m.name != 0 && m.namelen != 0 && !inet {
		b, e := readMem(c.pid, m.name, int(min(m.namelen, sizeofSockaddrStorage)))
		if e != 0 {
			return nativeMsg{}, e
		}
		if nm.name, e = s.nativeName(c, h, b, closeAfter); e != 0 {
			return nativeMsg{}, e
		}
	}
	if m.controllen > 0 {
		if m.controllen > 1<<16 {
			return nativeMsg{}, unix.ENOBUFS
		}
		b, e := readMem(c.pid, m.control, int(m.controllen))
		if e != 0 {
			return nativeMsg{}, e
		}
		if nm.control, e = nativeControl(c.pid, h, b, closeAfter); e != 0 {
			return nativeMsg{}, e
		}
	}
	return nm, 0
}

func (s *Supervisor) nativeName(c *call, h hostSock, b []byte, closeAfter *[]int) ([]byte, unix.Errno) {
	if h.fam != unix.AF_UNIX {
		return b, 0
	}
	sa, fd, e := unixName(c.pid, b)
	if fd >= 0 {
		*closeAfter = append(*closeAfter, fd)
	}
	return sa, e
}

// nativeControl copies the control messages of a send for the supervisor
// to make: the fds of SCM_RIGHTS become the supervisor's copies. Explicit
// SCM_CREDENTIALS are refused: the kernel would check them against the
// supervisor, not the program. On a TCP socket only those a host socket
// accepts pass (hostcall.go).
func nativeControl(pid int, h hostSock, b []byte, closeAfter *[]int) ([]byte, unix.Errno) {
	if h.fam == unix.AF_INET || h.fam == unix.AF_INET6 {
		if !harmlessCmsgs(b) {
			return nil, unix.EINVAL
		}
		return b, 0
	}
	if h.fam != unix.AF_UNIX {
		return b, 0
	}
	msgs, err := unix.ParseSocketControlMessage(b)
	if err != nil {
		return nil, unix.EINVAL
	}
	var out []byte
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			return nil, unix.EPERM
		}
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			return nil, unix.EINVAL
		}
		mine := make([]int, 0, len(fds))
		for _, fd := range fds {
			f, err := takeFD(pid, fd)
			if err != nil || fd < 0 {
				return nil, unix.EBADF
			}
			*closeAfter = append(*closeAfter, f)
			mine = append(mine, f)
		}
		out = append(out, unix.UnixRights(mine...)...)
	}
	return out, 0
}
