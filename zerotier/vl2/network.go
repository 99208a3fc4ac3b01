package vl2

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/dictionary"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/node"
	"ztnc/zerotier/packet"
)

// Status is a network's status as the API and zerotier-cli show it.
type Status int

const (
	StatusRequestingConfiguration Status = iota
	StatusOK
	StatusAccessDenied
	StatusNotFound
	StatusPortError
	StatusClientTooOld
	StatusAuthenticationRequired
)

func (s Status) String() string {
	switch s {
	case StatusRequestingConfiguration:
		return "REQUESTING_CONFIGURATION"
	case StatusOK:
		return "OK"
	case StatusAccessDenied:
		return "ACCESS_DENIED"
	case StatusNotFound:
		return "NOT_FOUND"
	case StatusPortError:
		return "PORT_ERROR"
	case StatusClientTooOld:
		return "CLIENT_TOO_OLD"
	case StatusAuthenticationRequired:
		return "AUTHENTICATION_REQUIRED"
	}
	return "UNKNOWN"
}

// Network is our membership of one network.
type Network struct {
	l    *Layer
	id   uint64
	port *Port

	// guarded by l.mu
	failure      Status // StatusOK when none
	conf         *netconf.Config
	lastUpdate   time.Time
	lastRequest  time.Time
	asm          netconf.Assembler
	members      map[address.Address]*membership
	lastAnnounce time.Time
	gatherAt     map[netconf.MulticastGroup]time.Time
	txq          []queuedMulticast
	extraGroups  map[netconf.MulticastGroup]bool
	behind       map[[6]byte]address.Address // MACs learned behind active bridges
	authURL      string
	left         bool
}

// membership is what we know of another member (Membership.hpp).
type membership struct {
	com        *credential.COM
	comRevoked int64
	tags       map[uint32]*credential.Tag
	caps       map[uint32]*credential.Capability
	coos       map[uint32]*credential.COO
	revoked    map[[2]uint32]int64 // (credential type, id) → threshold
	lastPushed time.Time
	lastLike   time.Time
	lastReply  time.Time // last NEED_MEMBERSHIP_CERTIFICATE push

	// The COMs and identity allowedLocked last found agreeing: agreement
	// hashes the identity (SHA-384), too costly to redo for every frame.
	agreedOwn, agreedCOM *credential.COM
	agreedID             *identity.Identity
}

func newNetwork(l *Layer, nwid uint64) *Network {
	n := &Network{l: l, id: nwid, failure: StatusOK, members: map[address.Address]*membership{},
		gatherAt: map[netconf.MulticastGroup]time.Time{}, extraGroups: map[netconf.MulticastGroup]bool{}}
	n.port = newPort(n)
	return n
}

// ID is the network ID.
func (n *Network) ID() uint64 { return n.id }

// Controller is the controller's address (nwid >> 24).
func (n *Network) Controller() address.Address { return address.Address(n.id >> 24) }

// Port is the network's virtual Ethernet port.
func (n *Network) Port() *Port { return n.port }

// MAC is our MAC on this network.
func (n *Network) MAC() net.HardwareAddr { return netconf.MAC(n.l.me.Address, n.id) }

// Status is zerotier-cli's status of the network.
func (n *Network) Status() Status {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	return n.statusLocked()
}

func (n *Network) statusLocked() Status {
	if n.failure != StatusOK {
		return n.failure // a held config stays in use; the status shows the failure
	}
	if n.conf == nil {
		return StatusRequestingConfiguration
	}
	return StatusOK
}

// Config is the current config (nil until one arrives). Do not modify it.
func (n *Network) Config() *netconf.Config {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	return n.conf
}

func (n *Network) member(a address.Address) *membership {
	m := n.members[a]
	if m == nil {
		m = &membership{tags: map[uint32]*credential.Tag{}, caps: map[uint32]*credential.Capability{},
			coos: map[uint32]*credential.COO{}, revoked: map[[2]uint32]int64{}}
		n.members[a] = m
	}
	return m
}

func (n *Network) leftLocked() {
	n.left = true
	n.port.changedLocked()
}

// requestConfigLocked sends NETWORK_CONFIG_REQUEST to the controller (or
// hands it to our own controller).
func (n *Network) requestConfigLocked(now time.Time) {
	n.lastRequest = now
	if n.id>>56 == 0xff {
		// Ad-hoc: no controller; the config is made here, once.
		if n.conf != nil {
			return
		}
		conf, ok, notFound := adhocConfig(n.id, n.l.me.Address, now)
		switch {
		case ok:
			n.setConfigLocked(conf, conf.Bytes())
		case notFound:
			n.failure = StatusNotFound
		}
		return
	}
	meta := netconf.RequestMetadata(netconf.TargetName())
	req := &netconf.Request{NetworkID: n.id, Metadata: meta.Bytes()}
	if n.conf != nil {
		req.Revision, req.Timestamp = n.conf.Revision, n.conf.Timestamp
	}
	ctl := n.Controller()
	l := n.l
	if ctl == l.me.Address {
		c := l.controller()
		if c == nil {
			n.failure = StatusNotFound
			return
		}
		id, me := randomID(), l.me.PublicOnly()
		l.later(func() { c.HandleRequest(me, id, n.id, meta) })
		return
	}
	payload := req.Append(nil)
	l.later(func() {
		if err := l.Send(ctl, packet.VerbNetworkConfigRequest, payload); err != nil {
			l.log.Debug("config request", "network", nwidString(n.id), "err", err)
		}
	})
}

func (n *Network) installSavedLocked(dict []byte) error {
	c, err := netconf.Parse(dict)
	if err != nil {
		return err
	}
	if c.NetworkID != n.id || c.IssuedTo != n.l.me.Address {
		return errors.New("saved config is for another network or node")
	}
	n.conf = c // lastUpdate stays zero: refreshed at the next check
	n.port.changedLocked()
	return nil
}

// handleConfigRequest serves a NETWORK_CONFIG_REQUEST.
func (l *Layer) handleConfigRequest(in node.VL2Packet) {
	req, err := netconf.ParseRequest(in.Payload)
	if err != nil {
		l.Counters.DropMalformed.Add(1)
		return
	}
	c := l.controller()
	if c == nil {
		nw := binary.BigEndian.AppendUint64(nil, req.NetworkID)
		_ = l.SendError(in.From.Address, packet.VerbNetworkConfigRequest, in.PacketID, packet.ErrorUnsupportedOperation, nw)
		return
	}
	if address.Address(req.NetworkID>>24) != l.me.Address {
		return // silently ignored, as 1.14
	}
	// The controller signs and may write files: keep it off the node's
	// receive goroutine, with a bound on requests in flight.
	select {
	case l.ctlSlots <- struct{}{}:
		go func() {
			defer func() { <-l.ctlSlots }()
			c.HandleRequest(in.From, in.PacketID, req.NetworkID, dictionary.Parse(req.Metadata))
		}()
	default:
		l.Counters.DropRateLimit.Add(1)
	}
}

// handleConfigChunk takes a config chunk from OK(NETWORK_CONFIG_REQUEST)
// or NETWORK_CONFIG.
func (l *Layer) handleConfigChunk(in node.VL2Packet, viaOK bool, since time.Time) {
	ch, err := netconf.ParseChunk(in.Payload)
	if err != nil {
		l.Counters.DropMalformed.Add(1)
		l.log.Debug("bad config chunk", "from", in.From.Address, "err", err)
		return
	}
	l.mu.Lock()
	joined := l.nets[ch.NetworkID] != nil
	l.mu.Unlock()
	if !joined {
		l.Counters.DropNotJoined.Add(1) // before any signature work
		return
	}
	ctlAddr := address.Address(ch.NetworkID >> 24)
	var ctlID *identity.Identity
	if ch.Signature != nil {
		if ctlID = l.identityOf(ctlAddr); ctlID == nil {
			l.lock()
			l.holdLocked(in, since)
			l.unlock()
			return
		}
		if err := ch.Verify(ctlID); err != nil {
			l.Counters.DropSignature.Add(1)
			l.log.Debug("config chunk signature", "from", in.From.Address, "err", err)
			return
		}
	} else if in.From.Address != ctlAddr {
		l.Counters.DropSignature.Add(1) // unsigned chunks only from the controller itself
		return
	}
	l.lock()
	defer l.unlock()
	n := l.nets[ch.NetworkID]
	if n == nil {
		l.Counters.DropNotJoined.Add(1)
		return
	}
	if ch.Signature != nil && ch.Flags&netconf.ChunkFlagFastPropagate != 0 && !n.asm.Seen(ch) {
		// Flood a fast-propagate chunk verbatim to the members we know.
		var dests []address.Address
		for a := range n.members {
			if a != in.From.Address && a != ctlAddr {
				dests = append(dests, a)
			}
		}
		n.sendToLocked(dests, packet.VerbNetworkConfig, in.Payload)
	}
	whole, ok := n.asm.Add(ch)
	if !ok {
		return
	}
	conf, err := netconf.Parse(whole)
	if err != nil || conf.NetworkID != n.id || conf.IssuedTo != l.me.Address {
		l.Counters.DropConfig.Add(1)
		l.log.Info("rejected network config", "network", nwidString(n.id), "err", err)
		return
	}
	n.setConfigLocked(conf, whole)
	if !viaOK && ch.Signature != nil {
		// Acknowledge a pushed config: OK with in-re verb ECHO (VL2.md 3.5).
		body := binary.BigEndian.AppendUint64(nil, n.id)
		body = binary.BigEndian.AppendUint64(body, ch.UpdateID)
		from, id := in.From.Address, in.PacketID
		l.later(func() { _ = l.SendOK(from, packet.VerbEcho, id, body) })
	}
}

func (l *Layer) identityOf(a address.Address) *identity.Identity {
	if a == l.me.Address {
		return l.me.PublicOnly()
	}
	return l.node.IdentityOf(a)
}

// setConfigLocked installs an accepted config (Network::setConfiguration).
func (n *Network) setConfigLocked(conf *netconf.Config, dict []byte) {
	n.failure = StatusOK
	if n.conf.Equal(conf) {
		return
	}
	n.conf = conf
	n.lastUpdate = time.Now()
	n.l.Counters.ConfigsApplied.Add(1)
	n.l.log.Info("network config applied", "network", nwidString(n.id), "revision", conf.Revision, "ips", conf.StaticIPs)
	if save := n.l.opt.SaveConfig; save != nil {
		id := n.id
		d := append([]byte(nil), dict...)
		n.l.later(func() { save(id, d) })
	}
	n.port.changedLocked()
	n.announceLocked(time.Now(), true)
}

// handleError reacts to ERRORs about config requests and frames.
func (l *Layer) handleError(in node.VL2Packet) {
	if len(in.Payload) < 8 {
		return
	}
	nwid := binary.BigEndian.Uint64(in.Payload)
	l.lock()
	defer l.unlock()
	n := l.nets[nwid]
	if n == nil {
		return
	}
	switch in.InRe.Verb {
	case packet.VerbNetworkConfigRequest:
		if in.From.Address != n.Controller() {
			return
		}
		switch in.ErrorCode {
		case packet.ErrorObjNotFound, packet.ErrorUnsupportedOperation:
			n.failure = StatusNotFound
		case packet.ErrorNetworkAccessDenied:
			n.failure = StatusAccessDenied
		case packet.ErrorNetworkAuthenticationRequired:
			n.failure = StatusAuthenticationRequired
			if len(in.Payload) >= 10 {
				ln := int(binary.BigEndian.Uint16(in.Payload[8:]))
				if len(in.Payload) >= 10+ln {
					d := dictionary.Parse(in.Payload[10 : 10+ln])
					n.authURL = d.String("aU")
				}
			}
		}
	case packet.VerbFrame, packet.VerbExtFrame, packet.VerbMulticastFrame, packet.VerbMulticastGather:
		switch in.ErrorCode {
		case packet.ErrorNeedMembershipCertificate:
			m := n.member(in.From.Address)
			now := time.Now()
			if n.conf != nil && n.conf.COM != nil && (m.lastPushed.Before(n.lastUpdate) || now.Sub(m.lastReply) > CredentialsRateLimit) {
				m.lastReply = now
				n.pushCredentialsLocked(in.From.Address, m, now)
			}
		case packet.ErrorUnwantedMulticast:
			if len(in.Payload) >= 18 && n.allowedLocked(in.From) {
				var g netconf.MulticastGroup
				copy(g.MAC[:], in.Payload[8:14])
				g.ADI = binary.BigEndian.Uint32(in.Payload[14:])
				l.dir.remove(n.id, g, in.From.Address)
			}
		}
	}
}

// allowedLocked is Network::gate's membership half (isAllowedOnNetwork).
func (n *Network) allowedLocked(who *identity.Identity) bool {
	if n.conf == nil {
		return false
	}
	if !n.conf.IsPrivate() {
		return true
	}
	if who.Address == n.l.me.Address {
		return true
	}
	m := n.members[who.Address]
	if m == nil || m.com == nil || n.conf.COM == nil || m.com.Timestamp() <= m.comRevoked {
		return false
	}
	if m.agreedCOM == m.com && m.agreedOwn == n.conf.COM && m.agreedID == who {
		return true
	}
	if !n.conf.COM.AgreesWith(m.com, who) {
		return false
	}
	m.agreedOwn, m.agreedCOM, m.agreedID = n.conf.COM, m.com, who
	return true
}

// Allowed reports whether a peer may exchange frames with us on n.
func (n *Network) Allowed(who *identity.Identity) bool {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	return n.allowedLocked(who)
}

// pushCredentialsLocked sends our COM, capabilities, tags and COOs.
func (n *Network) pushCredentialsLocked(to address.Address, m *membership, now time.Time) {
	if n.conf == nil || to == n.l.me.Address {
		return
	}
	b := &credential.Bundle{Capabilities: n.conf.Capabilities, Tags: n.conf.Tags, COOs: n.conf.COOs}
	if n.conf.COM != nil {
		b.COMs = []*credential.COM{n.conf.COM}
	}
	m.lastPushed = now
	payload := b.Append(nil)
	l := n.l
	l.later(func() { _ = l.Send(to, packet.VerbNetworkCredentials, payload) })
}

// pushIfNeededLocked pushes before sending frames (Membership::
// pushCredentialsIfNeeded): after a config change or 500 s idle.
func (n *Network) pushIfNeededLocked(to address.Address, now time.Time) {
	m := n.member(to)
	if m.lastPushed.Before(n.lastUpdate) || m.lastPushed.IsZero() || now.Sub(m.lastPushed) >= PeerActivityTimeout {
		n.pushCredentialsLocked(to, m, now)
	}
}

// handleCredentials processes NETWORK_CREDENTIALS (one per peer per second).
func (l *Layer) handleCredentials(in node.VL2Packet, since time.Time) {
	b, err := credential.ParseBundle(in.Payload)
	if err != nil {
		l.Counters.DropMalformed.Add(1)
		return
	}
	now := time.Now()
	l.lock()
	if since.IsZero() {
		if now.Sub(l.credGate[in.From.Address]) < CredentialsRateLimit {
			l.Counters.DropRateLimit.Add(1)
			l.unlock()
			return
		}
		l.credGate[in.From.Address] = now
	}
	l.unlock()
	// Resolve every signer first; an unknown one defers the whole packet.
	signers := map[address.Address]*identity.Identity{}
	need := func(nwid uint64) *identity.Identity {
		a := address.Address(nwid >> 24)
		if id, ok := signers[a]; ok {
			return id
		}
		id := l.identityOf(a)
		signers[a] = id
		return id
	}
	missing := false
	for _, c := range b.COMs {
		missing = missing || need(c.NetworkID()) == nil
	}
	for _, c := range b.Tags {
		missing = missing || need(c.NetworkID) == nil
	}
	for _, c := range b.Revocations {
		missing = missing || need(c.NetworkID) == nil
	}
	for _, c := range b.COOs {
		missing = missing || need(c.NetworkID) == nil
	}
	for _, c := range b.Capabilities {
		missing = missing || need(c.NetworkID) == nil
	}
	if missing {
		l.lock()
		l.holdLocked(in, since)
		l.unlock()
		return
	}
	l.lock()
	got := false
	for _, c := range b.COMs {
		n := l.nets[c.NetworkID()]
		if n == nil {
			continue
		}
		if err := c.Verify(signers[address.Address(c.NetworkID()>>24)]); err != nil {
			l.Counters.DropSignature.Add(1)
			continue
		}
		m := n.member(c.IssuedTo())
		switch {
		case c.Timestamp() <= m.comRevoked:
		case m.com != nil && c.Timestamp() < m.com.Timestamp():
		default:
			m.com = c
			got = true
		}
	}
	for _, v := range b.Revocations {
		n := l.nets[v.NetworkID]
		if n == nil {
			continue
		}
		if err := v.Verify(signers[address.Address(v.NetworkID>>24)]); err != nil {
			l.Counters.DropSignature.Add(1)
			continue
		}
		m := n.member(v.Target)
		if v.Type != credential.TypeCOM {
			k := [2]uint32{uint32(v.Type), v.CredentialID}
			if v.Threshold > m.revoked[k] {
				m.revoked[k] = v.Threshold
			}
		}
		// 1.14.1 raises the COM threshold for every revocation type.
		if v.Threshold > m.comRevoked {
			m.comRevoked = v.Threshold
			l.log.Info("membership revoked", "network", nwidString(n.id), "member", v.Target)
			if v.Flags&credential.RevocationFastPropagate != 0 {
				// Spread it to every member we know but the sender and signer.
				var dests []address.Address
				for a := range n.members {
					if a != in.From.Address && a != v.Signer {
						dests = append(dests, a)
					}
				}
				n.sendToLocked(dests, packet.VerbNetworkCredentials, (&credential.Bundle{Revocations: []*credential.Revocation{v}}).Append(nil))
			}
		}
	}
	for _, t := range b.Tags {
		if n := l.nets[t.NetworkID]; n != nil && t.Verify(signers[address.Address(t.NetworkID>>24)]) == nil {
			n.member(t.IssuedTo).tags[t.ID] = t
		}
	}
	for _, c := range b.COOs {
		if n := l.nets[c.NetworkID]; n != nil && c.Verify(signers[address.Address(c.NetworkID>>24)]) == nil {
			n.member(c.IssuedTo).coos[c.ID] = c
		}
	}
	for _, c := range b.Capabilities {
		if n := l.nets[c.NetworkID]; n != nil && c.Verify(l.identityOf) == nil {
			n.member(c.IssuedTo()).caps[c.ID] = c
		}
	}
	l.unlock()
	if got {
		l.retryHeldNow()
	}
}

// Addresses are the network's static IPs (empty before a config).
func (n *Network) Addresses() []netip.Prefix {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	if n.conf == nil {
		return nil
	}
	return append([]netip.Prefix(nil), n.conf.StaticIPs...)
}

// AuthURL is the SSO URL from an AUTHENTICATION_REQUIRED error, if any.
func (n *Network) AuthURL() string {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	return n.authURL
}
