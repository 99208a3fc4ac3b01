package supervisor

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"

	"ztnc/netstack"
)

// A supervised program's NETLINK_ROUTE socket is answered from the virtual
// stack: link, address and route dumps list the virtual interfaces (what
// getifaddrs, if_nameindex, `ip` and glibc's AI_ADDRCONFIG check read), and
// every change is refused with EPERM, as the kernel refuses an unprivileged
// caller. Requests come from the program, so parsing is bounded and never
// trusts a length.

const (
	nlmsgHdrLen = 16
	// nlDatagram bounds one reply datagram: the kernel's NLMSG_GOODSIZE on
	// 4 KiB pages, which glibc's getifaddrs (a 4 KiB buffer) relies on.
	nlDatagram = 3776
	// nlMaxRequests bounds the messages taken from one datagram.
	nlMaxRequests = 64
)

// nlMsg is one netlink message of a request.
type nlMsg struct {
	typ, flags uint16
	seq, pid   uint32
	body       []byte
	raw        []byte // header and body, for error replies
}

// parseNlMsgs splits a datagram into messages; it stops at the first one
// whose length is impossible (the kernel ignores what follows too).
func parseNlMsgs(b []byte) []nlMsg {
	var out []nlMsg
	for len(b) >= nlmsgHdrLen && len(out) < nlMaxRequests {
		l := binary.LittleEndian.Uint32(b)
		if l < nlmsgHdrLen || uint64(l) > uint64(len(b)) {
			break
		}
		m := nlMsg{
			typ:   binary.LittleEndian.Uint16(b[4:]),
			flags: binary.LittleEndian.Uint16(b[6:]),
			seq:   binary.LittleEndian.Uint32(b[8:]),
			pid:   binary.LittleEndian.Uint32(b[12:]),
			body:  b[nlmsgHdrLen:l],
			raw:   b[:l],
		}
		out = append(out, m)
		adv := nlAlign(int(l))
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	return out
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

// nlAttrs parses route attributes (struct rtattr) into type → value; at most
// 64 of them.
func nlAttrs(b []byte) map[uint16][]byte {
	out := map[uint16][]byte{}
	for len(b) >= 4 && len(out) < 64 {
		l := int(binary.LittleEndian.Uint16(b))
		t := binary.LittleEndian.Uint16(b[2:]) & 0x3fff // without NLA_F_NESTED/NET_BYTEORDER
		if l < 4 || l > len(b) {
			break
		}
		out[t] = b[4:l]
		if nlAlign(l) > len(b) {
			break
		}
		b = b[nlAlign(l):]
	}
	return out
}

// nlView is the network as the program's netlink socket reports it.
type nlView struct {
	ifs    []netstack.Interface
	routes []netstack.Route
}

// nlReplies answers one request datagram for the socket with port id
// portID; each returned slice is one datagram.
func (v *nlView) nlReplies(req []byte, portID uint32) [][]byte {
	w := &nlWriter{portID: portID}
	for _, m := range parseNlMsgs(req) {
		v.answer(w, m)
	}
	return w.flush()
}

func (v *nlView) answer(w *nlWriter, m nlMsg) {
	if m.typ < unix.RTM_BASE {
		switch m.typ {
		case unix.NLMSG_NOOP, unix.NLMSG_DONE, unix.NLMSG_ERROR:
			return // the kernel ignores control messages sent to it
		}
		w.errorMsg(m, unix.EINVAL)
		return
	}
	if m.typ >= unix.RTM_MAX+4 { // past the last family of messages
		w.errorMsg(m, unix.EOPNOTSUPP)
		return
	}
	if (m.typ-unix.RTM_BASE)%4 != 2 { // RTM_NEW*, RTM_DEL*, RTM_SET*
		w.errorMsg(m, unix.EPERM)
		return
	}
	dump := m.flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP
	fam := uint8(0)
	if len(m.body) > 0 {
		fam = m.body[0]
	}
	switch {
	case m.typ == unix.RTM_GETLINK && dump:
		for _, ifc := range v.ifs {
			w.link(m, ifc, unix.NLM_F_MULTI)
		}
		w.done(m)
	case m.typ == unix.RTM_GETLINK:
		ifc, ok := v.findLink(m.body)
		if !ok {
			w.errorMsg(m, unix.ENODEV)
			return
		}
		w.link(m, ifc, 0)
		w.ackIfAsked(m)
	case m.typ == unix.RTM_GETADDR && dump:
		index := uint32(0)
		if len(m.body) >= 8 {
			index = binary.LittleEndian.Uint32(m.body[4:])
		}
		for _, ifc := range v.ifs {
			if index != 0 && uint32(ifc.Index) != index {
				continue
			}
			for _, p := range ifc.Addrs {
				if famMatch(fam, p.Addr()) {
					w.addr(m, ifc, p)
				}
			}
		}
		w.done(m)
	case m.typ == unix.RTM_GETROUTE && dump:
		for _, r := range v.routes {
			if famMatch(fam, r.Dst.Addr()) {
				w.route(m, r, v.isLoopback(r.Index))
			}
		}
		w.done(m)
	case dump:
		w.done(m) // neighbours, rules, qdiscs…: none here
	default:
		w.errorMsg(m, unix.EOPNOTSUPP)
	}
}

func famMatch(fam uint8, a netip.Addr) bool {
	switch fam {
	case unix.AF_INET:
		return a.Is4()
	case unix.AF_INET6:
		return !a.Is4()
	}
	return true
}

func (v *nlView) isLoopback(index int) bool {
	for _, ifc := range v.ifs {
		if ifc.Index == index {
			return ifc.Loopback
		}
	}
	return false
}

// findLink finds the interface a non-dump RTM_GETLINK names, by index
// (struct ifinfomsg) or by IFLA_IFNAME.
func (v *nlView) findLink(body []byte) (netstack.Interface, bool) {
	if len(body) < 16 {
		return netstack.Interface{}, false
	}
	index := int32(binary.LittleEndian.Uint32(body[4:]))
	name := ""
	if n, ok := nlAttrs(body[16:])[unix.IFLA_IFNAME]; ok {
		name = cString(n)
	}
	for _, ifc := range v.ifs {
		if (index > 0 && int32(ifc.Index) == index) || (index <= 0 && name != "" && ifc.Name == name) {
			return ifc, true
		}
	}
	return netstack.Interface{}, false
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// nlWriter packs reply messages into datagrams of at most nlDatagram bytes.
type nlWriter struct {
	portID uint32
	out    [][]byte
	cur    []byte
}

func (w *nlWriter) put(msg []byte) {
	if len(w.cur) > 0 && len(w.cur)+len(msg) > nlDatagram {
		w.out = append(w.out, w.cur)
		w.cur = nil
	}
	w.cur = append(w.cur, msg...)
}

func (w *nlWriter) flush() [][]byte {
	if len(w.cur) > 0 {
		w.out = append(w.out, w.cur)
		w.cur = nil
	}
	return w.out
}

// msg lays out one message: header, fixed part, attributes.
type nlMsgBuf struct{ b []byte }

func (w *nlWriter) start(typ, flags uint16, seq uint32) *nlMsgBuf {
	b := make([]byte, nlmsgHdrLen, 256)
	binary.LittleEndian.PutUint16(b[4:], typ)
	binary.LittleEndian.PutUint16(b[6:], flags)
	binary.LittleEndian.PutUint32(b[8:], seq)
	binary.LittleEndian.PutUint32(b[12:], w.portID)
	return &nlMsgBuf{b}
}

func (m *nlMsgBuf) raw(p []byte) { m.b = append(m.b, p...) }

func (m *nlMsgBuf) attr(typ uint16, val []byte) {
	var h [4]byte
	binary.LittleEndian.PutUint16(h[:], uint16(4+len(val)))
	binary.LittleEndian.PutUint16(h[2:], typ)
	m.b = append(m.b, h[:]...)
	m.b = append(m.b, val...)
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

func (m *nlMsgBuf) u32(typ uint16, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	m.attr(typ, b[:])
}

func (w *nlWriter) end(m *nlMsgBuf) {
	binary.LittleEndian.PutUint32(m.b, uint32(len(m.b)))
	w.put(m.b)
}

func (w *nlWriter) done(req nlMsg) {
	m := w.start(unix.NLMSG_DONE, unix.NLM_F_MULTI, req.seq)
	m.raw(make([]byte, 4)) // int error = 0
	w.end(m)
}

// errorMsg answers req with errno e (0: an acknowledgement), quoting the
// request as the kernel does (only its header for an acknowledgement).
func (w *nlWriter) errorMsg(req nlMsg, e unix.Errno) {
	flags := uint16(0)
	quote := req.raw
	if e == 0 || len(quote) > 1024 {
		quote = quote[:nlmsgHdrLen]
		flags = 0x100 // NLM_F_CAPPED
	}
	m := w.start(unix.NLMSG_ERROR, flags, req.seq)
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(-int32(e)))
	m.raw(b[:])
	m.raw(quote)
	w.end(m)
}

func (w *nlWriter) ackIfAsked(req nlMsg) {
	if req.flags&unix.NLM_F_ACK != 0 {
		w.errorMsg(req, 0)
	}
}

const (
	iffLowerUp = 0x10000
	operUp     = 6 // IF_OPER_UP
	operUnkn   = 0 // IF_OPER_UNKNOWN, what lo reports
	txQueueLen = 1000
)

// ifFlags are the interface's IFF_* flags, as the kernel shows them.
func ifFlags(ifc netstack.Interface) uint32 {
	var f uint32
	if ifc.Up {
		f |= unix.IFF_UP | unix.IFF_RUNNING | iffLowerUp
	}
	if ifc.Loopback {
		f |= unix.IFF_LOOPBACK
	} else {
		f |= unix.IFF_BROADCAST | unix.IFF_MULTICAST
	}
	return f
}

func arpType(ifc netstack.Interface) uint16 {
	if ifc.Loopback {
		return unix.ARPHRD_LOOPBACK
	}
	return unix.ARPHRD_ETHER
}

func macOf(ifc netstack.Interface) []byte {
	if len(ifc.MAC) == 6 {
		return ifc.MAC
	}
	return make([]byte, 6)
}

func (w *nlWriter) link(req nlMsg, ifc netstack.Interface, flags uint16) {
	m := w.start(unix.RTM_NEWLINK, flags, req.seq)
	var fixed [16]byte // struct ifinfomsg
	binary.LittleEndian.PutUint16(fixed[2:], arpType(ifc))
	binary.LittleEndian.PutUint32(fixed[4:], uint32(ifc.Index))
	binary.LittleEndian.PutUint32(fixed[8:], ifFlags(ifc))
	m.raw(fixed[:])
	m.attr(unix.IFLA_IFNAME, append([]byte(ifc.Name), 0))
	m.u32(unix.IFLA_TXQLEN, txQueueLen)
	oper := byte(operUp)
	if ifc.Loopback {
		oper = operUnkn
	}
	m.attr(unix.IFLA_OPERSTATE, []byte{oper})
	m.attr(unix.IFLA_LINKMODE, []byte{0})
	m.u32(unix.IFLA_MTU, ifc.MTU)
	m.u32(unix.IFLA_GROUP, 0)
	m.attr(unix.IFLA_QDISC, []byte("noqueue\x00"))
	m.attr(unix.IFLA_ADDRESS, macOf(ifc))
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if ifc.Loopback {
		bcast = make([]byte, 6)
	}
	m.attr(unix.IFLA_BROADCAST, bcast)
	w.end(m)
}

func (w *nlWriter) addr(req nlMsg, ifc netstack.Interface, p netip.Prefix) {
	m := w.start(unix.RTM_NEWADDR, unix.NLM_F_MULTI, req.seq)
	a := p.Addr()
	fam, scope := uint8(unix.AF_INET6), uint8(unix.RT_SCOPE_UNIVERSE)
	if a.Is4() {
		fam = unix.AF_INET
	}
	switch {
	case a.IsLoopback():
		scope = unix.RT_SCOPE_HOST
	case a.IsLinkLocalUnicast():
		scope = unix.RT_SCOPE_LINK
	}
	m.raw([]byte{fam, uint8(p.Bits()), unix.IFA_F_PERMANENT, scope, 0, 0, 0, 0})
	binary.LittleEndian.PutUint32(m.b[nlmsgHdrLen+4:], uint32(ifc.Index))
	m.attr(unix.IFA_ADDRESS, a.AsSlice())
	if a.Is4() {
		m.attr(unix.IFA_LOCAL, a.AsSlice())
		if !ifc.Loopback && p.Bits() < 31 {
			m.attr(unix.IFA_BROADCAST, broadcast(p).AsSlice())
		}
		m.attr(unix.IFA_LABEL, append([]byte(ifc.Name), 0))
	}
	m.u32(unix.IFA_FLAGS, unix.IFA_F_PERMANENT)
	var ci [16]byte // struct ifa_cacheinfo: preferred and valid forever
	binary.LittleEndian.PutUint32(ci[0:], 0xffffffff)
	binary.LittleEndian.PutUint32(ci[4:], 0xffffffff)
	m.attr(unix.IFA_CACHEINFO, ci[:])
	w.end(m)
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := binary.BigEndian.Uint32(b[:]) | host
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func (w *nlWriter) route(req nlMsg, r netstack.Route, lo bool) {
	m := w.start(unix.RTM_NEWROUTE, unix.NLM_F_MULTI, req.seq)
	fam := uint8(unix.AF_INET6)
	if r.Dst.Addr().Is4() {
		fam = unix.AF_INET
	}
	table, proto, scope, typ := uint8(unix.RT_TABLE_MAIN), uint8(unix.RTPROT_KERNEL), uint8(unix.RT_SCOPE_LINK), uint8(unix.RTN_UNICAST)
	switch {
	case lo:
		// The kernel keeps loopback's routes in the local table.
		table, scope, typ = unix.RT_TABLE_LOCAL, unix.RT_SCOPE_HOST, unix.RTN_LOCAL
	case r.Gateway.IsValid():
		proto, scope = unix.RTPROT_STATIC, unix.RT_SCOPE_UNIVERSE
	}
	if fam == unix.AF_INET6 && !lo {
		scope = unix.RT_SCOPE_UNIVERSE // IPv6 routes are all universe scope
	}
	m.raw([]byte{fam, uint8(r.Dst.Bits()), 0, 0, table, proto, scope, typ, 0, 0, 0, 0})
	m.u32(unix.RTA_TABLE, uint32(table))
	if r.Dst.Bits() > 0 {
		m.attr(unix.RTA_DST, r.Dst.Addr().AsSlice())
	}
	if r.Gateway.IsValid() {
		m.attr(unix.RTA_GATEWAY, r.Gateway.AsSlice())
	}
	m.u32(unix.RTA_OIF, uint32(r.Index))
	w.end(m)
}
