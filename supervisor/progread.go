package supervisor

import (
	"io"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"

	"ztnc/netstack"
)

// progReader reads the program's end of a connected stream for
// programToNet. The bytes of a read that did not fill the buffer wait for
// the next read before they go to the endpoint: if that read says EOF, the
// pump sends them with the FIN in one segment; if it finds nothing yet,
// they go before the pump waits. The read after the bytes is the one the
// pump made anyway (a non-blocking read, then the wait), so none is added.
type progReader struct {
	so      *socket
	pb      *pumpBuffer
	pending int   // bytes at the start of pb read and not yet written to the endpoint
	skip    int   // filler bytes still to drop before the program's (connect.go)
	n       int   // the last read's count
	err     error // the last read's error: io.EOF at the end of the stream
	werr    tcpip.Error
	hold    netstack.SendHold // the endpoint's frames held while the last bytes and the FIN are sent
	fn      func(fd int) bool // read, made once (a closure per read would be allocated)
	// the first read waits for the peer poller's word (startAcceptedStream)
	waitFirst bool
}

// run reads until the end of the stream, an error, or a failed write to
// the endpoint (then nil); pending bytes are left to the caller.
func (r *progReader) run() error {
	peer := r.so.peerConn()
	r.fn = r.read
	for {
		if err := peer.read(r.fn); err != nil {
			return err // closed, or stopped by resetProgram
		}
		if r.werr != nil {
			return nil
		}
		if r.err != nil {
			return r.err
		}
		r.pending += r.n
		if r.pending == len(r.pb.buf()) {
			// A full buffer: more is likely there, and the buffer grows.
			if r.flush() != nil {
				return nil
			}
			r.pb.filled(len(r.pb.buf()))
		}
	}
}

// read is one read for peer.read: true when it has something to report,
// false to wait until the program writes (after sending what is pending).
func (r *progReader) read(fd int) bool {
	if r.waitFirst {
		r.waitFirst = false
		return false
	}
	for {
		n, err := rawRecvNoWait(fd, r.pb.buf()[r.pending:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if r.pending > 0 && r.flush() != nil {
				return true
			}
			return false
		case err != nil:
			r.n, r.err = 0, err
		case n == 0:
			r.n, r.err = 0, io.EOF
		default:
			if r.skip > 0 {
				// Only filler: read on. (A short read does not say that
				// no EOF is pending: only the next read does.)
				if n = r.dropFiller(n); n == 0 {
					continue
				}
			}
			r.n, r.err = n, nil
		}
		return true
	}
}

// dropFiller removes the filler from the n bytes just read (after the
// pending ones) and returns how many are left.
func (r *progReader) dropFiller(n int) int {
	b := r.pb.buf()[r.pending : r.pending+n]
	m := min(r.skip, n)
	copy(b, b[m:])
	r.skip -= m
	return n - m
}

// flush writes the pending bytes to the endpoint; a failure is kept in werr.
func (r *progReader) flush() tcpip.Error {
	n := r.pending
	r.pending = 0
	r.werr = r.so.epWrite(r.pb.buf()[:n], &r.hold)
	return r.werr
}
