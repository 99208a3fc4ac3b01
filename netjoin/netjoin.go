// Package netjoin puts joined ZeroTier networks on a netstack: it waits
// until each network has given the node an address, then makes the
// network's port a NIC whose addresses and routes follow the network's
// config. ztnc-run uses it for its in-process node, `ztnc service` for the
// node its programs share.
package netjoin

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"

	"ztnc/netstack"
	"ztnc/zerotier/vl2"
)

// State describes a network while waiting; ok once it has an address.
// me is the node's address, named when the controller has yet to authorize it.
func State(n *vl2.Network, me string) (string, bool) {
	switch s := n.Status(); s {
	case vl2.StatusOK:
		if a := n.Addresses(); len(a) > 0 {
			var ss []string
			for _, p := range a {
				ss = append(ss, p.String())
			}
			return "ready: " + strings.Join(ss, " "), true
		}
		return "configured, waiting for the controller to assign an address", false
	case vl2.StatusRequestingConfiguration:
		return "requesting configuration…", false
	case vl2.StatusAccessDenied:
		return "waiting for authorization: ask the network's admin to authorize member " + me, false
	case vl2.StatusNotFound:
		return "the network's controller says it does not exist (still asking)", false
	case vl2.StatusAuthenticationRequired:
		return "the network requires SSO authentication, which ztnc does not support", false
	default:
		return s.String(), false
	}
}

// ErrWait is returned by Wait when ctx ends.
var ErrWait = errors.New("gave up waiting")

// Wait polls until every network has an address. report is called with each
// network's state when it changes ("requesting configuration…" is taken as
// already said); an error from report ends the wait with that error. When
// ctx ends Wait returns ErrWait wrapped with the state of each network not
// ready.
func Wait(ctx context.Context, nets []*vl2.Network, me string, report func(n *vl2.Network, state string) error) error {
	shown := make([]string, len(nets))
	for i := range shown {
		shown[i] = "requesting configuration…"
	}
	for {
		ready := true
		var pending []string
		for i, n := range nets {
			msg, ok := State(n, me)
			if !ok {
				ready = false
				pending = append(pending, fmt.Sprintf("%016x: %s", n.ID(), msg))
			}
			if msg != shown[i] {
				shown[i] = msg
				if err := report(n, msg); err != nil {
					return err
				}
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ErrWait, strings.Join(pending, "; "))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// NIC is a network's port attached to a stack.
type NIC struct {
	st   *netstack.Stack
	id   tcpip.NICID
	net  *vl2.Network
	port *vl2.Port

	mu       sync.Mutex
	detached bool
	addrs    map[netip.Prefix]bool
	routes   map[route]bool
}

type route struct {
	target netip.Prefix
	via    netip.Addr
}

// Attach makes n's port a NIC of st with the config's addresses and routes,
// kept in step with later configs.
func Attach(st *netstack.Stack, n *vl2.Network) (*NIC, error) {
	port := n.Port()
	id, err := st.AttachPort(IfName(n.ID()), port)
	if err != nil {
		return nil, fmt.Errorf("network %016x: %w", n.ID(), err)
	}
	a := &NIC{st: st, id: id, net: n, port: port, addrs: map[netip.Prefix]bool{}, routes: map[route]bool{}}
	port.OnConfigChange(a.apply)
	if err := a.sync(); err != nil {
		a.Detach() // a NIC half set up must not stay in the stack
		return nil, fmt.Errorf("network %016x: %w", n.ID(), err)
	}
	return a, nil
}

// Network is the network the NIC belongs to.
func (a *NIC) Network() *vl2.Network { return a.net }

// Addresses are the node's addresses on the network now.
func (a *NIC) Addresses() []netip.Prefix { return a.port.Addresses() }

// Detach removes the NIC from the stack; later configs are ignored.
func (a *NIC) Detach() error {
	a.mu.Lock()
	a.detached = true
	for p := range a.addrs {
		a.st.RemoveAddress(a.id, p) // also the loopback's copy, which outlives the NIC
	}
	a.addrs = nil
	a.mu.Unlock()
	return a.st.DetachPort(a.id)
}

func (a *NIC) apply() {
	if err := a.sync(); err != nil {
		slog.Warn("applying a network config", "nic", a.id, "err", err)
	}
}

// sync brings the NIC's addresses and routes in line with the config.
func (a *NIC) sync() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.detached {
		return nil
	}
	want := map[netip.Prefix]bool{}
	var errs []error
	for _, p := range a.port.Addresses() {
		want[p] = true
		if !a.addrs[p] {
			if err := a.st.AddAddress(a.id, p); err != nil {
				errs = append(errs, err)
				continue
			}
			a.addrs[p] = true
		}
	}
	for p := range a.addrs {
		if !want[p] {
			a.st.RemoveAddress(a.id, p)
			delete(a.addrs, p)
		}
	}
	wantRoutes := map[route]bool{}
	for _, r := range a.port.Routes() {
		k := route{r.Target, r.Via}
		wantRoutes[k] = true
		if !a.routes[k] {
			a.routes[k] = true
			a.st.AddRouteVia(a.id, r.Target, r.Via)
		}
	}
	for k := range a.routes {
		if !wantRoutes[k] {
			a.st.RemoveRoute(a.id, k.target, k.via)
			delete(a.routes, k)
		}
	}
	return errors.Join(errs...)
}

// IfName is the interface name ZeroTier One gives the network on Linux (what
// getifaddrs and `ip` show inside): "zt" and the base32 of 40 bits of the
// id. It fits IFNAMSIZ, as programs that copy it into a struct ifreq need.
func IfName(nwid uint64) string {
	v := (nwid ^ (nwid >> 24)) & 0xffffffffff
	var b [5]byte
	for i := range b {
		b[i] = byte(v >> (32 - 8*i))
	}
	return "zt" + strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}
