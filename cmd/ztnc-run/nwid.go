package main

// --nwid: an in-process ZeroTier node whose joined networks become NICs of
// the supervised programs' stack.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"

	"ztnc/netstack"
	"ztnc/zerotier/service"
	"ztnc/zerotier/vl2"
)

// nwids is the repeatable --nwid flag.
type nwids []uint64

func (n *nwids) String() string { return fmt.Sprint(*n) }
func (n *nwids) Set(s string) error {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		id, err := strconv.ParseUint(f, 16, 64)
		if err != nil || len(f) != 16 {
			return fmt.Errorf("not a 16-digit hex network ID: %q", f)
		}
		*n = append(*n, id)
	}
	return nil
}

// defaultHome is $ZTNC_HOME, else ~/.ztnc.
func defaultHome() (string, error) {
	if h := os.Getenv("ZTNC_HOME"); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the node's identity (give -d HOME or set ZTNC_HOME): %w", err)
	}
	return filepath.Join(h, ".ztnc"), nil
}

// ztOptions say how to start the node and what to join.
type ztOptions struct {
	home, planet string
	port         int
	nets         []uint64
	wait         time.Duration
}

// errWait is a --wait timeout: ztnc-run exits 125 with the state of each
// network that was not ready.
var errWait = errors.New("gave up waiting")

// startZT starts the node, joins every network, waits until each has an
// address and attaches its port to st. It returns the running service and
// the addresses given to CMD.
func startZT(st *netstack.Stack, o ztOptions, stderr io.Writer, log *slog.Logger) (*service.Service, []netip.Prefix, error) {
	if err := os.MkdirAll(o.home, 0o700); err != nil {
		return nil, nil, fmt.Errorf("home %s: %w", o.home, err)
	}
	svc, err := service.Start(service.Options{Home: o.home, Port: o.port, PlanetFile: o.planet, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the ZeroTier node: %w", err)
	}
	me := svc.Node.Address()
	nets := make([]*vl2.Network, len(o.nets))
	for i, id := range o.nets {
		fmt.Fprintf(stderr, "ztnc-run: node %s joining %016x… requesting configuration…\n", me, id)
		nets[i] = svc.VL2.Join(id, nil)
	}
	shown := make([]string, len(nets))
	for i := range shown {
		shown[i] = "requesting configuration…" // said with "joining"
	}
	deadline := time.Now().Add(o.wait)
	for {
		ready := true
		var pending []string
		for i, n := range nets {
			msg, ok := netState(n, me.String())
			if !ok {
				ready = false
				pending = append(pending, fmt.Sprintf("%016x: %s", n.ID(), msg))
			}
			if msg != shown[i] {
				shown[i] = msg
				fmt.Fprintf(stderr, "ztnc-run: %016x: %s\n", n.ID(), msg)
			}
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			svc.Close()
			return nil, nil, fmt.Errorf("%w after --wait %s: %s", errWait, o.wait, strings.Join(pending, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var addrs []netip.Prefix
	for _, n := range nets {
		a, err := attachNetwork(st, n)
		if err != nil {
			svc.Close()
			return nil, nil, err
		}
		addrs = append(addrs, a...)
	}
	return svc, addrs, nil
}

// netState describes a network while waiting; ok once it has an address.
func netState(n *vl2.Network, me string) (string, bool) {
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
		return "the network requires SSO authentication, which ztnc-run does not support", false
	default:
		return s.String(), false
	}
}

// attachNetwork makes n's port a NIC with the config's addresses and routes,
// kept in step with later configs. It returns the addresses it added.
func attachNetwork(st *netstack.Stack, n *vl2.Network) ([]netip.Prefix, error) {
	port := n.Port()
	nic, err := st.AttachPort(fmt.Sprintf("zt%016x", n.ID()), port)
	if err != nil {
		return nil, fmt.Errorf("network %016x: %w", n.ID(), err)
	}
	s := &nicSync{st: st, nic: nic, port: port, addrs: map[netip.Prefix]bool{}, routes: map[vl2Route]bool{}}
	port.OnConfigChange(s.apply)
	if err := s.apply1(); err != nil {
		return nil, fmt.Errorf("network %016x: %w", n.ID(), err)
	}
	return port.Addresses(), nil
}

// nicSync applies a network's addresses and routes to its NIC.
type nicSync struct {
	st   *netstack.Stack
	nic  tcpip.NICID
	port *vl2.Port

	mu     sync.Mutex
	addrs  map[netip.Prefix]bool
	routes map[vl2Route]bool
}

type vl2Route struct {
	target netip.Prefix
	via    netip.Addr
}

func (s *nicSync) apply() {
	if err := s.apply1(); err != nil {
		slog.Warn("applying a network config", "nic", s.nic, "err", err)
	}
}

// apply1 brings the NIC's addresses and routes in line with the config.
func (s *nicSync) apply1() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[netip.Prefix]bool{}
	var errs []error
	for _, p := range s.port.Addresses() {
		want[p] = true
		if !s.addrs[p] {
			if err := s.st.AddAddress(s.nic, p); err != nil {
				errs = append(errs, err)
				continue
			}
			s.addrs[p] = true
		}
	}
	for p := range s.addrs {
		if !want[p] {
			s.st.RemoveAddress(s.nic, p)
			delete(s.addrs, p)
		}
	}
	wantRoutes := map[vl2Route]bool{}
	for _, r := range s.port.Routes() {
		k := vl2Route{r.Target, r.Via}
		wantRoutes[k] = true
		if !s.routes[k] {
			s.routes[k] = true
			s.st.AddRouteVia(s.nic, r.Target, r.Via)
		}
	}
	for k := range s.routes {
		if !wantRoutes[k] {
			s.st.RemoveRoute(s.nic, k.target, k.via)
			delete(s.routes, k)
		}
	}
	return errors.Join(errs...)
}
