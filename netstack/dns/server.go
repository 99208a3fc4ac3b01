package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"ztnc/netstack"
)

// Bounds: a stub resolver gives up after ~5 s; each server gets 2 s.
const (
	perServer   = 2 * time.Second
	perQuery    = 5 * time.Second
	tcpIdle     = 10 * time.Second
	maxInFlight = 256
	maxTCPConns = 64
	maxMessage  = 65535
)

// Server is the responder on the virtual stack.
type Server struct {
	*Answerer
	st    *netstack.Stack
	log   *slog.Logger
	slots chan struct{}
	// tcpSlots bounds the TCP connections served at once (each holds a
	// goroutine for up to tcpIdle).
	tcpSlots chan struct{}
	addrs    []netip.Addr

	mu      sync.Mutex
	closers []io.Closer // the listening sockets, for Stop
}

// NewServer makes a responder on st for the addresses addrs (the
// nameservers programs will ask). Each becomes an address of the stack's
// loopback NIC, routed there.
func NewServer(st *netstack.Stack, addrs []netip.Addr, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{Answerer: &Answerer{}, st: st, log: log, slots: make(chan struct{}, maxInFlight), tcpSlots: make(chan struct{}, maxTCPConns), addrs: addrs}
	s.Virtual = s.exchangeVirtual
	return s
}

// Addrs are the addresses the responder listens on.
func (s *Server) Addrs() []netip.Addr { return s.addrs }

// Start listens on UDP and TCP port 53 of every address.
func (s *Server) Start() error {
	for _, a := range s.addrs {
		a = a.Unmap()
		if a != netip.MustParseAddr("127.0.0.1") && a != netip.IPv6Loopback() {
			if err := s.st.AddAddress(netstack.LoopbackNIC, netip.PrefixFrom(a, a.BitLen())); err != nil {
				return fmt.Errorf("dns: %w", err)
			}
		}
		fa := tcpip.FullAddress{NIC: netstack.LoopbackNIC, Addr: tcpip.AddrFromSlice(a.AsSlice()), Port: 53}
		u, err := gonet.DialUDP(s.st.Stack, &fa, nil, proto(a))
		if err != nil {
			return fmt.Errorf("dns: UDP %s: %w", a, err)
		}
		l, err := gonet.ListenTCP(s.st.Stack, fa, proto(a))
		if err != nil {
			u.Close()
			return fmt.Errorf("dns: TCP %s: %w", a, err)
		}
		s.mu.Lock()
		s.closers = append(s.closers, u, l)
		s.mu.Unlock()
		go s.serveUDP(u)
		go s.serveTCP(l)
	}
	return nil
}

// Stop closes the responder's sockets, freeing port 53 for a DNS server
// of the programs' own (which then gets the queries, as a local server on
// a host would).
func (s *Server) Stop() {
	s.mu.Lock()
	cs := s.closers
	s.closers = nil
	s.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

func proto(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

func (s *Server) serveUDP(c *gonet.UDPConn) {
	buf := make([]byte, maxMessage)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			s.log.Debug("dns: UDP responder stops", "err", err)
			return
		}
		q := append([]byte(nil), buf[:n]...)
		s.slots <- struct{}{}
		go func() {
			defer func() { <-s.slots }()
			ctx, cancel := context.WithTimeout(context.Background(), perQuery)
			defer cancel()
			if r := s.Answer(ctx, q, false); r != nil {
				c.WriteTo(r, from)
			}
		}()
	}
}

func (s *Server) serveTCP(l *gonet.TCPListener) {
	for {
		c, err := l.Accept()
		if err != nil {
			s.log.Debug("dns: TCP responder stops", "err", err)
			return
		}
		select {
		case s.tcpSlots <- struct{}{}:
		default:
			c.Close() // as many connections as a resolver needs are open: shed this one
			continue
		}
		go func() {
			defer func() { <-s.tcpSlots }()
			s.serveConn(c)
		}()
	}
}

// serveConn answers length-prefixed queries on c, in order, until it idles.
func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	for {
		c.SetReadDeadline(time.Now().Add(tcpIdle))
		q, err := readMsg(c)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), perQuery)
		r := s.Answer(ctx, q, true)
		cancel()
		if r == nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(tcpIdle))
		if err := writeMsg(c, r); err != nil {
			return
		}
	}
}

func readMsg(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeMsg(w io.Writer, m []byte) error {
	if len(m) > maxMessage {
		return errors.New("dns: message too long")
	}
	b := make([]byte, 2, 2+len(m))
	binary.BigEndian.PutUint16(b, uint16(len(m)))
	_, err := w.Write(append(b, m...))
	return err
}

// exchangeVirtual asks a network's server, through the virtual stack.
func (s *Server) exchangeVirtual(ctx context.Context, server netip.AddrPort, q []byte, tcp bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, perServer)
	defer cancel()
	a := server.Addr().Unmap()
	fa := tcpip.FullAddress{Addr: tcpip.AddrFromSlice(a.AsSlice()), Port: server.Port()}
	var c net.Conn
	var err error
	if tcp {
		c, err = gonet.DialContextTCP(ctx, s.st.Stack, fa, proto(a))
	} else {
		c, err = gonet.DialUDP(s.st.Stack, nil, &fa, proto(a))
	}
	if err != nil {
		return nil, fmt.Errorf("dns: to %s: %w", server, err)
	}
	return exchangeOn(ctx, c, q, tcp)
}

// ExchangeHost asks one of the host's resolvers, through the host's stack
// (the supervisor is not itself supervised).
func ExchangeHost(ctx context.Context, server netip.AddrPort, q []byte, tcp bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, perServer)
	defer cancel()
	network := "udp"
	if tcp {
		network = "tcp"
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, server.String())
	if err != nil {
		return nil, fmt.Errorf("dns: to %s: %w", server, err)
	}
	return exchangeOn(ctx, c, q, tcp)
}

// exchangeOn sends q on c and reads one answer; it closes c.
func exchangeOn(ctx context.Context, c net.Conn, q []byte, tcp bool) ([]byte, error) {
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if tcp {
		if err := writeMsg(c, q); err != nil {
			return nil, err
		}
		return readMsg(c)
	}
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	b := make([]byte, maxMessage)
	n, err := c.Read(b)
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}
