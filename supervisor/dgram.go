package supervisor

import (
	"bytes"
	"hash/maphash"
	"io"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/waiter"
)

// UDP and ICMP datagrams reach the program through its AF_UNIX seqpacket end,
// so plain recv/read stay untrapped. recvfrom/recvmsg with an address are
// trapped and must report each datagram's true source: the supervisor logs
// (hash of payload, source) as it delivers, and the trapped receive matches
// the datagram it took against that log. Datagrams consumed untrapped simply
// leave stale entries, which matching skips.

const maxDatagram = 65535

var srcSeed = maphash.MakeSeed()

type srcEntry struct {
	sum  uint64
	addr tcpip.FullAddress
	cm   tcpip.ReceivableControlMessages // for IP_PKTINFO, IP_TTL, …
}

type sourceLog struct {
	mu sync.Mutex
	q  []srcEntry
}

const sourceLogMax = 4096

func (l *sourceLog) push(data []byte, a tcpip.FullAddress, cm tcpip.ReceivableControlMessages) {
	l.mu.Lock()
	if len(l.q) >= sourceLogMax {
		l.q = l.q[1:]
	}
	l.q = append(l.q, srcEntry{maphash.Bytes(srcSeed, data), a, cm})
	l.mu.Unlock()
}

// take finds the entry of data, dropping it (and older stale entries)
// unless peek.
func (l *sourceLog) take(data []byte, peek bool) (srcEntry, bool) {
	sum := maphash.Bytes(srcSeed, data)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.q {
		if e.sum == sum {
			if !peek {
				l.q = l.q[i+1:]
			}
			return e, true
		}
	}
	return srcEntry{}, false
}

func (so *socket) startDatagram() {
	so.mu.Lock()
	so.reading = true
	so.mu.Unlock()
	go so.dgramNetToProgram()
	go so.dgramProgramToNet()
}

// dgramNetToProgram delivers datagrams as the endpoint receives them. The
// stack announces each one from the goroutine that handed it over (for a
// sender on our own stack: its trapped sendto, loopback being inline), and
// that goroutine writes it to the program's end at once, as Linux delivers
// on loopback within sendto: waking this pump instead cost ~50 µs per
// datagram. The pump still delivers when the inline delivery could not run
// (another delivery under way) and notices the endpoint's end.
func (so *socket) dgramNetToProgram() {
	ch := make(chan struct{}, 1)
	wake := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	e := waiter.NewFunctionEntry(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr, func(m waiter.EventMask) {
		// Only a plain arrival is delivered inline: the stack announces a
		// close or an error with its own locks held.
		if m&(waiter.EventHUp|waiter.EventErr) == 0 && so.deliverMu.TryLock() {
			ok := so.deliverQueuedLocked()
			so.deliverMu.Unlock()
			if ok {
				return
			}
		}
		wake()
	})
	so.wq.EventRegister(&e)
	defer so.wq.EventUnregister(&e)
	for so.deliverQueued() {
		<-ch
	}
}

// deliverQueued moves the datagrams waiting in the endpoint to the program's
// end. The pump calls it as they arrive; a trapped receive calls it first,
// so that what a sender on our own stack has sent is there, as on Linux
// (loopback delivery within sendto). It reports false once the endpoint or
// the program's end is gone.
func (so *socket) deliverQueued() bool {
	so.deliverMu.Lock()
	defer so.deliverMu.Unlock()
	return so.deliverQueuedLocked()
}

func (so *socket) deliverQueuedLocked() bool {
	if so.deliverBuf == nil {
		so.deliverBuf = make([]byte, maxDatagram+1)
	}
	peer := so.peerConn()
	if peer == nil {
		return false
	}
	for {
		w := tcpip.SliceWriter(so.deliverBuf)
		res, terr := so.ep.Read(&w, tcpip.ReadOptions{NeedRemoteAddr: true})
		switch terr.(type) {
		case nil:
		case *tcpip.ErrWouldBlock:
			return true
		case *tcpip.ErrClosedForReceive, *tcpip.ErrInvalidEndpointState:
			return false
		default:
			continue // e.g. an ICMP error for a connected socket
		}
		data := so.deliverBuf[:res.Count]
		so.sources.push(data, res.RemoteAddr, res.ControlMessages)
		// A full receive queue drops the datagram, as UDP does.
		werr := peer.control(func(fd int) { rawSendNoWait(fd, data) })
		if werr != nil {
			return false
		}
	}
}

// dgramProgramToNet sends what the program wrote untrapped (send/write on a
// connected socket) to the connected peer.
func (so *socket) dgramProgramToNet() {
	buf := make([]byte, maxDatagram+1)
	peer := so.peerConn()
	for {
		n, err := peer.readSome(buf)
		if err == io.EOF || n == 0 && err == nil {
			// Through the peer's lock: unlocked, a close could free the
			// number for reuse.
			hung := true
			peer.control(func(fd int) { hung = fdHungUp(fd) })
			if hung {
				break
			}
			n, err = 0, nil // an empty datagram
		}
		if err != nil {
			break
		}
		so.mu.Lock()
		connected := so.remote != nil
		so.mu.Unlock()
		if connected {
			so.ep.Write(bytes.NewReader(buf[:n]), tcpip.WriteOptions{})
		}
	}
	so.mu.Lock()
	so.reading = false
	so.mu.Unlock()
	so.close()
}

// dgramCheck is what UDP and ping sockets refuse before looking at data.
func (so *socket) dgramCheck(n uint64, flags int) unix.Errno {
	limit := uint64(65507) // 65535 less the IPv4 and UDP headers
	if so.fam == unix.AF_INET6 {
		limit = 65527
	}
	if n > limit {
		return unix.EMSGSIZE
	}
	if flags&unix.MSG_OOB != 0 {
		return unix.EOPNOTSUPP
	}
	return 0
}

// dgramSend sends payload to 'to' (nil: the connected peer).
func (so *socket) dgramSend(payload []byte, to *tcpip.FullAddress) (int, unix.Errno) {
	to = so.routeVia(to)
	n, terr := so.ep.Write(bytes.NewReader(payload), tcpip.WriteOptions{To: to})
	if terr != nil {
		return 0, errnoOf(terr)
	}
	return int(n), 0
}

// destination decodes the address of a sendto/sendmsg; nil means none.
func (so *socket) destination(pid int, ptr uint64, alen int) (*tcpip.FullAddress, unix.Errno) {
	if ptr == 0 || alen == 0 {
		return nil, 0
	}
	if alen < 0 || alen > 128 {
		return nil, unix.EINVAL
	}
	b, e := readMem(pid, ptr, alen)
	if e != 0 {
		return nil, e
	}
	a, unspec, e := decodeAddr(b, so.fam)
	if unspec {
		return nil, 0
	}
	if e != 0 {
		return nil, e
	}
	return &a, 0
}

// sysSendto: sendto(fd, buf, len, flags, addr, addrlen) with an address.
func (s *Supervisor) sysSendto(c *call) {
	so := s.lookup(c, c.args[0])
	if so == nil {
		return
	}
	if so.stream() {
		s.streamSend(c, so, c.args[1], c.args[2], int(c.args[3]))
		return
	}
	// The kernel's order: the buffer's range, the address, then the
	// protocol's checks, then the copy.
	if !accessOK(c.args[1], c.args[2]) {
		c.fail(unix.EFAULT)
		return
	}
	to, e := so.destination(c.pid, c.args[4], int(int32(c.args[5])))
	if e != 0 {
		c.fail(e)
		return
	}
	if to != nil && s.mayFallThrough(so, *to) {
		s.fallThen(c, so, s.hostSendto)
		return
	}
	if e := so.dgramCheck(c.args[2], int(c.args[3])); e != 0 {
		c.fail(e)
		return
	}
	payload, e := readMem(c.pid, c.args[1], int(c.args[2]))
	if e != 0 {
		c.fail(e)
		return
	}
	if !c.valid() {
		return
	}
	n, e := so.dgramSend(payload, to)
	if e != 0 {
		c.fail(e)
		return
	}
	c.ret(int64(n))
}

// streamSend: sendto with an address on a TCP socket ignores the address,
// as Linux does; the bytes go through the program's own end.
func (s *Supervisor) streamSend(c *call, so *socket, buf, n uint64, flags int) {
	so.mu.Lock()
	connected := so.state == stConnected
	so.mu.Unlock()
	if !connected {
		if flags&unix.MSG_NOSIGNAL == 0 {
			c.sigpipe()
		}
		c.fail(unix.EPIPE)
		return
	}
	payload, e := readMem(c.pid, buf, int(min(n, maxCopy)))
	if e != 0 {
		c.fail(e)
		return
	}
	if !fastFDs() {
		// No copy of a connected socket without pidfd_getfd: the bytes go to
		// the connection directly (after what the pump already carries).
		go so.epWrite(payload, nil)
		c.ret(int64(len(payload)))
		return
	}
	dup, block, ok := c.progEnd(so, flags)
	if !ok {
		return
	}
	try := func() bool {
		m, err := unix.SendmsgN(dup, payload, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		if err == unix.EAGAIN && block {
			return false
		}
		if err != nil {
			c.fail(err.(unix.Errno))
		} else {
			c.ret(int64(m))
		}
		return true
	}
	c.retry(dup, unix.POLLOUT, unix.SO_SNDTIMEO, try)
}

// progEnd copies the program's end of the socket in argument 0 for the
// supervisor to work on, and tells whether the call (flags: its MSG_* flags)
// may block. On failure it has answered the call.
func (c *call) progEnd(so *socket, flags int) (dup int, block bool, ok bool) {
	dup, err := so.progFD(c.pid, int(c.args[0]))
	if err != nil {
		c.fail(unix.EBADF)
		return -1, false, false
	}
	fl, _ := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0)
	return dup, fl&unix.O_NONBLOCK == 0 && flags&unix.MSG_DONTWAIT == 0, true
}

// sigpipe sends the caller's thread SIGPIPE, as a send on a broken stream does.
func (c *call) sigpipe() {
	if tgid, err := threadGroup(c.pid); err == nil {
		unix.Tgkill(tgid, c.pid, unix.SIGPIPE)
	}
}

// retry runs try, and while it reports false (it would block) waits for fd
// to have events, off the notification loop. It closes fd at the end. The
// socket's SO_RCVTIMEO or SO_SNDTIMEO (timeoOpt) bounds the wait, as the
// kernel's would: then the call fails with EAGAIN (ping relies on it).
func (c *call) retry(fd int, events int16, timeoOpt int, try func() bool) {
	retryThen(c, fd, events, timeoOpt, try, func() {}, func() { c.fail(unix.EAGAIN) })
}

// received is one datagram taken for a trapped receive.
type received struct {
	data  []byte // what fits the caller's buffer
	full  int    // the datagram's length
	from  tcpip.FullAddress
	cm    tcpip.ReceivableControlMessages
	known bool
	// stamps are the receive timestamps' control messages, whole: the
	// program's SO_TIMESTAMP* options are set on its AF_UNIX end (they are
	// not ours: sockopt.go), whose kernel stamps what we deliver.
	stamps []byte
}

// recvBufs holds receive buffers of the largest datagram: allocating and
// clearing 64 KiB for each trapped receive was a tenth of its cost.
var recvBufs = sync.Pool{New: func() any {
	b := make([]byte, maxDatagram+1)
	return &b
}}

// recvDatagram takes one datagram from dup (the program's end) for a trapped
// receive of at most size bytes. It reports EAGAIN when none is queued.
func (so *socket) recvDatagram(dup int, size int, flags int) (received, unix.Errno) {
	so.deliverQueued()
	bp := recvBufs.Get().(*[]byte)
	defer recvBufs.Put(bp)
	buf := *bp
	var oob [64]byte // room for one timestamp (SCM_TIMESTAMPING's three: 64)
	n, oobn, _, _, err := unix.Recvmsg(dup, buf, oob[:], flags&unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err != nil {
		return received{}, err.(unix.Errno)
	}
	r := received{full: n, data: bytes.Clone(buf[:min(n, size)])}
	if oobn > 0 {
		r.stamps = timestampMessages(oob[:oobn])
	}
	var ent srcEntry
	ent, r.known = so.sources.take(buf[:n], flags&unix.MSG_PEEK != 0)
	r.from, r.cm = ent.addr, ent.cm
	if !r.known {
		so.mu.Lock()
		if so.remote != nil {
			r.from, r.known = *so.remote, true
		}
		so.mu.Unlock()
	}
	return r, 0
}

// timestampMessages keeps the receive timestamps of the control messages
// in b: not the AF_UNIX end's own (credentials, fds), which are ours.
func timestampMessages(b []byte) []byte {
	msgs, err := unix.ParseSocketControlMessage(b)
	if err != nil {
		return nil
	}
	var out []byte
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch m.Header.Type {
		case unix.SCM_TIMESTAMP, unix.SCM_TIMESTAMPNS, unix.SCM_TIMESTAMPING,
			unix.SO_TIMESTAMP_NEW, unix.SO_TIMESTAMPNS_NEW, unix.SO_TIMESTAMPING_NEW: // their SCM_ types
			out = append(out, cmsg(m.Header.Level, m.Header.Type, m.Data)...)
		}
	}
	return out
}

// sysRecvfrom: recvfrom(fd, buf, len, flags, addr, addrlen) with an address.
func (s *Supervisor) sysRecvfrom(c *call) {
	so := s.lookup(c, c.args[0])
	if so == nil {
		return
	}
	bufPtr, size, flags, addrPtr, lenPtr := c.args[1], int(min(c.args[2], maxCopy)), int(c.args[3]), c.args[4], c.args[5]
	if lenPtr != 0 {
		l, e := readU32(c.pid, lenPtr)
		if e != 0 {
			c.fail(e)
			return
		}
		if int32(l) < 0 {
			c.fail(unix.EINVAL)
			return
		}
	} else if addrPtr != 0 && !so.stream() {
		c.fail(unix.EFAULT)
		return
	}
	if so.stream() && !fastFDs() {
		// The kernel's recvfrom on the AF_UNIX end does the same: the data,
		// and an address length of 0, as TCP reports.
		c.cont()
		return
	}
	dup, block, ok := c.progEnd(so, flags)
	if !ok {
		return
	}
	if so.stream() {
		// TCP ignores the address: a plain receive that reports a zero length.
		c.retry(dup, unix.POLLIN, unix.SO_RCVTIMEO, func() bool {
			buf := make([]byte, size)
			n, _, _, _, err := unix.Recvmsg(dup, buf, nil, flags&^unix.MSG_DONTWAIT|unix.MSG_DONTWAIT)
			if err == unix.EAGAIN && block {
				return false
			}
			if err != nil {
				c.fail(err.(unix.Errno))
				return true
			}
			if e := writeMem(c.pid, bufPtr, buf[:n]); e != 0 {
				c.fail(e)
				return true
			}
			if lenPtr != 0 {
				writeU32(c.pid, lenPtr, 0)
			}
			c.ret(int64(n))
			return true
		})
		return
	}
	if flags&unix.MSG_ERRQUEUE != 0 {
		unix.Close(dup)
		c.fail(unix.EAGAIN) // no errors are ever queued
		return
	}
	c.retry(dup, unix.POLLIN, unix.SO_RCVTIMEO, func() bool {
		r, e := so.recvDatagram(dup, size, flags)
		if e == unix.EAGAIN && block {
			return false
		}
		if e != 0 {
			c.fail(e)
			return true
		}
		if e := writeMem(c.pid, bufPtr, r.data); e != 0 {
			c.fail(e)
			return true
		}
		if addrPtr != 0 {
			if e := putAddr(c.pid, addrPtr, lenPtr, encodeAddr(r.from, so.fam)); e != 0 {
				c.fail(e)
				return true
			}
		}
		ret := len(r.data)
		if flags&unix.MSG_TRUNC != 0 {
			ret = r.full
		}
		c.ret(int64(ret))
		return true
	})
}

// routeVia names the NIC a datagram to 'to' leaves by, for a socket bound to
// one of our addresses. gVisor otherwise sends through the NIC it registered
// the socket on at bind, picked at random among those holding the address —
// and every network address is on the loopback NIC too (netstack.AddAddress),
// so a server's replies to a remote peer failed with ENETUNREACH half the time.
func (so *socket) routeVia(to *tcpip.FullAddress) *tcpip.FullAddress {
	if to == nil || to.NIC != 0 {
		return to
	}
	info, ok := so.ep.Info().(*stack.TransportEndpointInfo)
	if !ok || info.BindNICID != 0 || info.BindAddr.BitLen() == 0 {
		return to
	}
	dst := to.Addr
	if dst.Len() == 16 && isV4Mapped(dst) {
		dst = tcpip.AddrFrom4Slice(dst.AsSlice()[12:])
	}
	proto := ipv4.ProtocolNumber
	if dst.Len() == 16 {
		proto = ipv6.ProtocolNumber
	}
	local := info.BindAddr
	if local.Len() != dst.Len() {
		return to
	}
	r, terr := so.s.st.FindRoute(0, local, dst, proto, false)
	if terr != nil {
		return to
	}
	defer r.Release()
	via := *to
	via.NIC = r.NICID()
	return &via
}
