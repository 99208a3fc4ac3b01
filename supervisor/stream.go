package supervisor

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"ztnc/netstack"
)

const pumpBuf = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, pumpBuf); return &b }}

// A pump whose reads fill its buffer moves to a bigger one: a bulk transfer
// then takes a quarter of the system calls and wake-ups per byte (about a
// fifth more throughput between two nodes in make bench), while the many
// short or idle connections keep the small one.
const bigPumpBuf = 256 << 10

var bigBufPool = sync.Pool{New: func() any { b := make([]byte, bigPumpBuf); return &b }}

// pumpBuffer is a pump's buffer, grown once when a read fills it.
type pumpBuffer struct {
	bp  *[]byte
	big bool
}

func newPumpBuffer() *pumpBuffer { return &pumpBuffer{bp: bufPool.Get().(*[]byte)} }

func (p *pumpBuffer) buf() []byte { return *p.bp }

// filled is told each read's size.
func (p *pumpBuffer) filled(n int) {
	if !p.big && n == len(*p.bp) {
		bufPool.Put(p.bp)
		p.bp, p.big = bigBufPool.Get().(*[]byte), true
	}
}

func (p *pumpBuffer) release() {
	if p.big {
		bigBufPool.Put(p.bp)
	} else {
		bufPool.Put(p.bp)
	}
}

// claimStreamLocked, with so.mu held, makes the pumps startStream starts
// next the ones to handle the program's closing its end. It must come
// before the program can see the socket connected (its connect answered,
// its accept returned): a program may write and close at once, and a
// hang-up seen before a pump was reading closed the socket with those bytes
// unread (the remote read a bare EOF).
func (so *socket) claimStreamLocked() {
	so.reading = true
	so.readerDone = make(chan struct{})
}

// startStream carries a connected TCP socket's bytes between the program's
// AF_UNIX end and the netstack endpoint, one goroutine per direction.
// Half-close, EOF and reset travel both ways. claimStreamLocked came first.
func (so *socket) startStream() {
	spawn(so.programToNet)
	spawn(so.netToProgram)
}

// startAcceptedStream is startStream for a socket accept just delivered:
// its outgoing pump waits for the peer poller before its first read, which
// mostly found nothing (a server reads before it writes): one read less per
// connection. Nothing is missed: the peer joined the poller just now, and
// epoll reports at once what the program has written or closed already.
func (so *socket) startAcceptedStream() {
	spawn(so.acceptedToNet)
	spawn(so.netToProgram)
}

func (so *socket) programToNet() { so.pumpToNet(false) }

func (so *socket) acceptedToNet() { so.pumpToNet(true) }

// pumpToNet moves the program's bytes to the endpoint; waitFirst: wait for
// the peer to be readable before the first read.
func (so *socket) pumpToNet(waitFirst bool) {
	defer close(so.readerDone)
	pb := newPumpBuffer()
	defer pb.release()
	so.mu.Lock()
	r := &progReader{so: so, pb: pb, waitFirst: waitFirst, skip: so.filler}
	so.mu.Unlock()
	rerr := r.run()
	if r.pending > 0 {
		if rerr == io.EOF {
			// The program's last bytes, then its close or shutdown: the
			// bytes and the FIN go as one segment (one datagram, one ACK).
			r.hold = so.s.st.HoldSends(so.ep)
			defer r.hold.Release()
		}
		r.flush()
	}
	if errors.Is(rerr, unix.ECONNRESET) {
		// The program closed with unread data: Linux answers with RST.
		so.ep.Abort()
	}
	// EOF: the program shut down its writing side, or closed the socket.
	so.mu.Lock()
	so.reading = false
	if so.resetting {
		so.mu.Unlock()
		return
	}
	closed := so.state == stClosed
	if !closed {
		// If only its writing side is shut (or the remote's went), the
		// program's closing it is the poller's to see now. An accepted
		// socket is watched from here on only: while its pump reads,
		// hang-ups were all ignored. Watched before the look: a hang-up
		// in between is the poller's (blocked on so.mu, it waits for us).
		so.peer.watchHangup(so)
		closed = so.peerHungUp()
	}
	so.mu.Unlock()
	if closed {
		so.close()
		return
	}
	so.ep.Shutdown(tcpip.ShutdownWrite)
}

func (so *socket) netToProgram() {
	if so.pumpToProgram() {
		so.awaitLateReset() // with the pump's buffer back in its pool
	}
}

// pumpToProgram moves the endpoint's bytes to the program until the
// remote's FIN (then true), a reset, or the program's closing.
func (so *socket) pumpToProgram() (fin bool) {
	pb := newPumpBuffer()
	defer pb.release()
	peer := so.peerConn()
	var w peerWriter
	w.fn = w.write
	for {
		buf := pb.buf()
		n, terr := so.epRead(buf)
		if n > 0 {
			if err := w.writeAll(peer, buf[:n]); err != nil {
				so.droppedData(err)
				return false // the program closed; hang-up handling releases the rest
			}
			pb.filled(n)
		}
		switch terr.(type) {
		case nil:
			continue
		case *tcpip.ErrClosedForReceive:
			// The remote's FIN: the program reads EOF.
			so.shutdownPeerWrite()
			return true
		case *tcpip.ErrConnectionReset, *tcpip.ErrConnectionAborted, *tcpip.ErrTimeout:
			so.resetProgram(errnoOf(terr))
		}
		return false
	}
}

// droppedData: bytes came from the remote that the program cannot read, as
// it has closed the socket (err is the failed write to its end). Linux
// answers data for a closed socket with RST; closing the endpoint would
// only send a FIN, the bytes being out of its queue already, and a remote
// writing after our EOF (shutdown then close) would never learn. Only once
// the outgoing pump is done: the program's last bytes are in the endpoint
// then. (A write that fails otherwise, after shutdown(SHUT_RD), keeps the
// connection, as on Linux.)
func (so *socket) droppedData(err error) {
	so.mu.Lock()
	// Closed: by the hang-up, maybe just after our read. (peerHungUp under
	// the lock: a close frees peerFd's number for reuse.)
	abort := !so.reading && !so.resetting &&
		(so.state == stClosed || (errors.Is(err, unix.EPIPE) && so.peerHungUp()))
	so.mu.Unlock()
	if abort {
		so.ep.Abort()
	}
}

// awaitLateReset follows a connection the remote has half-closed until it
// ends. A reset can still come: the remote closed, the program wrote after
// its EOF, and the remote's stack answered with RST. Linux then reports
// POLLERR|POLLHUP and fails the next write (EPIPE in CLOSE-WAIT); without
// this nothing would tell the program, whose writes went on succeeding.
func (so *socket) awaitLateReset() {
	e, ch := waiter.NewChannelEntry(waiter.EventHUp | waiter.EventErr)
	so.wq.EventRegister(&e)
	defer so.wq.EventUnregister(&e)
	for {
		so.mu.Lock()
		done := so.state == stClosed || so.resetting
		so.mu.Unlock()
		if done {
			return
		}
		switch tcp.EndpointState(so.ep.State()) {
		case tcp.StateClose, tcp.StateError:
			var errno unix.Errno
			switch terr := so.ep.LastError(); terr.(type) {
			case *tcpip.ErrAborted:
				errno = unix.EPIPE // a reset in CLOSE-WAIT (Linux's tcp_reset)
			case *tcpip.ErrConnectionReset, *tcpip.ErrConnectionAborted, *tcpip.ErrTimeout:
				errno = errnoOf(terr)
			default:
				return // an orderly end
			}
			// Not when the program has closed its end (our own Abort, for
			// a close with unread data): the hang-up is what ends it then.
			so.mu.Lock()
			gone := so.state == stClosed || so.resetting || so.peerHungUp()
			so.mu.Unlock()
			if !gone {
				so.resetProgram(errno)
			}
			return
		case tcp.StateTimeWait:
			return // both FINs are through: no reset reaches the program now
		}
		<-ch
	}
}

// peerWriter writes to the program's end of a stream with raw writes
// (rawsys.go), waiting in the peer poller while it is full.
type peerWriter struct {
	b   []byte
	err error
	fn  func(fd int) bool // write, made once
}

func (w *peerWriter) write(fd int) bool {
	for len(w.b) > 0 {
		n, err := rawSendNoWait(fd, w.b)
		switch err {
		case nil:
			w.b = w.b[n:]
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			w.err = err
			return true
		}
	}
	return true
}

func (w *peerWriter) writeAll(peer *peerConn, b []byte) error {
	w.b, w.err = b, nil
	if err := peer.write(w.fn); err != nil {
		return err
	}
	w.b = nil
	return w.err
}

// epRead reads what the endpoint has, waiting for data.
func (so *socket) epRead(buf []byte) (int, tcpip.Error) {
	for {
		w := tcpip.SliceWriter(buf)
		res, terr := so.ep.Read(&w, tcpip.ReadOptions{})
		if _, wb := terr.(*tcpip.ErrWouldBlock); !wb {
			return res.Count, terr
		}
		e, ch := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
		so.wq.EventRegister(&e)
		res, terr = so.ep.Read(&w, tcpip.ReadOptions{})
		if _, wb := terr.(*tcpip.ErrWouldBlock); !wb {
			so.wq.EventUnregister(&e)
			return res.Count, terr
		}
		<-ch
		so.wq.EventUnregister(&e)
	}
}

// epWrite writes all of b to the endpoint, waiting for send-buffer space;
// hold, if any, is released before waiting (the ACKs that make room answer
// the frames it holds).
func (so *socket) epWrite(b []byte, hold *netstack.SendHold) tcpip.Error {
	var r bytes.Reader
	for len(b) > 0 {
		r.Reset(b)
		n, terr := so.ep.Write(&r, tcpip.WriteOptions{})
		b = b[n:]
		if terr == nil {
			continue
		}
		if _, wb := terr.(*tcpip.ErrWouldBlock); !wb {
			return terr
		}
		e, ch := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
		so.wq.EventRegister(&e)
		if so.ep.Readiness(waiter.WritableEvents|waiter.EventHUp|waiter.EventErr) == 0 {
			if hold != nil {
				hold.Release()
			}
			<-ch
		}
		so.wq.EventUnregister(&e)
	}
	return nil
}

func (so *socket) shutdownPeerWrite() {
	so.peerConn().control(func(fd int) { rawShutdown(fd, unix.SHUT_WR) })
}

// resetProgram makes the program's next read or write fail with ECONNRESET
// rather than see a clean EOF. An AF_UNIX stream socket reports ECONNRESET
// when its peer is closed with unread data, so the supervisor puts one byte
// into its own end's receive queue (through the program's end) and closes it.
func (so *socket) resetProgram(errno unix.Errno) {
	so.mu.Lock()
	so.soError = errno
	so.resetting = true
	pid, fd, ino := so.owner.pid, so.owner.fd, so.ino
	done := so.readerDone
	peer := so.peer
	so.mu.Unlock()
	// Stop our reader first, or it could consume the byte.
	peer.stopReads()
	if done != nil {
		<-done
	}
	// Without pidfd_getfd a connected socket has no copy: the program then
	// reads a clean EOF (a documented difference of that mode).
	if dup, err := so.progFD(pid, fd); err == nil {
		var st unix.Stat_t
		if unix.Fstat(dup, &st) == nil && st.Ino == ino {
			unix.SendmsgN(dup, []byte{0}, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		}
		unix.Close(dup)
	}
	so.close()
}

// sysShutdown: shutdown(fd, how). On a connected socket the kernel does it
// on the program's AF_UNIX end and the pump carries it on (FIN); only the
// unconnected case needs an answer of ours.
func (s *Supervisor) sysShutdown(c *call) {
	so := s.lookup(c, c.args[0])
	if so == nil {
		return
	}
	how := int(int32(c.args[1]))
	if how < unix.SHUT_RD || how > unix.SHUT_RDWR {
		c.fail(unix.EINVAL)
		return
	}
	so.mu.Lock()
	connected := so.state == stConnected || (!so.stream() && so.remote != nil)
	so.mu.Unlock()
	if !connected {
		c.fail(unix.ENOTCONN)
		return
	}
	c.cont()
}
