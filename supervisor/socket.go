package supervisor

import (
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

type sockState int

const (
	stIdle       sockState = iota // created or bound
	stConnecting                  // TCP handshake under way
	stConnected
	stListening
	stFailed // a connect failed; SO_ERROR holds why
	stClosed
)

// socket is one of the programs' AF_INET/AF_INET6 sockets. The program holds
// one end of an AF_UNIX pair (stream for TCP, seqpacket for UDP and ICMP,
// which keeps datagram boundaries and reports hang-up); the supervisor holds
// the other end, peer, and the netstack endpoint.
type socket struct {
	s               *Supervisor
	fam, typ, proto int
	ep              tcpip.Endpoint
	wq              *waiter.Queue

	mu         sync.Mutex
	ino        uint64    // inode of the program's end
	peer       *peerConn // the supervisor's end
	peerFd     int       // its number
	reading    bool      // a pump goroutine reads peer; it handles hang-up
	readerDone chan struct{}
	resetting  bool // the remote reset; the program must see ECONNRESET
	state      sockState
	soError    unix.Errno    // pending SO_ERROR
	connDone   chan struct{} // closed when a connect attempt ends
	reported   bool          // a successful connect was returned once
	sndbuf     int           // the program end's SO_SNDBUF before a connect shrank it
	sndbufSet  bool          // the program set SO_SNDBUF: not the default
	filler     int           // a connect's filler bytes ahead of the program's (programToNet drops them)
	connDup    int           // while connecting, the copy of the program's end (connlookup.go); else -1
	owner      struct{ pid, fd int }
	held       int // a copy of the program's end, when holding (see held.go)
	holding    bool
	opts       map[optKey][]byte // options kept for getsockopt

	// listeners
	lref     *listenRef // the supervisor's way into the program's listening socket (listenpriv.go)
	acceptMu sync.Mutex // one mover of connections to the program at a time
	pending  map[string]*pendingConn

	// datagram sockets
	sources    sourceLog
	deliverMu  sync.Mutex // one mover of datagrams to the program at a time
	deliverBuf []byte
	remote     *tcpip.FullAddress // connected peer
	bound      *tcpip.FullAddress // what the program bound to, for fall-through
}

type optKey struct{ level, name int32 }

func (so *socket) stream() bool { return so.typ == unix.SOCK_STREAM }

func (so *socket) netProto() tcpip.NetworkProtocolNumber {
	if so.fam == unix.AF_INET6 {
		return ipv6.ProtocolNumber
	}
	return ipv4.ProtocolNumber
}

// sysSocket: socket(domain, type, protocol).
func (s *Supervisor) sysSocket(c *call) {
	fam, typ, proto := int(int32(c.args[0])), int(int32(c.args[1])), int(int32(c.args[2]))
	switch fam {
	case unix.AF_INET, unix.AF_INET6:
	case unix.AF_NETLINK:
		if proto == unix.NETLINK_ROUTE {
			s.nlSocket(c, typ&0xf, typ&^0xf)
			return
		}
		c.cont() // other families (sock_diag, uevents…) reach no network
		return
	case unix.AF_UNIX:
		c.cont() // cannot reach the network
		return
	case unix.AF_PACKET:
		c.fail(unix.EPERM)
		return
	default:
		c.fail(unix.EAFNOSUPPORT)
		return
	}
	flags := typ &^ 0xf
	typ &= 0xf
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		c.fail(unix.EINVAL)
		return
	}
	if proto < 0 || proto >= 263 { // IPPROTO_MAX
		c.fail(unix.EINVAL)
		return
	}
	var trans tcpip.TransportProtocolNumber
	switch {
	case typ == unix.SOCK_STREAM && (proto == 0 || proto == unix.IPPROTO_TCP):
		trans, proto = tcp.ProtocolNumber, unix.IPPROTO_TCP
	case typ == unix.SOCK_DGRAM && (proto == 0 || proto == unix.IPPROTO_UDP):
		trans, proto = udp.ProtocolNumber, unix.IPPROTO_UDP
	case typ == unix.SOCK_DGRAM && fam == unix.AF_INET && proto == unix.IPPROTO_ICMP:
		trans = icmp.ProtocolNumber4
	case typ == unix.SOCK_DGRAM && fam == unix.AF_INET6 && proto == unix.IPPROTO_ICMPV6:
		trans = icmp.ProtocolNumber6
	case typ == unix.SOCK_RAW:
		c.fail(unix.EPERM) // raw sockets would need privileges the program does not have here
		return
	case typ == unix.SOCK_STREAM || typ == unix.SOCK_DGRAM:
		c.fail(unix.EPROTONOSUPPORT)
		return
	case typ == unix.SOCK_SEQPACKET || typ == unix.SOCK_RDM:
		c.fail(unix.ESOCKTNOSUPPORT)
		return
	default:
		c.fail(unix.EINVAL)
		return
	}
	so := &socket{s: s, fam: fam, typ: typ, proto: proto, wq: &waiter.Queue{}, opts: map[optKey][]byte{}, connDup: -1}
	ep, terr := s.st.NewEndpoint(trans, so.netProto(), so.wq)
	if terr != nil {
		c.fail(errnoOf(terr))
		return
	}
	so.ep = ep
	if so.stream() {
		// Linux TCP sockets come with Nagle on and SO_REUSEADDR off; gVisor agrees.
		ep.SocketOptions().SetDelayOption(true)
	}
	pairType := unix.SOCK_SEQPACKET
	if so.stream() {
		pairType = unix.SOCK_STREAM
	}
	// A program's SOCK_NONBLOCK makes both ends non-blocking at once, as
	// ours must be: no fcntl on either.
	pair, err := unix.Socketpair(unix.AF_UNIX, pairType|unix.SOCK_CLOEXEC|flags&unix.SOCK_NONBLOCK, 0)
	if err != nil {
		ep.Close()
		c.fail(err.(unix.Errno))
		return
	}
	prog, mine := pair[0], pair[1]
	defer rawClose(prog)
	var st unix.Stat_t
	rawFstat(prog, &st)
	so.ino = st.Ino
	so.setPeer(mine)
	s.add(so)
	if !so.stream() {
		so.startDatagram()
	}
	nfd, err := c.inject(prog, flags&unix.SOCK_CLOEXEC != 0)
	if err != nil {
		s.log.Debug("socket: injecting", "err", err)
		so.close()
		return
	}
	// Held only now that the program has it: the reaper must not take it
	// for closed. (The next call of the program comes after this returns.)
	so.hold(prog)
	s.log.Debug("socket", "pid", c.pid, "fd", nfd, "ino", so.ino)
}

// setPeer makes fd the supervisor's end, driven by the peer poller. It
// may be blocking (the program's end shares its flag at socketpair):
// every read and write on it says MSG_DONTWAIT, which saves an fcntl per
// socket the program makes blocking.
func (so *socket) setPeer(fd int) {
	so.peerFd = fd
	so.peer = so.s.peers.add(fd)
}

// peerConn is so.peer, read under so.mu (close clears it; nil: closed).
func (so *socket) peerConn() *peerConn {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.peer
}

func (s *Supervisor) add(so *socket) {
	s.mu.Lock()
	s.socks[so.ino] = so
	s.mu.Unlock()
	so.peer.watchHangup(so)
}

// lookup finds the socket behind the caller's fd. It answers the call itself
// (and returns nil) when the fd is not ours: the kernel then handles it.
func (s *Supervisor) lookup(c *call, fd uint64) *socket {
	if so := s.connectingLookup(c.pid, fd); so != nil {
		return so
	}
	so, dup := s.lookupTake(c, fd)
	closeCopy(dup)
	return so
}

// lookupTake is lookup that also returns a copy of the caller's fd when it
// took one (see fdInodeCopy), for the caller to close; -1 otherwise (the
// caller then needs progFD). Calls that need the copy anyway (connect,
// accept) find the socket by an fstat of it, ~0.4 µs against ~4.5 µs for a
// stat of /proc/PID/fd/N on the benchmark VM; the others still save ~1.3 µs.
func (s *Supervisor) lookupTake(c *call, fd uint64) (*socket, int) {
	ino, isSock, dup, e := fdInodeCopy(c.pid, fd)
	if e != 0 || !isSock {
		closeHostCopy(dup)
		c.cont() // the kernel gives EBADF / ENOTSOCK itself
		return nil, -1
	}
	s.mu.Lock()
	so := s.socks[ino]
	nl := s.nls[ino]
	s.mu.Unlock()
	if so == nil {
		// Dropped before the kernel runs the call: the program's closing
		// the socket right after must be the last reference.
		closeHostCopy(dup)
		if nl != nil {
			s.nlCall(c, nl)
		} else {
			c.cont()
		}
		return nil, -1
	}
	return so, dup
}

// rekey records that the program's end of so now has inode ino.
func (s *Supervisor) rekey(so *socket, ino uint64) {
	s.mu.Lock()
	delete(s.socks, so.ino)
	so.ino = ino
	s.socks[ino] = so
	s.mu.Unlock()
}

// close releases everything of so: the program has closed its end.
func (so *socket) close() {
	so.mu.Lock()
	if so.state == stClosed {
		so.mu.Unlock()
		return
	}
	so.state = stClosed
	peer := so.peer
	so.peer = nil
	pending := so.pending
	so.pending = nil
	lref := so.lref
	so.lref = nil
	so.mu.Unlock()
	lref.close()
	s := so.s
	s.mu.Lock()
	if s.socks[so.ino] == so {
		delete(s.socks, so.ino)
	}
	s.mu.Unlock()
	for _, p := range pending {
		p.ep.Close()
		unix.Close(p.fd)
	}
	peer.close()
	so.release()
	so.ep.Close()
	// Wakes awaitLateReset: closing a half-closed endpoint notifies no
	// hang-up until the remote has acknowledged our FIN.
	so.wq.Notify(waiter.EventHUp)
}
