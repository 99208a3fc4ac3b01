package supervisor

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"
)

// A listening socket must stay pollable across fork (apache prefork accepts
// on one inherited socket in many processes). At listen() the program's fd is
// replaced, in place, by an AF_UNIX listening socket of the supervisor's
// making; each connection netstack accepts is connected to it, so the
// kernel's own readiness drives poll/epoll/select, and accept is emulated.

// pendingConn is a netstack connection waiting in the program's accept queue.
type pendingConn struct {
	ep tcpip.Endpoint
	wq *waiter.Queue
	fd int // the supervisor's AF_UNIX end, connected to the listener (blocking after a wait for room)
}

const somaxconn = 4096

// sysBind: bind(fd, addr, addrlen).
func (s *Supervisor) sysBind(c *call) {
	so, b := s.sockaddrCall(c)
	if so == nil {
		return
	}
	addr, unspec, e := decodeAddr(b, so.fam)
	if unspec {
		// Linux accepts AF_UNSPEC with INADDR_ANY on IPv4 sockets, for old programs.
		if so.fam != unix.AF_INET || len(b) < sizeofSockaddrIn || !allZero(b[4:8]) {
			c.fail(unix.EAFNOSUPPORT)
			return
		}
		addr, _, e = decodeAddr(append([]byte{unix.AF_INET, 0}, b[2:]...), so.fam)
	}
	if e != 0 {
		c.fail(e)
		return
	}
	if so.fam == unix.AF_INET6 && addr.Addr.Len() == 16 && !isV4Mapped(addr.Addr) {
		// Linux: a socket bound to a specific IPv6 address is IPv6-only.
		so.ep.SocketOptions().SetV6Only(true)
	}
	if addr.Port != 0 {
		// A listener every program has closed must not keep its port, nor
		// take connections meant for a server restarted on a wider address.
		s.reapListeners()
		s.reapHeld()
	}
	bindAddr := addr
	if so.stream() && addr.Addr.Len() != 0 && !isV4Mapped(addr.Addr) {
		// gVisor connects a TCP socket bound to an address through the NIC
		// it found the address on, at random the loopback (which holds
		// every network address too): name the network's NIC.
		bindAddr.NIC = s.st.AddressNIC(addr.Addr)
	}
	terr := so.ep.Bind(bindAddr)
	if _, inUse := terr.(*tcpip.ErrPortInUse); inUse && addr.Port == 53 && s.take53(addr.Addr) {
		terr = so.ep.Bind(bindAddr)
	}
	if terr != nil {
		c.fail(errnoOf(terr))
		return
	}
	so.mu.Lock()
	so.bound = &addr
	so.mu.Unlock()
	c.ret(0)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// sysListen: listen(fd, backlog).
func (s *Supervisor) sysListen(c *call) {
	so := s.lookup(c, c.args[0])
	if so == nil {
		return
	}
	if !so.stream() {
		c.fail(unix.EOPNOTSUPP)
		return
	}
	backlog := int(int32(c.args[1]))
	if backlog < 0 || backlog > somaxconn {
		backlog = somaxconn
	}
	fd := int(c.args[0])
	so.mu.Lock()
	defer so.mu.Unlock()
	switch so.state {
	case stListening:
		c.ret(0)
		return
	case stIdle, stFailed:
	default:
		c.fail(unix.EINVAL)
		return
	}
	so.mu.Unlock()
	s.reapListeners()
	s.reapHeld()
	so.mu.Lock()
	if so.state != stIdle && so.state != stFailed {
		c.fail(unix.EINVAL)
		return
	}
	terr := so.ep.Listen(backlog)
	if terr != nil {
		c.fail(errnoOf(terr))
		return
	}
	l, ref, err := privateListener(backlog)
	if err != nil {
		s.log.Warn("listen: making the program's listening socket", "err", err)
		c.fail(unix.ENOBUFS)
		return
	}
	defer unix.Close(l)
	if fl, err := fdFlags(c.pid, fd); err == nil {
		if fl&unix.O_NONBLOCK != 0 {
			unix.SetNonblock(l, true)
		}
		var st unix.Stat_t
		unix.Fstat(l, &st)
		if _, err := addFD(c.lfd, c.id, l, fd, fl&unix.O_CLOEXEC != 0, false); err != nil {
			ref.close()
			c.fail(unix.EBADF)
			return
		}
		so.holdLocked(l)
		so.s.mu.Lock()
		delete(so.s.socks, so.ino)
		so.ino = st.Ino
		so.s.socks[st.Ino] = so
		so.s.mu.Unlock()
	} else {
		ref.close()
		c.fail(unix.EBADF)
		return
	}
	so.state = stListening
	so.lref = ref
	so.pending = map[string]*pendingConn{}
	if so.peer != nil {
		// The program's half of the original pair is gone: ours is useless.
		so.peer.close()
		so.peer = nil
	}
	go so.acceptLoop()
	c.ret(0)
}

// acceptLoop moves each connection netstack accepts into the program's
// accept queue.
func (so *socket) acceptLoop() {
	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	so.wq.EventRegister(&e)
	defer so.wq.EventUnregister(&e)
	for so.moveAccepted(true) {
		<-ch
	}
}

// moveAccepted moves every connection netstack has accepted into the
// program's accept queue. The accept loop calls it as they come; a
// non-blocking accept that finds the queue empty calls it too, so that a
// connection whose connect() has returned is there to accept, as on Linux.
// It reports false once the listener is gone. Unless wait, it never
// blocks: the notification loop calls it that way.
func (so *socket) moveAccepted(wait bool) bool {
	if !wait {
		if !so.acceptMu.TryLock() {
			return true // the accept loop is moving them already
		}
	} else {
		so.acceptMu.Lock()
	}
	defer so.acceptMu.Unlock()
	for {
		nep, nwq, terr := so.ep.Accept(nil)
		if _, wb := terr.(*tcpip.ErrWouldBlock); wb {
			return true
		}
		if terr != nil {
			return false // closed
		}
		if !so.enqueue(&pendingConn{ep: nep, wq: nwq}, wait) {
			nep.Close()
			return false
		}
	}
}

// enqueue connects a fresh AF_UNIX socket to the program's listener for p.
// It blocks while the listener's backlog is full (back-pressure, as the
// kernel's accept queue). It reports false when the listener is gone.
// Unless wait, a full backlog hands p to a goroutine that waits.
func (so *socket) enqueue(p *pendingConn, wait bool) bool {
	// Non-blocking at first: the usual connect, into a backlog with room,
	// then runs under so.mu, which keeps so.lref open, and needs no copy of it.
	fd, err := rawSocket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return false
	}
	// A unique name, by which accept finds p (accept4 returns it).
	key, ok := bindPendingName(fd)
	if !ok {
		unix.Close(fd)
		return false
	}
	p.fd = fd
	so.mu.Lock()
	if so.state != stListening {
		so.mu.Unlock()
		unix.Close(fd)
		return false
	}
	so.pending[key] = p
	err = rawConnectUnix(fd, so.lref.path) // fd is non-blocking yet
	for err == unix.EINTR {
		err = rawConnectUnix(fd, so.lref.path)
	}
	if err == unix.EAGAIN && wait {
		// A full backlog: wait for room without the lock, through a copy of
		// the way in (close may drop so.lref, and its number be reused).
		var ref int
		ref, err = unix.FcntlInt(uintptr(so.lref.fd), unix.F_DUPFD_CLOEXEC, 0)
		so.mu.Unlock()
		if err == nil {
			unix.SetNonblock(fd, false)
			err = connectRetry(fd, listenPath(ref))
			unix.Close(ref)
		}
	} else {
		so.mu.Unlock()
	}
	if err != nil {
		so.mu.Lock()
		delete(so.pending, key)
		so.mu.Unlock()
		unix.Close(fd)
		if err == unix.EAGAIN && !wait {
			go so.enqueue(&pendingConn{ep: p.ep, wq: p.wq}, true)
			return true
		}
		if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOENT) {
			so.close() // every program closed the listener
		}
		return false
	}
	return true
}

// connectRetry connects fd to the AF_UNIX path, again after EINTR.
func connectRetry(fd int, path string) error {
	for {
		err := unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			return err
		}
	}
}

// sysAccept: accept(fd, addr, addrlen) and accept4(…, flags).
func (s *Supervisor) sysAccept(c *call, fdArg, addrPtr, lenPtr uint64, flags int) {
	so, dup := s.lookupTake(c, fdArg)
	if so == nil {
		return
	}
	handedOn := false // dup is closed by the accept below
	defer func() {
		if !handedOn && dup >= 0 {
			unix.Close(dup)
		}
	}()
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		c.fail(unix.EINVAL)
		return
	}
	if !so.stream() {
		c.fail(unix.EOPNOTSUPP)
		return
	}
	so.mu.Lock()
	listening := so.state == stListening
	so.mu.Unlock()
	if !listening {
		c.fail(unix.EINVAL)
		return
	}
	var addrLen uint32 // *lenPtr, read once: deliver writes within it
	if addrPtr != 0 {
		l, e := readU32(c.pid, lenPtr)
		if e != 0 {
			c.fail(e)
			return
		}
		addrLen = l
		if int32(l) < 0 {
			c.fail(unix.EINVAL)
			return
		}
	}
	if dup < 0 {
		var err error
		if dup, err = so.progFD(c.pid, int(fdArg)); err != nil {
			c.fail(unix.EBADF)
			return
		}
	}
	handedOn = true
	fl, _ := rawGetfl(dup)
	if fl&unix.O_NONBLOCK != 0 {
		nfd, peer, err := rawAcceptUnix(dup, flags&unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err == unix.EAGAIN && so.moveAccepted(false) {
			nfd, peer, err = rawAcceptUnix(dup, flags&unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		}
		if err != nil {
			rawClose(dup)
			c.fail(err.(unix.Errno))
			return
		}
		so.deliver(c, nfd, &unix.SockaddrUnix{Name: peer}, addrPtr, lenPtr, addrLen, flags)
		rawClose2(dup, nfd)
		return
	}
	// A blocking listener: accept4 on our copy would block too, so it runs
	// off the notification loop, after poll says a connection is queued.
	spawn(func() {
		defer unix.Close(dup)
		for c.waitFD(dup, unix.POLLIN) {
			// Validity just checked: a call interrupted by a signal must not
			// take a connection its restarted twin should get. (If it still
			// does, deliver puts the connection back.)
			if !c.valid() {
				return
			}
			nfd, peer, err := unix.Accept4(dup, flags&unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err != nil {
				c.fail(err.(unix.Errno))
				return
			}
			so.deliver(c, nfd, peer, addrPtr, lenPtr, addrLen, flags)
			rawClose(nfd)
			return
		}
	})
}

// deliver hands the accepted AF_UNIX socket nfd to the program as the new
// connection, with its virtual peer address (at most addrLen bytes of it).
// nfd was accepted with the program's SOCK_NONBLOCK already; peer is the
// address accept4 gave, the name of our end (enqueue). The caller closes nfd.
func (so *socket) deliver(c *call, nfd int, peer unix.Sockaddr, addrPtr, lenPtr uint64, addrLen uint32, flags int) {
	var p *pendingConn
	if sa, ok := peer.(*unix.SockaddrUnix); ok {
		key := sa.Name
		so.mu.Lock()
		p = so.pending[key]
		delete(so.pending, key)
		so.mu.Unlock()
	}
	if p == nil {
		c.fail(unix.ECONNABORTED)
		return
	}
	var st unix.Stat_t
	rawFstat(nfd, &st)
	ns := &socket{s: so.s, fam: so.fam, typ: so.typ, proto: so.proto, ep: p.ep, wq: p.wq,
		ino: st.Ino, state: stConnected, reported: true, opts: map[optKey][]byte{}}
	// Its pumps own its hang-up from the start: the program may write and
	// close as soon as it has the fd, before they run.
	ns.claimStreamLocked() // not shared yet: no lock needed
	remote, _ := p.ep.GetRemoteAddress()
	requeue := func() {
		unix.Close(p.fd)
		go so.enqueue(&pendingConn{ep: p.ep, wq: p.wq}, true)
	}
	if addrPtr != 0 {
		if e := putAddrLen(c.pid, addrPtr, lenPtr, addrLen, encodeAddr(remote, so.fam)); e != 0 {
			requeue()
			c.fail(e)
			return
		}
	}
	pre := p.preload()
	// In the table before the program can use it, with its peer after.
	so.s.mu.Lock()
	so.s.socks[ns.ino] = ns
	so.s.mu.Unlock()
	newfd, err := c.inject(nfd, flags&unix.SOCK_CLOEXEC != 0)
	if err != nil {
		// The caller went away (a signal): the connection goes back in the
		// queue for the restarted accept.
		so.s.mu.Lock()
		delete(so.s.socks, ns.ino)
		so.s.mu.Unlock()
		requeue()
		return
	}
	if pre > 0 {
		p.consume(pre)
	}
	ns.setPeer(p.fd)
	// No hang-up watch: the pump reading it sees the program close it
	// (programToNet watches it if it stops reading first).
	ns.owner.pid, ns.owner.fd = c.pid, newfd
	ns.startAcceptedStream()
}

// reapListeners closes the listeners every program has closed (their
// AF_UNIX socket is gone), freeing their ports. It returns how many.
func (s *Supervisor) reapListeners() int {
	// A socket's state is read under its own lock, never with s.mu held
	// (the other order is taken elsewhere).
	s.mu.Lock()
	all := make([]*socket, 0, len(s.socks))
	for _, so := range s.socks {
		all = append(all, so)
	}
	s.mu.Unlock()
	var ls []*socket
	for _, so := range all {
		so.mu.Lock()
		if so.state == stListening {
			ls = append(ls, so)
		}
		so.mu.Unlock()
	}
	if len(ls) == 0 {
		return 0
	}
	alive, err := unixInodes()
	if err != nil {
		return 0
	}
	n := 0
	for _, so := range ls {
		so.mu.Lock()
		ino := so.ino
		so.mu.Unlock()
		if !alive[ino] {
			so.close()
			n++
		}
	}
	return n
}

func (s *Supervisor) reapListenersEvery(d time.Duration) {
	for range time.Tick(d) {
		s.reapListeners()
		s.reapHeld()
	}
}
