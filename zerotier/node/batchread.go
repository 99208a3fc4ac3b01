package node

import (
	"encoding/binary"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// batchSize is how many datagrams one read takes at most (recvmmsg): under
// load the socket holds many, and reading them together saves system calls
// and the reader's wake-ups.
const batchSize = 32

// maxDatagram bounds a datagram read (ZeroTier's physical MTU is at most
// 10000; bigger ones are truncated and then fail to parse).
const maxDatagram = 16 << 10

// maxCoalesced is the most a read with UDP_GRO can return: one IP packet.
const maxCoalesced = 64 << 10

// batchReader reads datagrams in batches into buffers it reuses.
//
// With UDP_GRO on the socket, the kernel hands over datagrams of one sender
// that came as one UDP_SEGMENT send (sendbatch.go) still joined, with their
// size in a control message: one socket enqueue and one buffer instead of
// one per datagram. datagram cuts them apart again.
type batchReader struct {
	msgs []ipv4.Message // ipv4.Message and ipv6.Message are one type
	read func([]ipv4.Message, int) (int, error)
	gro  bool
}

func newBatchReader(c *net.UDPConn) *batchReader {
	br := &batchReader{msgs: make([]ipv4.Message, batchSize), gro: enableGRO(c)}
	size := maxDatagram
	if br.gro {
		size = maxCoalesced
	}
	for i := range br.msgs {
		br.msgs[i].Buffers = [][]byte{make([]byte, size)}
		if br.gro {
			br.msgs[i].OOB = make([]byte, unix.CmsgSpace(4))
		}
	}
	if path0(c).Addr().Is4() {
		br.read = ipv4.NewPacketConn(c).ReadBatch
	} else {
		br.read = ipv6.NewPacketConn(c).ReadBatch
	}
	return br
}

// enableGRO asks for UDP_GRO; false where the kernel has none (before 5.0).
func enableGRO(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

// next reads at least one message; each (data, from) stays valid until the
// following call.
func (br *batchReader) next() (int, error) {
	return br.read(br.msgs, 0)
}

// datagram returns the i-th message read: its data, the size of the
// datagrams joined in it (0 if it is one datagram) and its sender.
func (br *batchReader) datagram(i int) ([]byte, int, netip.AddrPort) {
	m := &br.msgs[i]
	var from netip.AddrPort
	if ua, ok := m.Addr.(*net.UDPAddr); ok {
		from = ua.AddrPort()
	}
	seg := 0
	if br.gro {
		seg = groSize(m.OOB[:m.NN])
	}
	return m.Buffers[0][:m.N], seg, from
}

// groSize finds the UDP_GRO control message's segment size.
func groSize(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			return int(binary.NativeEndian.Uint32(oob[unix.CmsgLen(0):]))
		}
		oob = oob[min(len(oob), unix.CmsgSpace(l-unix.CmsgLen(0))):]
	}
	return 0
}

// eachDatagram calls f with every datagram of a message: the message, or
// the pieces of seg bytes (the last may be shorter) it was joined from. A
// piece's capacity ends where it does, so no handler can write into the next.
func eachDatagram(b []byte, seg int, f func([]byte)) {
	if seg <= 0 || seg >= len(b) {
		f(b)
		return
	}
	for len(b) > 0 {
		k := min(seg, len(b))
		f(b[:k:k])
		b = b[k:]
	}
}
