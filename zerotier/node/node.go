// Package node is a ZeroTier 1.x VL1 node: it owns the UDP sockets, the
// peers and their paths, and runs the receive dispatch, the send path
// (direct, relayed through a root, or queued behind a WHOIS), the HELLO/OK
// handshake, path learning and keepalive, WHOIS, RENDEZVOUS, ECHO, NOP,
// PUSH_DIRECT_PATHS and USER_MESSAGE with ZeroTier One 1.14's timers and rate
// limits (VL1.md sections 3, 5, 7). A node whose identity is a root of its
// planet or a moon serves as a root: it relays for anyone, answers WHOIS
// without limit and introduces peers with RENDEZVOUS.
//
// Beyond 1.14 it drops repeated packet IDs (package replay) and counts every
// drop by reason (Counters).
package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/peer"
	"ztnc/zerotier/peercache"
	"ztnc/zerotier/selfaware"
	"ztnc/zerotier/topology"
)

// Timer constants (node/Constants.hpp) not owned by path or peer.
const (
	DefaultPingInterval = 5 * time.Second  // ZT_PING_CHECK_INTERVAL
	HousekeepingPeriod  = 30 * time.Second // ZT_HOUSEKEEPING_PERIOD
	WhoisRetryDelay     = 500 * time.Millisecond
	QueueTimeout        = 5 * time.Second // transmit and receive queues
	QueueSize           = 32
	DefaultHelloLimit   = 2 * time.Second // new-identity HELLOs per source bucket (x86-64)
	timerTick           = 100 * time.Millisecond
	expectTTL           = 2 * time.Minute // how long an OK to a sent packet is accepted
	maxExpecting        = 8192
)

// UserMessage is a received USER_MESSAGE.
type UserMessage struct {
	From address.Address
	Type uint64
	Data []byte
}

// Config configures a node.
type Config struct {
	Identity *identity.Identity // with its secret key; required
	Topology *topology.Topology // required
	Conns    []*net.UDPConn     // bound sockets; the node reads and closes them
	// AllowLoopback lets loopback addresses become paths (ZeroTier One never
	// does). Our nodes enable it so several can run on one host.
	AllowLoopback bool
	// PingInterval is the ping check period (default 5 s as 1.14).
	PingInterval time.Duration
	// HelloRateLimit is the new-identity HELLO rate per source /24 (default
	// 2 s as 1.14 on x86-64; negative disables it).
	HelloRateLimit time.Duration
	// MTU is the physical fragmentation unit (default 1432).
	MTU int
	// PhysicalPaths are local.conf's "physical" settings: trusted paths
	// (cipher 2) and per-network MTUs.
	PhysicalPaths []PhysicalPath
	// OnUserMessage is called (not concurrently with itself) for each
	// USER_MESSAGE; it must not block for long.
	OnUserMessage func(UserMessage)
	// VL2 receives authenticated VL2 packets (see VL2Packet), called after
	// the node's lock is released, possibly from several goroutines; nil
	// leaves them counted as traffic and dropped.
	VL2 func(VL2Packet)
	// HoldDeliveries, if set, is called by each socket reader before it
	// handles the datagrams of one read, and the function it returns after
	// (vl2.Layer.HoldDeliveries: the frames of one read may go up the
	// network stack together).
	HoldDeliveries func() (release func())
	// OnIdentityCollision is called once, outside the node's lock, when an
	// upstream (root or moon) reports ERROR(IDENTITY_COLLISION): another
	// identity holds our address. ZeroTier One then stops, sets its
	// identity aside and starts again with a new one.
	OnIdentityCollision func(upstream address.Address)
	// PeerCache is the peers.d directory ("" = none): leaf peers forgotten
	// for inactivity are written there and read back instead of a WHOIS.
	PeerCache peercache.Dir
	Logger    *slog.Logger
}

// Node is a running VL1 node. Its methods are safe for concurrent use.
type Node struct {
	cfg        Config
	me         *identity.Identity
	topo       *topology.Topology
	conns      []*net.UDPConn
	localPorts []uint16
	log        *slog.Logger
	asm        packet.Assembler
	Counters   Counters
	started    time.Time

	userMu sync.Mutex // serializes OnUserMessage

	mu             sync.Mutex
	peers          map[address.Address]*peer.Peer
	expecting      map[uint64]time.Time
	whois          map[address.Address]time.Time // last WHOIS sent per address
	txQueue        []txItem
	rxQueue        []rxItem
	lastUnite      map[[2]address.Address]time.Time
	helloGate      map[uint64]time.Time
	confirmAt      map[confirmKey]time.Time
	echoGate       map[confirmKey]time.Time
	self           selfaware.Table // our external addresses as peers report them
	lastPing       time.Time
	lastHousekeep  time.Time
	lastUpstreamRx time.Time
	cacheTried     map[address.Address]time.Time // peers.d reads, one per queue lifetime
	lastCacheClean time.Time

	// Datagrams armored but not yet written (flush.go): while batching
	// (a Send or SendBatch), writePieceLocked queues here instead of
	// writing. flushDue says the flusher has been woken for them.
	batching bool
	pending  []datagram
	flushDue bool
	flushOn  atomic.Bool // the flusher runs: single Sends may leave their datagrams pending
	flush    chan struct{}

	// wmu serializes socket writes, in the order packets were armored, so
	// that a batch can be written after n.mu is let go.
	wmu     sync.Mutex
	writers []*batchWriter // per conn, under wmu

	collisionOnce sync.Once
	closeOnce     sync.Once
	done          chan struct{}
	wg            sync.WaitGroup
}

type txItem struct {
	dest    address.Address
	verb    packet.Verb
	payload []byte
	at      time.Time
}

type rxItem struct {
	local int
	from  netip.AddrPort
	p     packet.Packet
	at    time.Time
}

type confirmKey struct {
	local int
	ap    netip.AddrPort
}

// New prepares a node (peers for every upstream, keys agreed) without
// starting it.
func New(cfg Config) (*Node, error) {
	if cfg.Identity == nil || !cfg.Identity.HasPrivate() {
		return nil, errors.New("node: identity with secret key required")
	}
	if cfg.Topology == nil {
		return nil, errors.New("node: topology required")
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.HelloRateLimit == 0 {
		cfg.HelloRateLimit = DefaultHelloLimit
	}
	if cfg.MTU == 0 {
		cfg.MTU = packet.DefaultPhysMTU
	}
	if cfg.MTU < packet.MinPhysMTU || cfg.MTU > packet.MaxPacketSize {
		return nil, fmt.Errorf("node: MTU %d outside %d..%d", cfg.MTU, packet.MinPhysMTU, packet.MaxPacketSize)
	}
	pps, err := normalizePhysicalPaths(cfg.PhysicalPaths)
	if err != nil {
		return nil, err
	}
	cfg.PhysicalPaths = pps
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	n := &Node{
		cfg: cfg, me: cfg.Identity, topo: cfg.Topology, conns: cfg.Conns,
		log:       log.With("node", cfg.Identity.Address.String()),
		started:   time.Now(),
		peers:     map[address.Address]*peer.Peer{},
		expecting: map[uint64]time.Time{},
		whois:     map[address.Address]time.Time{},
		lastUnite: map[[2]address.Address]time.Time{},
		helloGate: map[uint64]time.Time{},
		confirmAt: map[confirmKey]time.Time{},
		echoGate:  map[confirmKey]time.Time{},
		done:      make(chan struct{}),
		flush:     make(chan struct{}, 1),
	}
	for _, c := range cfg.Conns {
		ap := path0(c)
		n.localPorts = append(n.localPorts, ap.Port())
		// The default receive buffer (~200 KB) overflows under a bulk
		// transfer: each datagram lost is a frame lost, and TCP above halves
		// its window. (The kernel caps these at net.core.[rw]mem_max.)
		c.SetReadBuffer(udpBuffer)
		c.SetWriteBuffer(udpBuffer)
		n.writers = append(n.writers, newBatchWriter(c))
	}
	if err := n.syncUpstreams(time.Now()); err != nil {
		return nil, err
	}
	return n, nil
}

func path0(c *net.UDPConn) netip.AddrPort {
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
		return ua.AddrPort()
	}
	return netip.AddrPort{}
}

// syncUpstreams creates a peer for every upstream we have none for.
func (n *Node) syncUpstreams(now time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.syncUpstreamsLocked(now)
}

func (n *Node) syncUpstreamsLocked(now time.Time) error {
	for _, u := range n.topo.Upstreams(n.me.Address) {
		if _, ok := n.peers[u.Identity.Address]; ok {
			continue
		}
		p, err := peer.New(n.me, u.Identity, now)
		if err != nil {
			return fmt.Errorf("node: upstream: %w", err)
		}
		n.peers[u.Identity.Address] = p
	}
	return nil
}

// Start launches the socket readers and the timer loop.
func (n *Node) Start() {
	for i, c := range n.conns {
		n.wg.Add(1)
		go n.readLoop(i, c)
	}
	n.wg.Add(1)
	go n.timerLoop()
	n.wg.Add(1)
	n.flushOn.Store(true)
	go n.flushLoop()
}

// Close stops the node and closes its sockets.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.done)
		for _, c := range n.conns {
			c.Close()
		}
	})
	n.wg.Wait()
	return nil
}

// Identity is the node's identity (with secret).
func (n *Node) Identity() *identity.Identity { return n.me }

// Address is the node's ZeroTier address.
func (n *Node) Address() address.Address { return n.me.Address }

// Topology is the node's world state.
func (n *Node) Topology() *topology.Topology { return n.topo }

// LocalAddrs lists the bound socket addresses.
func (n *Node) LocalAddrs() []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(n.conns))
	for _, c := range n.conns {
		out = append(out, path0(c))
	}
	return out
}

// AmRoot reports whether this node serves as a root.
func (n *Node) AmRoot() bool { return n.topo.AmRoot(n.me.Address) }

// udpBuffer is the socket buffer size asked for (1.14 asks for up to 1 MB;
// more absorbs the bursts of a userspace stack on a busy machine).
const udpBuffer = 4 << 20

func (n *Node) readLoop(i int, c *net.UDPConn) {
	defer n.wg.Done()
	br, err := newBatchReader(c)
	if err != nil {
		n.log.Error("UDP read", "err", err)
		return
	}
	handle := func(k int) {
		var release func()
		if h := n.cfg.HoldDeliveries; h != nil {
			release = h()
		}
		for j := 0; j < k; j++ {
			b, seg, from := br.datagram(j)
			if seg <= 0 || seg >= len(b) {
				n.HandleDatagram(i, from, b)
				continue
			}
			eachDatagram(b, seg, func(d []byte) { n.HandleDatagram(i, from, d) })
		}
		if release != nil {
			release()
		}
	}
	for {
		err := br.run(handle)
		select {
		case <-n.done:
			return
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		n.log.Warn("UDP read", "err", err)
		time.Sleep(10 * time.Millisecond) // transient (e.g. ICMP-induced) errors must not spin
	}
}

func (n *Node) timerLoop() {
	defer n.wg.Done()
	t := time.NewTicker(timerTick)
	defer t.Stop()
	n.tick(time.Now())
	for {
		select {
		case <-n.done:
			return
		case now := <-t.C:
			n.tick(now)
		}
	}
}
