package node

import (
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// mmsgWriter is sendmmsg on one non-blocking UDP socket, made with a raw
// system call on headers it keeps. x/net's WriteBatch made it the usual way,
// which wakes Go's monitor thread (sysmon) from its deep sleep and, when the
// call outlasts one of its ticks, has it hand the P to another thread; both
// reset it to 20 µs naps (the supervisor's rawsys.go says more). It also
// rebuilt every header per call.
type mmsgWriter struct {
	rc    syscall.RawConn
	v4    bool // an AF_INET socket (else AF_INET6: IPv4 peers as v4-mapped)
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // big enough for either family

	// The write function and its arguments and results, kept so that a
	// write allocates no closure.
	fn   func(fd uintptr) bool
	msgs []ipv4.Message
	k    int
	err  error
}

func newMmsgWriter(c *net.UDPConn, v4 bool) (*mmsgWriter, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &mmsgWriter{rc: rc, v4: v4}
	w.fn = w.send
	return w, nil
}

// write sends msgs (each with Buffers, an *net.UDPAddr and maybe OOB) with
// one sendmmsg, waiting in Go's poller while the socket is full. It returns
// how many messages went, as x/net's WriteBatch does.
func (w *mmsgWriter) write(msgs []ipv4.Message, flags int) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	if err := w.build(msgs); err != nil {
		return 0, err
	}
	w.msgs, w.k, w.err = msgs, 0, nil
	if err := w.rc.Write(w.fn); err != nil {
		return 0, err
	}
	for i := range w.k {
		msgs[i].N = int(w.hdrs[i].n)
	}
	w.msgs = nil
	clear(w.iovs) // drop references to the datagrams
	if w.err != nil {
		return w.k, os.NewSyscallError("sendmmsg", w.err)
	}
	return w.k, nil
}

// send is one sendmmsg for rc.Write; false asks the poller to wait.
func (w *mmsgWriter) send(fd uintptr) bool {
	for {
		k, _, errno := syscall.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[0])), uintptr(len(w.hdrs)), 0, 0, 0)
		switch errno {
		case 0:
			w.k = int(k)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		w.err = errno
		return true
	}
}

// build fills one header per message.
func (w *mmsgWriter) build(msgs []ipv4.Message) error {
	niov := 0
	for _, m := range msgs {
		niov += len(m.Buffers)
	}
	if cap(w.hdrs) < len(msgs) {
		w.hdrs = make([]mmsghdr, len(msgs))
		w.names = make([]unix.RawSockaddrInet6, len(msgs))
	}
	if cap(w.iovs) < niov {
		w.iovs = make([]unix.Iovec, niov)
	}
	w.hdrs, w.names, w.iovs = w.hdrs[:len(msgs)], w.names[:len(msgs)], w.iovs[:niov]
	iov := 0
	for i, m := range msgs {
		h := &w.hdrs[i]
		*h = mmsghdr{}
		ua, ok := m.Addr.(*net.UDPAddr)
		if !ok || ua == nil {
			return unix.EDESTADDRREQ
		}
		nl, err := putSockaddr(&w.names[i], ua, w.v4)
		if err != nil {
			return err
		}
		h.hdr.Name = (*byte)(unsafe.Pointer(&w.names[i]))
		h.hdr.Namelen = nl
		first := iov
		for _, b := range m.Buffers {
			w.iovs[iov] = unix.Iovec{}
			if len(b) > 0 {
				w.iovs[iov].Base = &b[0]
			}
			w.iovs[iov].SetLen(len(b))
			iov++
		}
		if iov > first {
			h.hdr.Iov = &w.iovs[first]
			h.hdr.SetIovlen(iov - first)
		}
		if len(m.OOB) > 0 {
			h.hdr.Control = &m.OOB[0]
			h.hdr.SetControllen(len(m.OOB))
		}
	}
	return nil
}

// putSockaddr writes ua as a sockaddr_in (v4: for an AF_INET socket) or a
// sockaddr_in6 and returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, ua *net.UDPAddr, v4 bool) (uint32, error) {
	*sa = unix.RawSockaddrInet6{}
	port := uint16(ua.Port)
	pb := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
	pb[0], pb[1] = byte(port>>8), byte(port)
	if v4 {
		ip4 := ua.IP.To4()
		if ip4 == nil {
			return 0, unix.EAFNOSUPPORT
		}
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		s4.Family = unix.AF_INET
		copy(s4.Addr[:], ip4)
		return unix.SizeofSockaddrInet4, nil
	}
	ip := ua.IP.To16()
	if ip == nil {
		return 0, unix.EINVAL
	}
	sa.Family = unix.AF_INET6
	copy(sa.Addr[:], ip)
	if ua.Zone != "" {
		ifi, err := net.InterfaceByName(ua.Zone)
		if err != nil {
			return 0, err
		}
		sa.Scope_id = uint32(ifi.Index)
	}
	return unix.SizeofSockaddrInet6, nil
}
