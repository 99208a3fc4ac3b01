// Package vl2 is ZeroTier's virtual Ethernet layer on top of a VL1 node
// (package node): network membership (config requests, signed config chunks,
// controller errors as network status), credentials and the membership gate,
// FRAME/EXT_FRAME, multicast (LIKE, GATHER, MULTICAST_FRAME and the
// subscriber directory that controllers and roots keep), and one virtual
// Ethernet port per joined network. Facts from VL2.md (ZeroTier One 1.14.1).
package vl2

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/dictionary"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/node"
	"ztnc/zerotier/packet"
)

// Timers and limits (node/Constants.hpp).
const (
	DefaultPingInterval     = 5 * time.Second
	AutoconfDelay           = 60 * time.Second  // ZT_NETWORK_AUTOCONF_DELAY
	MulticastAnnouncePeriod = 60 * time.Second  // ZT_MULTICAST_ANNOUNCE_PERIOD
	MulticastLikeExpire     = 600 * time.Second // ZT_MULTICAST_LIKE_EXPIRE
	ExplicitGatherDelay     = 60 * time.Second
	MulticastTxTimeout      = 5 * time.Second
	PeerActivityTimeout     = 500 * time.Second
	CredentialsRateLimit    = time.Second
	RetryDelay              = 500 * time.Millisecond // held packets
	ReceiveQueueTimeout     = 5 * time.Second
	ReceiveQueueSize        = 32
	ControllerRecentWindow  = 180 * time.Second // LIKE/GATHER authorisation by our controller
	tick                    = 100 * time.Millisecond
)

// Node is what the layer needs from a VL1 node (*node.Node has it).
type Node interface {
	Identity() *identity.Identity
	Send(dest address.Address, verb packet.Verb, payload []byte) error
	IdentityOf(a address.Address) *identity.Identity
	UpstreamAddresses() []address.Address
	AmRoot() bool
}

// Controller serves networks whose ID starts with our address.
type Controller interface {
	// HandleRequest answers a NETWORK_CONFIG_REQUEST (asynchronously is
	// fine); it replies through Layer.Send.
	HandleRequest(from *identity.Identity, packetID uint64, nwid uint64, meta *dictionary.Dict)
	// RecentlyConfigured reports whether member received a config for nwid
	// within 180 s (it may then LIKE and GATHER on us).
	RecentlyConfigured(nwid uint64, member address.Address) bool
}

// Options configure a Layer.
type Options struct {
	Logger       *slog.Logger
	PingInterval time.Duration // config request / LIKE check period (default 5 s)
	// SaveConfig persists an accepted config dictionary (the service writes
	// networks.d/<nwid>.conf); nil to skip.
	SaveConfig func(nwid uint64, dict []byte)
}

// Counters count drops by reason and traffic.
type Counters struct {
	DropMalformed  atomic.Uint64
	DropNotJoined  atomic.Uint64
	DropNotMember  atomic.Uint64 // gate failed (after the hold expired)
	DropSignature  atomic.Uint64
	DropRules      atomic.Uint64
	DropRateLimit  atomic.Uint64
	DropConfig     atomic.Uint64 // config not for us, unparseable
	DropFrame      atomic.Uint64 // bad MACs, no multicast, bridging
	Held           atomic.Uint64
	ConfigsApplied atomic.Uint64
	FramesIn       atomic.Uint64
	FramesOut      atomic.Uint64
}

// Snapshot returns the counters by name.
func (c *Counters) Snapshot() map[string]uint64 {
	return map[string]uint64{
		"dropMalformed": c.DropMalformed.Load(), "dropNotJoined": c.DropNotJoined.Load(),
		"dropNotMember": c.DropNotMember.Load(), "dropSignature": c.DropSignature.Load(),
		"dropRules": c.DropRules.Load(), "dropRateLimit": c.DropRateLimit.Load(), "dropConfig": c.DropConfig.Load(),
		"dropFrame": c.DropFrame.Load(), "held": c.Held.Load(), "configsApplied": c.ConfigsApplied.Load(),
		"framesIn": c.FramesIn.Load(), "framesOut": c.FramesOut.Load(),
	}
}

// Layer is the VL2 state of one node.
type Layer struct {
	opt      Options
	log      *slog.Logger
	node     Node
	me       *identity.Identity
	ctl      atomic.Pointer[ctlBox]
	Counters Counters

	mu       sync.Mutex
	nets     map[uint64]*Network
	held     []heldPacket
	credGate map[address.Address]time.Time
	dir      *directory
	pending  []func()

	ctlSlots chan struct{} // controller requests in flight

	holdMu sync.Mutex
	holds  atomic.Pointer[holdSet] // hold.go

	credMu   sync.Mutex
	credNext map[address.Address]time.Time // earliest next NETWORK_CREDENTIALS per peer

	started   bool
	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

type ctlBox struct{ c Controller }

type heldPacket struct {
	pkt   node.VL2Packet
	since time.Time
	last  time.Time
}

// New makes a layer; Attach it to its node before Start.
func New(opt Options) *Layer {
	if opt.PingInterval <= 0 {
		opt.PingInterval = DefaultPingInterval
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Layer{opt: opt, log: log, nets: map[uint64]*Network{}, credGate: map[address.Address]time.Time{}, credNext: map[address.Address]time.Time{}, ctlSlots: make(chan struct{}, 64),
		dir: newDirectory(), done: make(chan struct{})}
}

// SetSaveConfig sets Options.SaveConfig (before Start).
func (l *Layer) SetSaveConfig(f func(nwid uint64, dict []byte)) { l.opt.SaveConfig = f }

// Attach binds the layer to its node (whose Config.VL2 must be l.Handle).
func (l *Layer) Attach(n Node) {
	l.node = n
	l.me = n.Identity()
	l.log = l.log.With("node", l.me.Address.String())
}

// SetController installs the local controller (nil removes it).
func (l *Layer) SetController(c Controller) {
	if c == nil {
		l.ctl.Store(nil)
		return
	}
	l.ctl.Store(&ctlBox{c})
}

func (l *Layer) controller() Controller {
	if b := l.ctl.Load(); b != nil {
		return b.c
	}
	return nil
}

// Address is our node address.
func (l *Layer) Address() address.Address { return l.me.Address }

// Identity is our identity (with secret).
func (l *Layer) Identity() *identity.Identity { return l.me }

// Start runs the timers.
func (l *Layer) Start() {
	l.mu.Lock()
	l.started = true
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		var lastPing, lastRetry, lastClean time.Time
		for {
			select {
			case <-l.done:
				return
			case now := <-t.C:
				if now.Sub(lastRetry) >= RetryDelay {
					lastRetry = now
					l.retryHeld(now)
				}
				if now.Sub(lastPing) >= l.opt.PingInterval {
					lastPing = now
					l.pingCheck(now)
				}
				if now.Sub(lastClean) >= 30*time.Second {
					lastClean = now
					l.mu.Lock()
					l.dir.clean(now)
					for a, t := range l.credGate {
						if now.Sub(t) >= CredentialsRateLimit {
							delete(l.credGate, a)
						}
					}
					l.mu.Unlock()
				}
			}
		}
	}()
}

// Close stops the timers and closes every port.
func (l *Layer) Close() {
	l.closeOnce.Do(func() { close(l.done) })
	l.wg.Wait()
}

// lock/unlock: work queued with later() while locked runs after unlocking,
// so callbacks (port receivers, controller, local delivery) never run under
// l.mu.
func (l *Layer) lock() { l.mu.Lock() }
func (l *Layer) unlock() {
	p := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, f := range p {
		f()
	}
}
func (l *Layer) later(f func()) { l.pending = append(l.pending, f) }

// Send sends a VL2 verb; to ourselves it is delivered locally (a node that
// is its own controller talks to itself this way).
func (l *Layer) Send(dest address.Address, verb packet.Verb, payload []byte) error {
	if dest == l.me.Address {
		pkt := node.VL2Packet{From: l.me.PublicOnly(), PacketID: randomID(), Verb: verb, Payload: append([]byte(nil), payload...)}
		if verb == packet.VerbOK || verb == packet.VerbError {
			if len(payload) < 9 || (verb == packet.VerbError && len(payload) < 10) {
				return fmt.Errorf("vl2: short %v to self", verb)
			}
			pkt.InRe.Verb = packet.Verb(payload[0])
			pkt.InRe.ID = binary.BigEndian.Uint64(payload[1:])
			pkt.Payload = pkt.Payload[9:]
			if verb == packet.VerbError {
				pkt.ErrorCode = packet.ErrorCode(pkt.Payload[0])
				pkt.Payload = pkt.Payload[1:]
			}
		}
		go l.Handle(pkt)
		return nil
	}
	if verb == packet.VerbNetworkCredentials {
		// Receivers process one NETWORK_CREDENTIALS per sender per second
		// and drop the rest, so ours to one peer are spaced out (a member
		// that is also the controller would otherwise lose revocations).
		now := time.Now()
		l.credMu.Lock()
		at := l.credNext[dest]
		if at.Before(now) {
			at = now
		}
		l.credNext[dest] = at.Add(CredentialsRateLimit + 100*time.Millisecond)
		if len(l.credNext) > 4096 {
			for a, t := range l.credNext {
				if t.Before(now) {
					delete(l.credNext, a)
				}
			}
		}
		l.credMu.Unlock()
		if wait := at.Sub(now); wait > 0 {
			p := append([]byte(nil), payload...)
			time.AfterFunc(wait, func() {
				if err := l.node.Send(dest, verb, p); err != nil {
					l.log.Debug("delayed credentials", "to", dest, "err", err)
				}
			})
			return nil
		}
	}
	if err := l.node.Send(dest, verb, payload); err != nil {
		return fmt.Errorf("vl2: send %v to %s: %w", verb, dest, err)
	}
	return nil
}

// SendOK sends an OK in reply to (inReVerb, inReID).
func (l *Layer) SendOK(dest address.Address, inReVerb packet.Verb, inReID uint64, body []byte) error {
	return l.Send(dest, packet.VerbOK, inRe(inReVerb, inReID, body))
}

// SendError sends an ERROR in reply to (inReVerb, inReID).
func (l *Layer) SendError(dest address.Address, inReVerb packet.Verb, inReID uint64, code packet.ErrorCode, body []byte) error {
	b := inRe(inReVerb, inReID, nil)
	b = append(b, byte(code))
	return l.Send(dest, packet.VerbError, append(b, body...))
}

func inRe(v packet.Verb, id uint64, body []byte) []byte {
	b := make([]byte, 9, 9+len(body))
	b[0] = byte(v)
	binary.BigEndian.PutUint64(b[1:], id)
	return append(b, body...)
}

func randomID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// Handle is the node's VL2 callback (node.Config.VL2).
func (l *Layer) Handle(in node.VL2Packet) {
	l.process(in, time.Time{})
}

// process dispatches a packet; since is when it was first held (zero if
// fresh).
func (l *Layer) process(in node.VL2Packet, since time.Time) {
	if l.me == nil {
		return
	}
	switch in.Verb {
	case packet.VerbNetworkConfigRequest:
		l.handleConfigRequest(in)
	case packet.VerbNetworkConfig:
		l.handleConfigChunk(in, false, since)
	case packet.VerbNetworkCredentials:
		l.handleCredentials(in, since)
	case packet.VerbOK:
		switch in.InRe.Verb {
		case packet.VerbNetworkConfigRequest:
			l.handleConfigChunk(in, true, since)
		case packet.VerbMulticastGather, packet.VerbMulticastFrame:
			l.handleGatherResult(in)
		}
	case packet.VerbError:
		l.handleError(in)
	case packet.VerbFrame, packet.VerbExtFrame, packet.VerbMulticastFrame:
		l.handleFrame(in, since)
	case packet.VerbMulticastLike:
		l.handleLike(in)
	case packet.VerbMulticastGather:
		l.handleGather(in)
	}
}

// holdLocked keeps a packet for retry (unknown signer, missing COM).
func (l *Layer) holdLocked(in node.VL2Packet, since time.Time) {
	now := time.Now()
	if since.IsZero() {
		since = now
		l.Counters.Held.Add(1)
	}
	if now.Sub(since) >= ReceiveQueueTimeout {
		l.Counters.DropNotMember.Add(1)
		return
	}
	if len(l.held) >= ReceiveQueueSize {
		l.held = l.held[1:]
		l.Counters.DropNotMember.Add(1)
	}
	in.Payload = append([]byte(nil), in.Payload...) // a FRAME's is only lent (node.VL2Packet)
	l.held = append(l.held, heldPacket{pkt: in, since: since, last: now})
}

func (l *Layer) retryHeld(now time.Time) {
	l.lock()
	h := l.held
	l.held = nil
	l.unlock()
	for _, it := range h {
		if now.Sub(it.since) >= ReceiveQueueTimeout {
			l.Counters.DropNotMember.Add(1)
			continue
		}
		l.process(it.pkt, it.since)
	}
}

// retryHeldNow re-runs held packets at once (after credentials arrive).
func (l *Layer) retryHeldNow() { l.retryHeld(time.Now()) }

// Join starts membership of nwid (idempotent). saved is a config
// dictionary from disk, used at once (refreshed at the next check).
func (l *Layer) Join(nwid uint64, saved []byte) *Network {
	l.lock()
	defer l.unlock()
	if n := l.nets[nwid]; n != nil {
		return n
	}
	n := newNetwork(l, nwid)
	l.nets[nwid] = n
	if len(saved) > 0 {
		if err := n.installSavedLocked(saved); err != nil {
			l.log.Warn("ignoring saved network config", "network", fmt.Sprintf("%016x", nwid), "err", err)
		}
	}
	if l.started {
		n.requestConfigLocked(time.Now())
	}
	l.log.Info("joined network", "network", fmt.Sprintf("%016x", nwid))
	l.later(l.refreshHolds)
	return n
}

// Leave ends membership; false if not joined.
func (l *Layer) Leave(nwid uint64) bool {
	l.lock()
	defer l.unlock()
	n := l.nets[nwid]
	if n == nil {
		return false
	}
	delete(l.nets, nwid)
	n.leftLocked()
	l.later(l.refreshHolds)
	return true
}

// Network returns a joined network.
func (l *Layer) Network(nwid uint64) *Network {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nets[nwid]
}

// Networks lists joined networks by ID.
func (l *Layer) Networks() []*Network {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Network, 0, len(l.nets))
	for _, n := range l.nets {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// pingCheck: config requests and multicast announcements (Node.cpp ping
// check, Network::sendUpdatesToMembers).
func (l *Layer) pingCheck(now time.Time) {
	l.lock()
	defer l.unlock()
	for _, n := range l.nets {
		if n.conf == nil || now.Sub(n.lastUpdate) >= AutoconfDelay {
			n.requestConfigLocked(now)
		}
		n.announceLocked(now, false)
		n.expireMulticastQueueLocked(now)
	}
}

func nwidString(nwid uint64) string { return fmt.Sprintf("%016x", nwid) }
