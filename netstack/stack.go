// Package netstack is the userspace TCP/IP stack the supervised programs'
// sockets live on: one gVisor stack with a private loopback NIC and one NIC
// per attached virtual Ethernet port (a --local network, or a ZeroTier
// network's port).
package netstack

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// LoopbackNIC is the id of the private loopback NIC.
const LoopbackNIC tcpip.NICID = 1

// Stack is one userspace network stack.
type Stack struct {
	*stack.Stack

	mu      sync.Mutex
	nextNIC tcpip.NICID
	routes  []tcpip.Route
	ports   map[tcpip.NICID]*portLink

	holds sendHolds // sendhold.go
}

// New returns a stack with IPv4, IPv6, ARP, TCP, UDP and ICMP echo, tuned as
// the anchors advise, and with its private loopback (127.0.0.0/8, ::1).
func New() (*Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		// Connections to one of our own addresses on a non-loopback NIC are
		// delivered locally, as the kernel does.
		HandleLocal: true,
		Clock:       newCoarseClock(), // coarseclock.go
	})
	if err := tune(s); err != nil {
		return nil, err
	}
	st := &Stack{Stack: s, nextNIC: LoopbackNIC + 1, ports: map[tcpip.NICID]*portLink{}}
	if err := st.addLoopback(); err != nil {
		return nil, err
	}
	return st, nil
}

// timeWait is how long a connection closed here first stays in TIME-WAIT:
// 5 s, where Linux keeps 60 s. A gVisor endpoint in TIME-WAIT is a whole
// endpoint (kilobytes, and a timer), where Linux keeps a small bucket and at
// most 131,072 of them: a server closing 1,900 connections/s grew to 1 GB in
// the minute it took the first to expire. What TIME-WAIT is for still holds:
// the peer's FIN, retransmitted if our last ACK was lost, is acknowledged
// again (its retransmission timeout is 0.2–1 s), and a delayed segment of
// the old connection finds no new one to corrupt: a new connection request
// ends the TIME-WAIT anyway (timewait.go).
const timeWait = 5 * time.Second

func tune(s *stack.Stack) error {
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	// reno rather than cubic: gVisor's cubic had an integer overflow (gvisor#11632).
	cc := tcpip.CongestionControlOption("reno")
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: 1 << 20, Max: 8 << 20}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: 1 << 20, Max: 6 << 20}
	tw := tcpip.TCPTimeWaitTimeoutOption(timeWait)
	for _, o := range []tcpip.SettableTransportProtocolOption{&sack, &moderate, &cc, &rcv, &snd, &tw} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("netstack: tcp option %T: %s", o, err)
		}
	}
	return nil
}

func (st *Stack) addLoopback() error {
	if err := st.CreateNICWithOptions(LoopbackNIC, loopback.New(), stack.NICOptions{Name: "lo"}); err != nil {
		return fmt.Errorf("netstack: loopback NIC: %s", err)
	}
	for _, p := range []string{"127.0.0.1/8", "::1/128"} {
		if err := st.AddAddress(LoopbackNIC, netip.MustParsePrefix(p)); err != nil {
			return err
		}
	}
	return nil
}

// AddAddress assigns prefix's address to nic and routes prefix's subnet
// through it.
func (st *Stack) AddAddress(nic tcpip.NICID, prefix netip.Prefix) error {
	proto := ipv4.ProtocolNumber
	if prefix.Addr().Is6() && !prefix.Addr().Is4In6() {
		proto = ipv6.ProtocolNumber
	}
	a := tcpip.AddrFromSlice(prefix.Addr().Unmap().AsSlice())
	pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: a, PrefixLen: prefix.Bits()}}
	if err := st.AddProtocolAddress(nic, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("netstack: adding %s to NIC %d: %s", prefix, nic, err)
	}
	if nic != LoopbackNIC {
		// Traffic to our own address travels through the loopback NIC; there
		// the address must be a real one, or gVisor treats it as temporary and
		// does not answer ICMP echo.
		own := pa
		own.AddressWithPrefix.PrefixLen = a.BitLen()
		if err := st.AddProtocolAddress(LoopbackNIC, own, stack.AddressProperties{}); err != nil {
			return fmt.Errorf("netstack: adding %s to loopback: %s", prefix.Addr(), err)
		}
	}
	st.AddRouteVia(nic, prefix.Masked(), netip.Addr{})
	return nil
}

// RemoveAddress undoes AddAddress: the address leaves nic (and loopback),
// and its subnet route goes.
func (st *Stack) RemoveAddress(nic tcpip.NICID, prefix netip.Prefix) {
	a := tcpip.AddrFromSlice(prefix.Addr().Unmap().AsSlice())
	st.Stack.RemoveAddress(nic, a)
	if nic != LoopbackNIC {
		st.Stack.RemoveAddress(LoopbackNIC, a)
	}
	st.RemoveRoute(nic, prefix.Masked(), netip.Addr{})
}

// AddRouteVia routes dst through nic, to gateway gw when it is valid.
func (st *Stack) AddRouteVia(nic tcpip.NICID, dst netip.Prefix, gw netip.Addr) {
	r, ok := route(nic, dst, gw)
	if !ok {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.routes = append(st.routes, r)
	st.SetRouteTable(st.routes)
}

// RemoveRoute removes the route AddRouteVia made with the same arguments.
func (st *Stack) RemoveRoute(nic tcpip.NICID, dst netip.Prefix, gw netip.Addr) {
	r, ok := route(nic, dst, gw)
	if !ok {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, x := range st.routes {
		if x == r {
			st.routes = append(st.routes[:i], st.routes[i+1:]...)
			break
		}
	}
	st.SetRouteTable(st.routes)
}

func route(nic tcpip.NICID, dst netip.Prefix, gw netip.Addr) (tcpip.Route, bool) {
	sub, err := tcpip.NewSubnet(tcpip.AddrFromSlice(dst.Addr().Unmap().AsSlice()), tcpip.MaskFromBytes(prefixMask(dst)))
	if err != nil {
		return tcpip.Route{}, false
	}
	r := tcpip.Route{Destination: sub, NIC: nic}
	if gw.IsValid() {
		r.Gateway = tcpip.AddrFromSlice(gw.Unmap().AsSlice())
	}
	return r, true
}

func prefixMask(p netip.Prefix) []byte {
	n := 4
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		n = 16
	}
	m := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// Close tears the stack down.
func (st *Stack) Close() {
	st.mu.Lock()
	for _, p := range st.ports {
		p.close()
	}
	st.mu.Unlock()
	st.holds.fins.close()
	st.Stack.Close()
}
