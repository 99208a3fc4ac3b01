// Package service runs a node the way ZeroTier One's service does: in a home
// directory with its layout (identity.secret 0600, identity.public, planet,
// moons.d/, authtoken.secret 0600, zerotier-one.port), on UDP port 9993 (or
// another if that is taken), with the local HTTP API on 127.0.0.1 at the same
// port number.
package service

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/api"
	"ztnc/zerotier/controller"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/netapi"
	"ztnc/zerotier/node"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/peercache"
	"ztnc/zerotier/topology"
	"ztnc/zerotier/vl2"
)

// DefaultHome is ZeroTier One's home on Linux.
const DefaultHome = "/var/lib/zerotier-one"

// Options configure a service.
type Options struct {
	Home string
	// Port is the UDP and API port; 0 means 9993, falling back to a free
	// port if that is taken. An explicit port that is taken is an error.
	Port int
	// PlanetFile replaces home/planet (and is written there).
	PlanetFile string
	// ListenIP restricts the UDP socket (default: all addresses, dual stack).
	ListenIP netip.Addr
	// Node tuning for tests; zero values mean ZeroTier One's defaults.
	PingInterval   time.Duration
	HelloRateLimit time.Duration
	OnUserMessage  func(node.UserMessage)
	Logger         *slog.Logger
	// Networks, when not nil, are the only networks joined at start (each
	// with its config saved in networks.d, if any); by default every network
	// saved there is joined again, as zerotier-one does. Networks saved and
	// not listed stay saved.
	Networks []uint64
}

// Service is a running node with its API.
type Service struct {
	Node *node.Node
	// VL2 is the virtual network layer; Controller serves our networks.
	VL2        *vl2.Layer
	Controller *controller.Controller
	Port       int
	Home       string
	Token      string
	http       *http.Server
	ln         net.Listener
	done       chan error
}

// Start prepares the home directory and starts the node and the API.
func Start(o Options) (*Service, error) {
	if o.Home == "" {
		o.Home = DefaultHome
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(o.Home, 0o700); err != nil {
		return nil, fmt.Errorf("service: home: %w", err)
	}
	id, created, err := identity.LoadOrGenerate(o.Home)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if created {
		log.Info("generated a new identity", "address", id.Address, "home", o.Home)
	}
	token, err := loadOrCreateToken(o.Home)
	if err != nil {
		return nil, err
	}
	var override []byte
	if o.PlanetFile != "" {
		if override, err = os.ReadFile(o.PlanetFile); err != nil {
			return nil, fmt.Errorf("service: planet: %w", err)
		}
	}
	topo, err := topology.Load(o.Home, override)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	lc, err := ReadLocalConf(o.Home)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	udp, ln, port, err := bind(o.Port, o.ListenIP, lastPort(o.Home), SecondaryPort(id.Address))
	if err != nil {
		return nil, err
	}
	layer := vl2.New(vl2.Options{Logger: log, PingInterval: o.PingInterval})
	store := &netapi.Store{Dir: filepath.Join(o.Home, "networks.d")}
	layer.SetSaveConfig(func(nwid uint64, dict []byte) {
		if err := store.Save(nwid, dict); err != nil {
			log.Warn("saving network config", "err", err)
		}
	})
	done := make(chan error, 2) // the API server's exit and a collision
	n, err := node.New(node.Config{
		OnIdentityCollision: func(root address.Address) {
			log.Error("identity/address collision reported by an upstream", "upstream", root, "address", id.Address)
			select {
			case done <- ErrIdentityCollision:
			default:
			}
		},
		VL2: layer.Handle, HoldDeliveries: layer.HoldDeliveries,
		Identity: id, Topology: topo, Conns: []*net.UDPConn{udp}, AllowLoopback: true,
		PingInterval: o.PingInterval, HelloRateLimit: o.HelloRateLimit, PhysicalPaths: lc.Physical,
		OnUserMessage: o.OnUserMessage, Logger: log,
		PeerCache: peercache.Dir(filepath.Join(o.Home, peercache.DirName)),
	})
	if err != nil {
		udp.Close()
		ln.Close()
		return nil, fmt.Errorf("service: %w", err)
	}
	// The port file is written after both sockets are bound so a CLI that
	// finds it can connect.
	if err := os.WriteFile(filepath.Join(o.Home, api.PortFile), []byte(strconv.Itoa(port)), 0o644); err != nil {
		udp.Close()
		ln.Close()
		return nil, fmt.Errorf("service: port file: %w", err)
	}
	layer.Attach(n)
	ctl, err := controller.New(o.Home, id, layer, log)
	if err != nil {
		udp.Close()
		ln.Close()
		return nil, fmt.Errorf("service: %w", err)
	}
	layer.SetController(ctl)
	joined, err := store.Joined()
	if err != nil {
		log.Warn("reading networks.d", "err", err)
	}
	for nwid, dict := range joined {
		if o.Networks == nil || slices.Contains(o.Networks, nwid) {
			layer.Join(nwid, dict)
		}
	}
	s := &Service{Node: n, VL2: layer, Controller: ctl, Port: port, Home: o.Home, Token: token, ln: ln, done: done}
	srv := &api.Server{Node: n, Token: token, Settings: api.Settings{HomeDir: o.Home, PrimaryPort: uint16(port)},
		Networks: &netapi.Handler{Layer: layer, Store: store}, Controller: ctl.Handler(), VL2Counters: layer.Counters.Snapshot}
	s.http = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	n.Start()
	layer.Start()
	go func() { s.done <- s.http.Serve(api.HostlessListener(ln)) }()
	log.Info("node running", "address", id.Address, "port", port, "planet", fmt.Sprintf("%016x", topo.Planet().ID), "root", n.AmRoot())
	return s, nil
}

// Close stops the API and the node.
func (s *Service) Close() error {
	err := s.http.Close()
	s.VL2.Close()
	s.Node.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// Done delivers why the service stopped working: the API server's exit
// error, or ErrIdentityCollision.
func (s *Service) Done() <-chan error { return s.done }

// ErrIdentityCollision is delivered on Done when an upstream reports that
// another identity holds our address. ZeroTier One then stops, sets its
// identity aside (SetAsideIdentity) and starts again, which makes a new one.
var ErrIdentityCollision = errors.New("identity/address collision")

// SetAsideIdentity moves identity.secret to
// identity.secret.saved_after_collision and removes identity.public, as
// ZeroTier One does after a collision, so the next start generates a new
// identity. The saved copy stays 0600.
func SetAsideIdentity(home string) error {
	secret := filepath.Join(home, "identity.secret")
	if err := os.Rename(secret, secret+".saved_after_collision"); err != nil {
		return fmt.Errorf("service: setting identity aside: %w", err)
	}
	if err := os.Remove(filepath.Join(home, "identity.public")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("service: setting identity aside: %w", err)
	}
	return nil
}

// SecondaryPort is ZeroTier One 1.14's secondary port for a node address,
// 20000 + address % 45500: where a node goes when 9993 is taken. Being the
// same on every start, it keeps the node's path to its peers: a restart on a
// new random port from the same IP is not learned by peers while the old
// path still looks alive (path learning's flap guard), and for up to 19 s
// they keep answering the dead port.
func SecondaryPort(a address.Address) int { return 20000 + int(uint64(a)%45500) }

// lastPort is the port the node had when it last ran (the port file), 0 if
// none.
func lastPort(home string) int {
	b, err := os.ReadFile(filepath.Join(home, api.PortFile))
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || p <= 0 || p > 65535 {
		return 0
	}
	return p
}

// bind opens the UDP socket and the 127.0.0.1 TCP API listener on one port
// number (the port file names both). Port 0 means: the port of the last run
// if it is free (a node that restarts keeps its path, see SecondaryPort),
// else 9993, else the node's secondary port, else any free port.
func bind(want int, ip netip.Addr, last, secondary int) (*net.UDPConn, net.Listener, int, error) {
	try := func(p int) (*net.UDPConn, net.Listener, error) {
		network, ua := "udp", &net.UDPAddr{Port: p}
		if ip.IsValid() {
			ua.IP = ip.AsSlice()
			if ip.Is4() {
				network = "udp4"
			}
		}
		u, err := net.ListenUDP(network, ua)
		if err != nil {
			return nil, nil, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			u.Close()
			return nil, nil, err
		}
		return u, l, nil
	}
	if want > 0 {
		u, l, err := try(want)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("service: port %d: %w", want, err)
		}
		return u, l, want, nil
	}
	for _, p := range []int{last, packet.DefaultPort, secondary} {
		if p <= 0 {
			continue
		}
		if u, l, err := try(p); err == nil {
			return u, l, p, nil
		}
	}
	var lastErr error
	for range 32 { // a free UDP port whose TCP twin is also free
		u, l, err := try(0)
		if err == nil {
			return u, l, u.LocalAddr().(*net.UDPAddr).Port, nil
		}
		lastErr = err
	}
	return nil, nil, 0, fmt.Errorf("service: no free port: %w", lastErr)
}

// loadOrCreateToken reads authtoken.secret, creating 24 random [a-z0-9]
// characters if it is missing, and keeps it mode 0600 as ZeroTier One does.
func loadOrCreateToken(home string) (string, error) {
	p := filepath.Join(home, api.TokenFile)
	tok, err := api.ReadToken(home)
	if err == nil {
		if err := os.Chmod(p, 0o600); err != nil {
			return "", fmt.Errorf("service: %w", err)
		}
		return tok, nil
	}
	if _, statErr := os.Stat(p); statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return "", fmt.Errorf("service: %w", statErr)
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 0, 24)
	var r [32]byte
	for len(b) < 24 {
		if _, err := rand.Read(r[:]); err != nil {
			return "", fmt.Errorf("service: token: %w", err)
		}
		for _, c := range r {
			if c < 252 && len(b) < 24 { // 252 = 7*36: no modulo bias
				b = append(b, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("service: token: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return "", fmt.Errorf("service: token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("service: token: %w", err)
	}
	return string(b), nil
}
