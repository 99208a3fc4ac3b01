package supervisor

import (
	"io"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// What the remote sent before the program accepted its connection goes into
// the accepted socket before the program has it, as on Linux, where it waits
// in the socket's queue. A server's first read then finds the request: it
// used to sleep in epoll until the pump, started after the accept, wrote it
// (a sleep and a wake-up more per connection, on both sides).

// preload copies what p's endpoint holds into our end of p, without taking
// it from the endpoint (a failed delivery requeues p with its bytes there);
// it returns how many bytes went in, for consume once the program has them.
func (p *pendingConn) preload() int {
	pb := newPumpBuffer()
	defer pb.release()
	w := tcpip.SliceWriter(pb.buf())
	res, terr := p.ep.Read(&w, tcpip.ReadOptions{Peek: true})
	if terr != nil || res.Count == 0 {
		return 0
	}
	n, err := rawSendNoWait(p.fd, pb.buf()[:res.Count])
	if err != nil {
		return 0
	}
	return n
}

// consume drops the n bytes preload copied from the endpoint: nothing else
// reads it before the pumps start.
func (p *pendingConn) consume(n int) {
	p.ep.Read(&discardN{n: n}, tcpip.ReadOptions{})
}

// discardN is an io.Writer that takes n bytes and drops them.
type discardN struct{ n int }

func (d *discardN) Write(b []byte) (int, error) {
	if len(b) > d.n {
		k := d.n
		d.n = 0
		return k, io.ErrShortWrite
	}
	d.n -= len(b)
	return len(b), nil
}
