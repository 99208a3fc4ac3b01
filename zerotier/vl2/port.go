package vl2

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"ztnc/zerotier/netconf"
)

// Port is the virtual Ethernet port of a joined network: the seam for a
// network stack (netstack.Port) plus addresses, routes, DNS and a config
// change notification.
type Port struct {
	n   *Network
	mac net.HardwareAddr

	mu       sync.Mutex
	recv     func(frame []byte)
	hold     func() // with release: the stack's receive offload (SetHolder)
	release  func()
	onChange []func()
}

func newPort(n *Network) *Port {
	return &Port{n: n, mac: n.MAC()}
}

// MAC is our Ethernet address on the network.
func (p *Port) MAC() net.HardwareAddr { return append(net.HardwareAddr(nil), p.mac...) }

// MTU is the network's MTU (2800 until a config says otherwise).
func (p *Port) MTU() uint32 {
	if c := p.n.Config(); c != nil {
		return uint32(c.MTU)
	}
	return netconf.DefaultMTU
}

// SetReceiver installs the function called with each frame for us.
func (p *Port) SetReceiver(f func(frame []byte)) {
	p.mu.Lock()
	p.recv = f
	p.mu.Unlock()
}

// SetHolder installs what the stack wants called around a run of frames
// delivered together (netstack.HoldingPort): the frames the node's socket
// reader takes in one read (Layer.HoldDeliveries).
func (p *Port) SetHolder(hold, release func()) {
	p.mu.Lock()
	p.hold, p.release = hold, release
	p.mu.Unlock()
	p.n.l.refreshHolds()
}

func (p *Port) deliver(frame []byte) {
	p.mu.Lock()
	f := p.recv
	p.mu.Unlock()
	if f != nil {
		f(frame)
	}
}

// ErrNoConfig is returned by WriteFrame before the network has a config.
var ErrNoConfig = errors.New("vl2: network has no config yet")

// WriteFrame sends one Ethernet frame (Switch::onLocalEthernet). Frames the
// network may not carry are dropped silently (counted), like a switch.
func (p *Port) WriteFrame(frame []byte) error {
	return p.n.l.sendFrame(p.n, frame)
}

// Addresses are the static IPs assigned by the controller.
func (p *Port) Addresses() []netip.Prefix { return p.n.Addresses() }

// Routes are the managed routes.
func (p *Port) Routes() []netconf.Route {
	if c := p.n.Config(); c != nil {
		return append([]netconf.Route(nil), c.Routes...)
	}
	return nil
}

// DNS is the network's DNS settings.
func (p *Port) DNS() netconf.DNS {
	if c := p.n.Config(); c != nil {
		return c.DNS
	}
	return netconf.DNS{}
}

// OnConfigChange registers f to run (not under any lock) after each new
// config and when the network is left.
func (p *Port) OnConfigChange(f func()) {
	p.mu.Lock()
	p.onChange = append(p.onChange, f)
	p.mu.Unlock()
}

// changedLocked queues the change callbacks (runs after l.mu is released).
func (p *Port) changedLocked() {
	p.mu.Lock()
	fs := append([]func(){}, p.onChange...)
	p.mu.Unlock()
	for _, f := range fs {
		p.n.l.later(f)
	}
}

// Subscribe adds a multicast group the port wants beyond the address
// resolution groups of its IPs (announced at once).
func (p *Port) Subscribe(g netconf.MulticastGroup) {
	l := p.n.l
	l.lock()
	defer l.unlock()
	if !p.n.extraGroups[g] {
		p.n.extraGroups[g] = true
		p.n.announceLocked(nowFn(), true)
	}
}
