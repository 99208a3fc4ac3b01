// Package path is one physical route to a peer (a local socket and a remote
// UDP address) with ZeroTier One 1.14's liveness rules (node/Path.hpp), the
// IP scope classification (InetAddress::ipScope) and the acceptability test
// for learning a path (Path::isAddressValidForPath).
package path

import (
	"net/netip"
	"time"
)

// Liveness constants (node/Constants.hpp, node/Path.hpp).
const (
	HeartbeatPeriod = 14 * time.Second                // ZT_PATH_HEARTBEAT_PERIOD
	AliveWindow     = HeartbeatPeriod + 5*time.Second // received within this: alive
	Expiration      = 4*time.Minute + 3*time.Second   // ZT_PEER_PATH_EXPIRATION
	ConfirmInterval = time.Second                     // path-confirmation HELLO rate limit
	EchoReplyLimit  = time.Second / 6                 // ECHO replies per physical path
	UnknownLatency  = 0xffff                          // latency before the first OK(HELLO) RTT
	MaxPerPeer      = 64                              // ZT_MAX_PEER_NETWORK_PATHS
)

// Scope is InetAddress::IpScope; higher numbers are preferred.
type Scope int

const (
	ScopeNone          Scope = 0
	ScopeMulticast     Scope = 1
	ScopeLoopback      Scope = 2
	ScopePseudoPrivate Scope = 3
	ScopeGlobal        Scope = 4
	ScopeLinkLocal     Scope = 5
	ScopeShared        Scope = 6
	ScopePrivate       Scope = 7
)

var (
	private4 = mustPrefixes("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16",
		"192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24")
	pseudo4 = mustPrefixes("6.0.0.0/8", "11.0.0.0/8", "21.0.0.0/8", "22.0.0.0/8", "25.0.0.0/8",
		"26.0.0.0/8", "28.0.0.0/8", "29.0.0.0/8", "30.0.0.0/8", "51.0.0.0/8", "55.0.0.0/8",
		"56.0.0.0/8", "240.0.0.0/4")
	heTunnels = netip.MustParsePrefix("2001:470::/32")
	fe80one   = netip.MustParseAddr("fe80::1")
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func in(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ScopeOf classifies an address as 1.14 does (first match wins).
func ScopeOf(a netip.Addr) Scope {
	if a.Is4In6() && a.Unmap().As4()[0] == 127 {
		return ScopeLoopback // 1.14: IPv4-mapped loopback
	}
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0 || b[0] == 255:
			return ScopeNone
		case b[0]&0xf0 == 224:
			return ScopeMulticast
		case b[0] == 127:
			return ScopeLoopback
		case in(a, pseudo4):
			return ScopePseudoPrivate
		case b[0] == 169 && b[1] == 254:
			return ScopeLinkLocal
		case in(a, private4):
			return ScopePrivate
		}
		return ScopeGlobal
	}
	if !a.Is6() {
		return ScopeNone
	}
	b := a.As16()
	switch {
	case a.IsUnspecified():
		return ScopeNone
	case b[0] == 0xff:
		return ScopeMulticast
	case a.IsLoopback() || a.WithZone("") == fe80one:
		return ScopeLoopback
	case b[0] == 0xfe && b[1]&0xc0 == 0x80:
		return ScopeLinkLocal
	case b[0]&0xfe == 0xfc:
		return ScopePrivate
	}
	return ScopeGlobal
}

// Acceptable reports whether a remote address may become a path
// (Path::isAddressValidForPath). ZeroTier One refuses loopback; our nodes
// accept it among themselves when allowLoopback is set, so several nodes can
// run on one host.
func Acceptable(ap netip.AddrPort, allowLoopback bool) bool {
	a := ap.Addr().Unmap()
	if !a.IsValid() || ap.Port() == 0 {
		return false
	}
	switch ScopeOf(a) {
	case ScopePrivate, ScopePseudoPrivate, ScopeShared, ScopeGlobal:
		return !(a.Is6() && heTunnels.Contains(a))
	case ScopeLoopback:
		return allowLoopback
	}
	return false
}

// Path is a (local socket, remote address) pair. It is not synchronized: the
// owning node guards it.
type Path struct {
	Local       int            // index of the node's local socket
	LocalPort   uint16         // that socket's port, for the API
	Remote      netip.AddrPort // always unmapped
	LastSend    time.Time
	LastReceive time.Time
	LastConfirm time.Time // last path-confirmation HELLO sent here
	LastEchoIn  time.Time // last ECHO answered on this path
	Latency     int       // ms, UnknownLatency until measured
}

// New makes a path with unknown latency.
func New(local int, localPort uint16, remote netip.AddrPort) *Path {
	return &Path{Local: local, LocalPort: localPort, Remote: Unmap(remote), Latency: UnknownLatency}
}

// Unmap turns IPv4-mapped IPv6 (as a dual-stack socket reports) into IPv4.
func Unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Alive: something was received within 19 s.
func (p *Path) Alive(now time.Time) bool { return now.Sub(p.LastReceive) < AliveWindow }

// NeedsHeartbeat: nothing was sent for 14 s.
func (p *Path) NeedsHeartbeat(now time.Time) bool { return now.Sub(p.LastSend) >= HeartbeatPeriod }

// Expired: nothing was received for 243 s.
func (p *Path) Expired(now time.Time) bool { return now.Sub(p.LastReceive) >= Expiration }

// UpdateLatency folds an RTT sample in as 1.14 does (average with the last
// value once one exists).
func (p *Path) UpdateLatency(ms int) {
	if ms < 0 {
		return
	}
	if p.Latency == UnknownLatency {
		p.Latency = ms
	} else {
		p.Latency = (p.Latency + ms) / 2
	}
}

// Quality is the 1.14 path score; lower is better (Switch/Peer::_getBestPath).
func (p *Path) Quality(now time.Time) int64 {
	q := int64(p.Latency)
	if !p.Alive(now) {
		age := now.Sub(p.LastReceive).Milliseconds()
		q += 0xffff + min(age, 140_000)
	}
	return q * int64(8-ScopeOf(p.Remote.Addr()))
}
