package supervisor

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// Socket options: the identity ones (SO_TYPE, SO_DOMAIN, SO_PROTOCOL,
// SO_ERROR, SO_ACCEPTCONN) are emulated; the ones that shape the connection
// (TCP_NODELAY, keepalive, SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY,
// SO_LINGER, …) go to the netstack endpoint; buffer sizes and timeouts are
// left to the AF_UNIX socket the program really reads and writes. Other
// options of the IP levels are accepted and remembered, never EOPNOTSUPP.

// Highest option number we accept per level (Linux's current ranges).
const (
	maxTCPOpt  = 45
	maxIPOpt   = 80
	maxIPv6Opt = 90
	maxUDPOpt  = 110
)

func intBytes(v int) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(int32(v)))
	return b
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// sysGetsockopt: getsockopt(fd, level, name, val, len).
func (s *Supervisor) sysGetsockopt(c *call) {
	so := s.lookup(c, c.args[0])
	if so == nil {
		return
	}
	level, name := int32(c.args[1]), int32(c.args[2])
	valPtr, lenPtr := c.args[3], c.args[4]
	val, e, cont := so.getopt(level, name)
	if cont {
		c.cont()
		return
	}
	if e != 0 {
		c.fail(e)
		return
	}
	l, e := readU32(c.pid, lenPtr)
	if e != 0 {
		c.fail(e)
		return
	}
	if int32(l) < 0 {
		c.fail(unix.EINVAL)
		return
	}
	n := min(int(l), len(val))
	if e := writeMem(c.pid, valPtr, val[:n]); e != 0 {
		c.fail(e)
		return
	}
	if e := writeU32(c.pid, lenPtr, uint32(n)); e != 0 {
		c.fail(e)
		return
	}
	c.ret(0)
}

func (so *socket) getopt(level, name int32) (val []byte, e unix.Errno, cont bool) {
	opts := so.ep.SocketOptions()
	if v, ok := so.storedOpt(level, name); ok {
		return v, 0, false
	}
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_TYPE:
			return intBytes(so.typ), 0, false
		case unix.SO_DOMAIN:
			return intBytes(so.fam), 0, false
		case unix.SO_PROTOCOL:
			return intBytes(so.proto), 0, false
		case unix.SO_ERROR:
			so.mu.Lock()
			err := so.soError
			so.soError = 0
			so.mu.Unlock()
			return intBytes(int(err)), 0, false
		case unix.SO_ACCEPTCONN:
			so.mu.Lock()
			l := so.state == stListening
			so.mu.Unlock()
			return intBytes(boolInt(l)), 0, false
		case unix.SO_REUSEADDR:
			return intBytes(boolInt(opts.GetReuseAddress())), 0, false
		case unix.SO_REUSEPORT:
			return intBytes(boolInt(opts.GetReusePort())), 0, false
		case unix.SO_KEEPALIVE:
			return intBytes(boolInt(opts.GetKeepAlive())), 0, false
		case unix.SO_BROADCAST:
			return intBytes(boolInt(opts.GetBroadcast())), 0, false
		case unix.SO_LINGER:
			lo := opts.GetLinger()
			b := make([]byte, 8)
			binary.LittleEndian.PutUint32(b, uint32(boolInt(lo.Enabled)))
			binary.LittleEndian.PutUint32(b[4:], uint32(lo.Timeout/time.Second))
			return b, 0, false
		}
		return nil, 0, true // buffers, timeouts, credentials: the AF_UNIX socket's own
	case unix.IPPROTO_TCP:
		if !so.stream() {
			return nil, unknownLevel(so), false
		}
		switch name {
		case unix.TCP_NODELAY:
			return intBytes(boolInt(!opts.GetDelayOption())), 0, false
		case unix.TCP_CORK:
			return intBytes(boolInt(opts.GetCorkOption())), 0, false
		case unix.TCP_MAXSEG:
			v, _ := so.ep.GetSockOptInt(tcpip.MaxSegOption)
			return intBytes(v), 0, false
		case unix.TCP_KEEPIDLE:
			return intBytes(7200), 0, false
		case unix.TCP_KEEPINTVL:
			return intBytes(75), 0, false
		case unix.TCP_KEEPCNT:
			return intBytes(9), 0, false
		case unix.TCP_INFO:
			return so.tcpInfo(), 0, false
		case unix.TCP_CONGESTION:
			b := make([]byte, 16)
			copy(b, "reno")
			return b, 0, false
		}
		if name < 1 || name > maxTCPOpt {
			return nil, unix.ENOPROTOOPT, false
		}
		return intBytes(0), 0, false
	case unix.IPPROTO_IP:
		switch name {
		case unix.IP_TTL:
			return intBytes(64), 0, false
		case unix.IP_MTU_DISCOVER:
			return intBytes(unix.IP_PMTUDISC_WANT), 0, false
		case unix.IP_OPTIONS:
			// None: sshd drops connections that carry IP options.
			return []byte{}, 0, false
		}
		if name < 1 || name > maxIPOpt {
			return nil, unix.ENOPROTOOPT, false
		}
		return intBytes(0), 0, false
	case unix.IPPROTO_IPV6:
		if so.fam != unix.AF_INET6 {
			return nil, unknownLevel(so), false
		}
		switch name {
		case unix.IPV6_V6ONLY:
			return intBytes(boolInt(opts.GetV6Only())), 0, false
		case unix.IPV6_UNICAST_HOPS, unix.IPV6_MULTICAST_HOPS:
			return intBytes(64), 0, false
		}
		if name < 1 || name > maxIPv6Opt {
			return nil, unix.ENOPROTOOPT, false
		}
		return intBytes(0), 0, false
	case unix.IPPROTO_UDP:
		if so.proto != unix.IPPROTO_UDP {
			return nil, unknownLevel(so), false
		}
		if name < 1 || name > maxUDPOpt {
			return nil, unix.ENOPROTOOPT, false
		}
		return intBytes(0), 0, false
	}
	if so.fam == unix.AF_INET {
		return nil, unix.EOPNOTSUPP, false // ip_getsockopt's answer
	}
	return nil, unix.ENOPROTOOPT, false
}

// unknownLevel is getsockopt's answer for a level the socket's protocol
// does not have.
func unknownLevel(so *socket) unix.Errno {
	if so.fam == unix.AF_INET {
		return unix.EOPNOTSUPP
	}
	return unix.ENOPROTOOPT
}

func (so *socket) storedOpt(level, name int32) ([]byte, bool) {
	so.mu.Lock()
	defer so.mu.Unlock()
	v, ok := so.opts[optKey{level, name}]
	return v, ok
}

// tcpInfo is a struct tcp_info with what programs look at: the state.
func (so *socket) tcpInfo() []byte {
	b := make([]byte, 232)
	var info tcpip.TCPInfoOption
	if so.ep.GetSockOpt(&info) == nil {
		b[0] = byte(info.State)
	}
	so.mu.Lock()
	if so.state == stListening {
		b[0] = 10 // TCP_LISTEN
	}
	so.mu.Unlock()
	return b
}

// sysSetsockopt: setsockopt(fd, level, name, val, len).
func (s *Supervisor) sysSetsockopt(c *call) {
	so := s.lookup(c, c.args[0])
	if so == nil {
		return
	}
	level, name := int32(c.args[1]), int32(c.args[2])
	olen := int(int32(c.args[4]))
	if level == unix.SOL_SOCKET && !socketLevelOurs(name) {
		if name == unix.SO_SNDBUF || name == unix.SO_SNDBUFFORCE {
			so.mu.Lock()
			so.sndbufSet = true
			so.mu.Unlock()
		}
		c.cont()
		return
	}
	if olen < 0 {
		c.fail(unix.EINVAL)
		return
	}
	// Read only what the option uses: Linux accepts a huge optlen on an
	// int option and reads four bytes.
	val, e := readMem(c.pid, c.args[3], min(olen, optSize(level, name)))
	if e != 0 {
		c.fail(e)
		return
	}
	if !c.valid() {
		return
	}
	c.respond(0, so.setopt(level, name, val), 0)
}

// optSize is how many bytes of an option's value the kernel reads at most.
func optSize(level, name int32) int {
	switch {
	case level == unix.SOL_SOCKET && name == unix.SO_LINGER:
		return 8
	case level == unix.IPPROTO_TCP && name == unix.TCP_CONGESTION:
		return 16
	case level == unix.SOL_SOCKET || level == unix.IPPROTO_TCP:
		return 4
	}
	return 256 // struct options of the IP levels (group memberships, …)
}

func socketLevelOurs(name int32) bool {
	switch name {
	case unix.SO_REUSEADDR, unix.SO_REUSEPORT, unix.SO_KEEPALIVE, unix.SO_BROADCAST, unix.SO_LINGER:
		return true
	}
	return false
}

func (so *socket) setopt(level, name int32, val []byte) unix.Errno {
	var iv int
	isInt := len(val) >= 4
	if isInt {
		iv = int(int32(binary.LittleEndian.Uint32(val)))
	} else if len(val) >= 1 {
		iv = int(val[0])
	}
	opts := so.ep.SocketOptions()
	needInt := func() unix.Errno {
		if !isInt {
			return unix.EINVAL
		}
		return 0
	}
	switch level {
	case unix.SOL_SOCKET:
		if name == unix.SO_LINGER {
			if len(val) < 8 {
				return unix.EINVAL
			}
			opts.SetLinger(tcpip.LingerOption{
				Enabled: binary.LittleEndian.Uint32(val) != 0,
				Timeout: time.Duration(int32(binary.LittleEndian.Uint32(val[4:]))) * time.Second,
			})
			return 0
		}
		if e := needInt(); e != 0 {
			return e
		}
		switch name {
		case unix.SO_REUSEADDR:
			opts.SetReuseAddress(iv != 0)
		case unix.SO_REUSEPORT:
			opts.SetReusePort(iv != 0)
		case unix.SO_KEEPALIVE:
			opts.SetKeepAlive(iv != 0)
		case unix.SO_BROADCAST:
			opts.SetBroadcast(iv != 0)
		}
		return 0
	case unix.IPPROTO_TCP:
		if !so.stream() || name < 1 || name > maxTCPOpt {
			return unix.ENOPROTOOPT
		}
		if name == unix.TCP_CONGESTION {
			return 0 // reno is what netstack runs; accepted as Linux accepts known names
		}
		if e := needInt(); e != 0 {
			return e
		}
		switch name {
		case unix.TCP_NODELAY:
			opts.SetDelayOption(iv == 0)
			return 0
		case unix.TCP_CORK:
			opts.SetCorkOption(iv != 0)
			return 0
		case unix.TCP_QUICKACK:
			opts.SetQuickAck(iv != 0)
			return 0
		case unix.TCP_KEEPIDLE, unix.TCP_KEEPINTVL:
			if iv < 1 || iv > 32767 {
				return unix.EINVAL
			}
			var terr tcpip.Error
			if name == unix.TCP_KEEPIDLE {
				o := tcpip.KeepaliveIdleOption(time.Duration(iv) * time.Second)
				terr = so.ep.SetSockOpt(&o)
			} else {
				o := tcpip.KeepaliveIntervalOption(time.Duration(iv) * time.Second)
				terr = so.ep.SetSockOpt(&o)
			}
			if terr != nil {
				return errnoOf(terr)
			}
		case unix.TCP_KEEPCNT:
			if iv < 1 || iv > 127 {
				return unix.EINVAL
			}
			so.ep.SetSockOptInt(tcpip.KeepaliveCountOption, iv)
		}
		so.store(level, name, intBytes(iv))
		return 0
	case unix.IPPROTO_IPV6:
		if so.fam != unix.AF_INET6 || name < 1 || name > maxIPv6Opt {
			return unix.ENOPROTOOPT
		}
		if name == unix.IPV6_V6ONLY {
			if e := needInt(); e != 0 {
				return e
			}
			so.mu.Lock()
			busy := so.state != stIdle
			so.mu.Unlock()
			if local, _ := so.ep.GetLocalAddress(); busy || local.Port != 0 {
				return unix.EINVAL // as Linux: only before bind
			}
			opts.SetV6Only(iv != 0)
			return 0
		}
		switch name {
		case unix.IPV6_RECVPKTINFO:
			opts.SetIPv6ReceivePacketInfo(iv != 0)
		case unix.IPV6_RECVHOPLIMIT:
			opts.SetReceiveHopLimit(iv != 0)
		}
		so.store(level, name, val)
		return 0
	case unix.IPPROTO_IP:
		if name < 1 || name > maxIPOpt {
			return unix.ENOPROTOOPT
		}
		switch name {
		case unix.IP_PKTINFO:
			opts.SetReceivePacketInfo(iv != 0)
		case unix.IP_RECVTTL:
			opts.SetReceiveTTL(iv != 0)
		}
		so.store(level, name, val)
		return 0
	case unix.IPPROTO_UDP:
		if so.proto != unix.IPPROTO_UDP || name < 1 || name > maxUDPOpt {
			return unix.ENOPROTOOPT
		}
		so.store(level, name, val)
		return 0
	}
	return unix.ENOPROTOOPT
}

// store remembers an option only programs read back.
func (so *socket) store(level, name int32, val []byte) {
	so.mu.Lock()
	so.opts[optKey{level, name}] = append([]byte(nil), val...)
	so.mu.Unlock()
}
