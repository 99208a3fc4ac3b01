package supervisor

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// sysGetName: getsockname / getpeername report virtual addresses (Go, for
// one, redials when they are missing or equal).
func (s *Supervisor) sysGetName(c *call, peer bool) {
	so := s.lookup(c, c.args[0])
	if so == nil {
		return
	}
	var a tcpip.FullAddress
	if peer {
		so.mu.Lock()
		connected := so.state == stConnected || (!so.stream() && so.remote != nil)
		so.mu.Unlock()
		var terr tcpip.Error
		if connected {
			a, terr = so.ep.GetRemoteAddress()
		}
		if !connected || terr != nil {
			c.fail(unix.ENOTCONN)
			return
		}
	} else {
		a, _ = so.ep.GetLocalAddress()
	}
	if e := putName(c.pid, c.args[1], c.args[2], encodeAddr(a, so.fam)); e != 0 {
		c.fail(e)
		return
	}
	c.ret(0)
}

// putName stores an address for getsockname/getpeername: unlike accept, a
// NULL address with room for one is a fault.
func putName(pid int, addrPtr, lenPtr uint64, sa []byte) unix.Errno {
	l, e := readU32(pid, lenPtr)
	if e != 0 {
		return e
	}
	if int32(l) < 0 {
		return unix.EINVAL
	}
	if n := min(int(l), len(sa)); n > 0 {
		if e := writeMem(pid, addrPtr, sa[:n]); e != 0 {
			return e
		}
	}
	return writeU32(pid, lenPtr, uint32(len(sa)))
}
