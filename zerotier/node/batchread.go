package node

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchSize is how many datagrams one read takes at most (recvmmsg): under
// load the socket holds many, and reading them together saves system calls
// and the reader's wake-ups.
const batchSize = 32

// maxDatagram bounds a datagram read (ZeroTier's physical MTU is at most
// 10000; bigger ones are truncated and then fail to parse).
const maxDatagram = 16 << 10

// batchReader reads datagrams in batches into buffers it reuses.
type batchReader struct {
	msgs []ipv4.Message // ipv4.Message and ipv6.Message are one type
	read func([]ipv4.Message, int) (int, error)
}

func newBatchReader(c *net.UDPConn) *batchReader {
	br := &batchReader{msgs: make([]ipv4.Message, batchSize)}
	for i := range br.msgs {
		br.msgs[i].Buffers = [][]byte{make([]byte, maxDatagram)}
	}
	if path0(c).Addr().Is4() {
		br.read = ipv4.NewPacketConn(c).ReadBatch
	} else {
		br.read = ipv6.NewPacketConn(c).ReadBatch
	}
	return br
}

// next reads at least one datagram; each (data, from) stays valid until the
// following call.
func (br *batchReader) next() (int, error) {
	return br.read(br.msgs, 0)
}

func (br *batchReader) datagram(i int) ([]byte, netip.AddrPort) {
	m := &br.msgs[i]
	var from netip.AddrPort
	if ua, ok := m.Addr.(*net.UDPAddr); ok {
		from = ua.AddrPort()
	}
	return m.Buffers[0][:m.N], from
}
