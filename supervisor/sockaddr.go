package supervisor

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

const (
	sizeofSockaddrIn  = 16
	sizeofSockaddrIn6 = 28
	sin6LenRFC2133    = 24 // the kernel accepts a sockaddr_in6 without scope id
)

// decodeAddr parses a sockaddr given to a socket of family fam, as the kernel
// would: short → EINVAL, foreign family → EAFNOSUPPORT. unspec reports
// AF_UNSPEC (meaningful to connect on datagram sockets).
func decodeAddr(b []byte, fam int) (addr tcpip.FullAddress, unspec bool, e unix.Errno) {
	if len(b) < 2 {
		return addr, false, unix.EINVAL
	}
	sf := int(binary.LittleEndian.Uint16(b))
	if sf == unix.AF_UNSPEC {
		return addr, true, 0
	}
	switch fam {
	case unix.AF_INET:
		if len(b) < sizeofSockaddrIn {
			return addr, false, unix.EINVAL
		}
		if sf != unix.AF_INET {
			return addr, false, unix.EAFNOSUPPORT
		}
		addr.Port = binary.BigEndian.Uint16(b[2:])
		addr.Addr = tcpip.AddrFrom4Slice(b[4:8])
	case unix.AF_INET6:
		if len(b) < sin6LenRFC2133 {
			return addr, false, unix.EINVAL
		}
		if sf != unix.AF_INET6 {
			return addr, false, unix.EAFNOSUPPORT
		}
		addr.Port = binary.BigEndian.Uint16(b[2:])
		addr.Addr = tcpip.AddrFrom16Slice(b[8:24])
	default:
		return addr, false, unix.EAFNOSUPPORT
	}
	if addr.Addr.Unspecified() || isV4MappedAny(addr.Addr) {
		addr.Addr = tcpip.Address{} // "any", as netstack spells it
	}
	return addr, false, 0
}

func isV4Mapped(a tcpip.Address) bool {
	if a.Len() != 16 {
		return false
	}
	b := a.As16()
	return [12]byte(b[:12]) == [12]byte{10: 0xff, 11: 0xff}
}

func isV4MappedAny(a tcpip.Address) bool {
	if a.Len() != 16 {
		return false
	}
	b := a.As16()
	return b == [16]byte{10: 0xff, 11: 0xff}
}

// encodeAddr lays out a for a socket of family fam; IPv4 addresses on IPv6
// sockets come out v4-mapped, as the kernel reports them.
func encodeAddr(a tcpip.FullAddress, fam int) []byte {
	if fam == unix.AF_INET {
		b := make([]byte, sizeofSockaddrIn)
		binary.LittleEndian.PutUint16(b, unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], a.Port)
		if a.Addr.Len() == 4 {
			copy(b[4:], a.Addr.AsSlice())
		} else if a.Addr.Len() == 16 {
			copy(b[4:], a.Addr.AsSlice()[12:])
		}
		return b
	}
	b := make([]byte, sizeofSockaddrIn6)
	binary.LittleEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], a.Port)
	switch a.Addr.Len() {
	case 4:
		b[18], b[19] = 0xff, 0xff
		copy(b[20:], a.Addr.AsSlice())
	case 16:
		copy(b[8:], a.Addr.AsSlice())
	}
	return b
}

// putAddr implements the (addr, addrlen) out-parameter convention of
// accept, getsockname, recvfrom: copy at most *addrlen bytes, then store the
// full length.
func putAddr(pid int, addrPtr, lenPtr uint64, sa []byte) unix.Errno {
	if addrPtr == 0 || lenPtr == 0 {
		return 0
	}
	l, e := readU32(pid, lenPtr)
	if e != 0 {
		return e
	}
	return putAddrLen(pid, addrPtr, lenPtr, l, sa)
}

// putAddrLen is putAddr for a caller that has read *addrlen already (l).
// The address and its length go out in one write to the program's memory.
func putAddrLen(pid int, addrPtr, lenPtr uint64, l uint32, sa []byte) unix.Errno {
	if addrPtr == 0 || lenPtr == 0 {
		return 0
	}
	if int32(l) < 0 {
		return unix.EINVAL
	}
	n := min(int(l), len(sa))
	var lb [4]byte
	binary.LittleEndian.PutUint32(lb[:], uint32(len(sa)))
	return writeMemV(pid, []memWrite{{addrPtr, sa[:n]}, {lenPtr, lb[:]}})
}
