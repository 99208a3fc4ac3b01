package netstack

import (
	"crypto/rand"
	"fmt"
	"net"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Port is a virtual Ethernet port: what a network (a --local network, or a
// joined ZeroTier network) looks like to the stack.
type Port interface {
	// MAC is the port's Ethernet address.
	MAC() net.HardwareAddr
	// MTU is the largest IP packet the port carries.
	MTU() uint32
	// WriteFrame sends one Ethernet frame out. The port must not keep frame.
	WriteFrame(frame []byte) error
	// SetReceiver installs the function the port calls with each frame in.
	SetReceiver(func(frame []byte))
}

// BatchPort is a Port that can send several frames in one call (one lock
// and one system call for all of them, where a frame at a time costs one
// each). It must not keep the frames.
type BatchPort interface {
	Port
	WriteFrames(frames [][]byte) error
}

type portLink struct {
	port Port
	ep   *portEndpoint
}

func (p *portLink) close() {}

// AttachPort adds a NIC bound to port and returns its id.
func (st *Stack) AttachPort(name string, port Port) (tcpip.NICID, error) {
	ep := newPortEndpoint(port)
	st.mu.Lock()
	id := st.nextNIC
	st.nextNIC++
	st.mu.Unlock()
	ep.stack, ep.nic, ep.holds = st.Stack, id, &st.holds
	if err := st.CreateNICWithOptions(id, ep, stack.NICOptions{Name: name}); err != nil {
		return 0, fmt.Errorf("netstack: NIC %s: %s", name, err)
	}
	st.mu.Lock()
	st.ports[id] = &portLink{port: port, ep: ep}
	st.mu.Unlock()
	return id, nil
}

// NullPort is a port with nothing on the other side: a --local network's
// only host is ourselves. Frames out are counted and dropped.
type NullPort struct {
	mac     net.HardwareAddr
	mtu     uint32
	Dropped atomic.Uint64
}

// NewNullPort returns a port with a random locally administered MAC.
func NewNullPort(mtu uint32) *NullPort {
	mac := make(net.HardwareAddr, 6)
	rand.Read(mac)
	mac[0] = mac[0]&^1 | 2
	return &NullPort{mac: mac, mtu: mtu}
}

func (p *NullPort) MAC() net.HardwareAddr          { return p.mac }
func (p *NullPort) MTU() uint32                    { return p.mtu }
func (p *NullPort) WriteFrame([]byte) error        { p.Dropped.Add(1); return nil }
func (p *NullPort) SetReceiver(func(frame []byte)) {}

// DetachPort removes a NIC AttachPort made, with its addresses and routes
// (a network left, or joined anew with a new port).
func (st *Stack) DetachPort(id tcpip.NICID) error {
	st.mu.Lock()
	pl := st.ports[id]
	delete(st.ports, id)
	kept := st.routes[:0]
	for _, r := range st.routes {
		if r.NIC != id {
			kept = append(kept, r)
		}
	}
	st.routes = kept
	st.SetRouteTable(st.routes)
	st.mu.Unlock()
	if pl == nil {
		return fmt.Errorf("netstack: no port on NIC %d", id)
	}
	pl.port.SetReceiver(nil)
	pl.close()
	if err := st.RemoveNIC(id); err != nil {
		return fmt.Errorf("netstack: removing NIC %d: %s", id, err)
	}
	return nil
}
