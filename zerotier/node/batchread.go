package node

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

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
//
// It calls recvmmsg itself, on message headers built once: most reads take
// one datagram (a TCP handshake is a handful of small packets), and
// x/net's ReadBatch rebuilt all 32 headers for each read and allocated a
// net.UDPAddr for every message read.
type batchReader struct {
	rc    syscall.RawConn
	hdrs  []mmsghdr
	bufs  [][]byte
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // big enough for either family
	oobs  [][]byte
	used  int // headers the last read filled (their lengths need a reset)
	gro   bool

	zoneIdx uint32 // the last IPv6 zone seen, and its name
	zone    string

	// The read function and its results, kept so that a read allocates
	// no closure.
	readFn func(fd uintptr) bool
	k      int
	err    error
}

// mmsghdr is struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

func newBatchReader(c *net.UDPConn) (*batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("node: socket reader: %w", err)
	}
	br := &batchReader{rc: rc, gro: enableGRO(c),
		hdrs: make([]mmsghdr, batchSize), bufs: make([][]byte, batchSize), iovs: make([]unix.Iovec, batchSize),
		names: make([]unix.RawSockaddrInet6, batchSize), oobs: make([][]byte, batchSize)}
	size := maxDatagram
	if br.gro {
		size = maxCoalesced
	}
	for i := range br.hdrs {
		br.bufs[i] = make([]byte, size)
		br.iovs[i].Base = &br.bufs[i][0]
		br.iovs[i].SetLen(size)
		h := &br.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&br.names[i]))
		h.Iov = &br.iovs[i]
		h.SetIovlen(1)
		if br.gro {
			br.oobs[i] = make([]byte, unix.CmsgSpace(4))
			h.Control = &br.oobs[i][0]
		}
	}
	br.used = batchSize
	br.readFn = br.read
	return br, nil
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
	br.reset()
	br.k, br.err = 0, nil
	if err := br.rc.Read(br.readFn); err != nil {
		return 0, err
	}
	br.used = br.k
	return br.k, br.err
}

// reset readies the headers the last read filled for the next.
func (br *batchReader) reset() {
	for i := range br.hdrs[:br.used] {
		h := &br.hdrs[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		if br.gro {
			h.SetControllen(len(br.oobs[i]))
		}
	}
	br.used = 0
}

// run reads until the socket fails or is closed, calling handle with the
// number of messages of each read (see datagram; they are valid during the
// call). It returns the error that ended it.
//
// Reading with next, each wake-up of the reader costs two recvmmsg: one
// that reads, and after the datagrams are handled, one that finds the
// socket empty before the reader waits. Here a read that did not fill the
// batch emptied the socket (a non-blocking recvmmsg stops only there), and
// any datagram that came later has made the socket ready again (the poller
// keeps that readiness until this reader waits: the read is one long
// RawConn.Read), so the reader waits right away.
func (br *batchReader) run(handle func(k int)) error {
	var err error
	rerr := br.rc.Read(func(fd uintptr) bool {
		for {
			br.reset()
			br.k, br.err = 0, nil
			if !br.read(fd) {
				return false // empty: wait until readable
			}
			if br.err != nil {
				err = br.err
				return true
			}
			br.used = br.k
			handle(br.k)
			if br.k < len(br.hdrs) {
				return false
			}
		}
	})
	if rerr != nil {
		return rerr
	}
	return err
}

// read is one recvmmsg; false asks the poller to wait for the socket. The
// socket is non-blocking, so the call is made raw: a call made the usual
// way wakes Go's monitor thread (sysmon) and resets it to 20 µs naps.
func (br *batchReader) read(fd uintptr) bool {
	for {
		k, _, errno := syscall.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&br.hdrs[0])), uintptr(len(br.hdrs)), 0, 0, 0)
		switch errno {
		case 0:
			br.k = int(k)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		br.err = os.NewSyscallError("recvmmsg", errno)
		return true
	}
}

// datagram returns the i-th message read: its data, the size of the
// datagrams joined in it (0 if it is one datagram) and its sender.
func (br *batchReader) datagram(i int) ([]byte, int, netip.AddrPort) {
	h := &br.hdrs[i]
	seg := 0
	if br.gro {
		seg = groSize(br.oobs[i][:h.hdr.Controllen])
	}
	return br.bufs[i][:h.n], seg, br.sockaddrPort(&br.names[i], h.hdr.Namelen)
}

// sockaddrPort reads a sender's address as the kernel wrote it.
func (br *batchReader) sockaddrPort(sa *unix.RawSockaddrInet6, l uint32) netip.AddrPort {
	switch {
	case sa.Family == unix.AF_INET && l >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), portOf(sa4.Port))
	case sa.Family == unix.AF_INET6 && l >= unix.SizeofSockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 && a.Is6() {
			a = a.WithZone(br.zoneName(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, portOf(sa.Port))
	}
	return netip.AddrPort{}
}

// portOf converts a sockaddr's port (network byte order in memory).
func portOf(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// zoneName names an interface index as net does (its name, else the
// number); the last one is kept, as link-local senders mostly share one.
func (br *batchReader) zoneName(idx uint32) string {
	if idx == br.zoneIdx && br.zone != "" {
		return br.zone
	}
	br.zoneIdx, br.zone = idx, strconv.Itoa(int(idx))
	if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
		br.zone = ifi.Name
	}
	return br.zone
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
