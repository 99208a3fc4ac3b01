package supervisor

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"
)

// sysConnect: connect(fd, addr, addrlen).
func (s *Supervisor) sysConnect(c *call) {
	so, b, dup := s.sockaddrCopy(c)
	if so == nil {
		return
	}
	defer func() { closeCopy(dup) }()
	addr, unspec, e := decodeAddr(b, so.fam)
	if e == 0 && !unspec && so.fam == unix.AF_INET6 && isV4Mapped(addr.Addr) && so.ep.SocketOptions().GetV6Only() {
		c.fail(unix.ENETUNREACH)
		return
	}
	if e == 0 && !unspec && s.mayFallThrough(so, addr) {
		s.fallThen(c, so, s.hostConnect)
		return
	}
	if so.stream() {
		if e != 0 && !unspec {
			c.fail(e)
			return
		}
		if so.connectStream(c, addr, unspec, dup) {
			dup = -1
		}
		return
	}
	if unspec {
		so.disconnect()
		c.ret(0)
		return
	}
	if e != 0 {
		c.fail(e)
		return
	}
	if terr := so.ep.Connect(*so.routeVia(&addr)); terr != nil {
		c.fail(errnoOf(terr))
		return
	}
	so.mu.Lock()
	so.remote = &addr
	so.mu.Unlock()
	c.ret(0)
}

// sockaddrCall starts connect and bind, which take (fd, addr, addrlen): it
// finds the socket and reads the address. On nil it has answered the call.
func (s *Supervisor) sockaddrCall(c *call) (*socket, []byte) {
	so, b, dup := s.sockaddrCopy(c)
	closeCopy(dup)
	return so, b
}

// sockaddrCopy is sockaddrCall that also returns the copy of the caller's fd
// lookupTake made, if any, for the caller to close.
func (s *Supervisor) sockaddrCopy(c *call) (*socket, []byte, int) {
	so, dup := s.lookupTake(c, c.args[0])
	if so == nil {
		return nil, nil, -1
	}
	alen := int(int32(c.args[2]))
	if alen < 0 || alen > 128 {
		closeCopy(dup)
		c.fail(unix.EINVAL)
		return nil, nil, -1
	}
	b, e := readMem(c.pid, c.args[1], alen)
	if e != 0 {
		closeCopy(dup)
		c.fail(e)
		return nil, nil, -1
	}
	if !c.valid() {
		closeCopy(dup)
		return nil, nil, -1
	}
	return so, b, dup
}

func (so *socket) disconnect() {
	so.ep.Disconnect()
	so.mu.Lock()
	so.remote = nil
	so.mu.Unlock()
}

// connectStream connects a stream socket. dup is a copy of the program's
// fd (-1: none yet); it reports whether it took dup over.
func (so *socket) connectStream(c *call, addr tcpip.FullAddress, unspec bool, dup int) bool {
	so.mu.Lock()
	switch so.state {
	case stConnected:
		if !so.reported {
			so.reported = true
			so.mu.Unlock()
			c.ret(0)
			return false
		}
		so.mu.Unlock()
		c.fail(unix.EISCONN)
		return false
	case stListening:
		so.mu.Unlock()
		c.fail(unix.EISCONN)
		return false
	case stFailed:
		if so.peer == nil {
			// Its AF_UNIX pair is gone (that is how the failure was
			// signalled); programs open a new socket to retry.
			so.mu.Unlock()
			c.fail(unix.ECONNABORTED)
			return false
		}
	case stConnecting:
		done := so.connDone
		so.mu.Unlock()
		if c.nonblockingFD(c.args[0], dup) {
			c.fail(unix.EALREADY)
			return false
		}
		// A blocking connect restarted after a signal waits for the same
		// attempt: never a second dial.
		spawn(func() { so.awaitConnect(c, done) })
		return false
	}
	if unspec {
		so.mu.Unlock()
		c.ret(0)
		return false
	}
	fd := int(c.args[0])
	if dup < 0 {
		var err error
		if dup, err = so.progFDLocked(c.pid, fd); err != nil {
			so.mu.Unlock()
			c.fail(unix.EBADF)
			return true
		}
	}
	fl, _ := rawGetfl(dup)
	nonblock := fl&unix.O_NONBLOCK != 0
	// What the program wrote before connecting is not the connection's
	// (Linux failed those writes with EPIPE): it would go out ahead of the
	// program's data, and shift the filler the pump drops.
	so.peer.control(discardQueued)

	e, ch := waiter.NewChannelEntry(waiter.EventOut | waiter.EventHUp | waiter.EventErr)
	so.wq.EventRegister(&e)
	terr := so.ep.Connect(addr)
	switch terr.(type) {
	case nil:
		so.wq.EventUnregister(&e)
		so.state = stConnected
		so.reported = true
		so.owner.pid, so.owner.fd = c.pid, fd
		so.claimStreamLocked()
		so.releaseLocked()
		so.mu.Unlock()
		rawClose(dup)
		so.startStream()
		c.ret(0)
		return true
	case *tcpip.ErrConnectStarted:
	default:
		so.wq.EventUnregister(&e)
		so.mu.Unlock()
		rawClose(dup)
		c.fail(errnoOf(terr))
		return true
	}
	so.state = stConnecting
	so.soError = 0
	so.connDone = make(chan struct{})
	so.owner.pid, so.owner.fd = c.pid, fd
	so.setConnectingLocked(dup)
	done := so.connDone
	// Even a blocking connect: if a signal interrupts it, the program may
	// poll for writability next, which must wait for the handshake.
	sentinel := so.blockWrites(dup)
	so.mu.Unlock()

	spawn(func() {
		<-ch
		so.wq.EventUnregister(&e)
		if so.finishConnect(addr, dup, sentinel) {
			// This worker goes on as the outgoing pump: one hand-off less.
			spawn(so.netToProgram)
			so.programToNet()
		}
	})
	so.s.log.Debug("connect started", "ino", so.ino, "pid", c.pid, "nonblock", nonblock)
	if nonblock {
		c.fail(unix.EINPROGRESS)
		return true
	}
	spawn(func() { so.awaitConnect(c, done) })
	return true
}

// blockWrites keeps a non-blocking connect's socket unwritable until the
// handshake completes: poll/epoll must not report POLLOUT early. It fills the
// program end's send buffer (shrunk to its minimum) with filler bytes that
// the outgoing pump drops unsent. It returns how many it wrote.
func (so *socket) blockWrites(dup int) int {
	so.sndbuf = progSndbuf(dup, so.sndbufSet)
	rawSetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_SNDBUF, 1)
	n := 0
	for {
		m, err := rawSendNoWait(dup, filler[:])
		if m > 0 {
			n += m
		}
		// A short send is full already: it stopped where the next buffer
		// did not fit (sk_wmem_alloc reached SO_SNDBUF, and POLLOUT needs
		// a quarter of that); nobody reads our end before finishConnect.
		// No second send to hear EAGAIN.
		if err != nil || m < len(filler) {
			return n
		}
	}
}

// sndbufDefault is the SO_SNDBUF of a new AF_UNIX socket
// (net.core.wmem_default), until a time (ns): a sysctl can change it.
var sndbufDefault struct{ v, until atomic.Int64 }

// progSndbuf returns the SO_SNDBUF of fd, a program's end: the default,
// unless the program set its own, is read once a second, not per connect.
func progSndbuf(fd int, set bool) int {
	now := time.Now().UnixNano()
	if !set && now < sndbufDefault.until.Load() {
		if v := sndbufDefault.v.Load(); v > 0 {
			return int(v)
		}
	}
	v, err := rawGetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err == nil && !set {
		sndbufDefault.v.Store(int64(v))
		sndbufDefault.until.Store(now + int64(time.Second))
	}
	return v
}

// discardQueued drops what fd, our end of a pair, holds, without waiting.
func discardQueued(fd int) {
	var b [4096]byte
	for {
		n, err := rawRecvNoWait(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < len(b) {
			return
		}
	}
}

// filler is only ever sent, never written: one for all connects.
var filler [16 << 10]byte

// finishConnect records the outcome of a handshake. It reports whether the
// pumps claimed for carrying data are to start (startStream's two).
func (so *socket) finishConnect(addr tcpip.FullAddress, dup int, sentinel int) bool {
	terr := so.ep.Connect(addr) // asking again yields the outcome
	so.s.log.Debug("connect finished", "ino", so.ino, "err", terr)
	so.mu.Lock()
	so.setConnectingLocked(-1)
	if so.state != stConnecting {
		so.mu.Unlock()
		rawClose(dup)
		return false
	}
	ok := terr == nil || isAlreadyConnected(terr)
	var peer *peerConn
	if ok {
		so.state = stConnected
		so.reported = false
		so.claimStreamLocked()
		// The size back makes the program's end writable with the filler
		// still queued; the pump's first read drops it (one read less
		// than a read of its own here).
		so.filler = sentinel
		half := so.sndbuf / 2 // the kernel doubles what it is given
		rawSetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_SNDBUF, half)
	} else {
		so.state = stFailed
		so.soError = errnoOf(terr)
		// A refused connect polls as POLLOUT|POLLERR|POLLHUP on Linux. An
		// AF_UNIX socket does that once its peer is closed with unread data
		// (our filler is still queued there).
		if sentinel == 0 {
			rawSendNoWait(dup, []byte{0})
		}
		peer, so.peer = so.peer, nil
	}
	// Not held any more either way: a failed socket cannot connect again,
	// and the program's closing it must be seen (its epoll sets forget it).
	// Dropped before the outcome is out, as the pumps are claimed: once the
	// program knows, it may write and close, and a held copy would let the
	// reaper take the socket for closed before the pump has read.
	so.releaseLocked()
	rawClose(dup)
	close(so.connDone)
	so.mu.Unlock()
	peer.close()
	return ok
}

func isAlreadyConnected(err tcpip.Error) bool {
	_, ok := err.(*tcpip.ErrAlreadyConnected)
	return ok
}

// awaitConnect answers a blocking connect when its attempt ends.
func (so *socket) awaitConnect(c *call, done chan struct{}) {
	if !c.waitChan(done) {
		return // interrupted: a restarted connect will find the outcome
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	switch so.state {
	case stConnected:
		if so.reported {
			c.fail(unix.EISCONN)
			return
		}
		// Only an answer that reached the program counts: if a signal took
		// it away, the restarted connect must still see 0.
		so.reported = c.ret(0)
	case stFailed:
		if c.fail(so.soError) {
			so.soError = 0
		}
	default:
		c.fail(unix.ECONNABORTED)
	}
}

// nonblocking reports whether the caller's fd is in non-blocking mode.
func (c *call) nonblocking(fd uint64) bool {
	fl, err := fdFlags(c.pid, int(fd))
	return err == nil && fl&unix.O_NONBLOCK != 0
}

// nonblockingFD is nonblocking asking dup, a copy of fd, when there is one
// (-1: none): one fcntl instead of reading /proc.
func (c *call) nonblockingFD(fd uint64, dup int) bool {
	if dup < 0 {
		return c.nonblocking(fd)
	}
	fl, err := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_NONBLOCK != 0
}
