package vl2

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/node"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/rules"
)

var nowFn = time.Now

// directory is the multicast subscriber store (Multicaster): per network
// and group, who LIKEd it and when.
type directory struct {
	subs map[uint64]map[netconf.MulticastGroup]map[address.Address]time.Time
}

func newDirectory() *directory {
	return &directory{subs: map[uint64]map[netconf.MulticastGroup]map[address.Address]time.Time{}}
}

func (d *directory) add(nwid uint64, g netconf.MulticastGroup, a address.Address, now time.Time) bool {
	m := d.subs[nwid]
	if m == nil {
		m = map[netconf.MulticastGroup]map[address.Address]time.Time{}
		d.subs[nwid] = m
	}
	s := m[g]
	if s == nil {
		s = map[address.Address]time.Time{}
		m[g] = s
	}
	_, had := s[a]
	s[a] = now
	return !had
}

func (d *directory) remove(nwid uint64, g netconf.MulticastGroup, a address.Address) {
	delete(d.subs[nwid][g], a)
}

func (d *directory) get(nwid uint64, g netconf.MulticastGroup, now time.Time) []address.Address {
	var out []address.Address
	for a, t := range d.subs[nwid][g] {
		if now.Sub(t) < MulticastLikeExpire {
			out = append(out, a)
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func (d *directory) clean(now time.Time) {
	for nw, m := range d.subs {
		for g, s := range m {
			for a, t := range s {
				if now.Sub(t) >= MulticastLikeExpire {
					delete(s, a)
				}
			}
			if len(s) == 0 {
				delete(m, g)
			}
		}
		if len(m) == 0 {
			delete(d.subs, nw)
		}
	}
}

// Subscribers lists the known subscribers of a group (for tests and the
// API).
func (l *Layer) Subscribers(nwid uint64, g netconf.MulticastGroup) []address.Address {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dir.get(nwid, g, time.Now())
}

type queuedMulticast struct {
	group  netconf.MulticastGroup
	frame  *MulticastFrame
	limit  int
	sentTo map[address.Address]bool
	at     time.Time
}

// groupsLocked is the set we announce: resolution groups of our IPs,
// broadcast if enabled, and groups the port subscribed.
func (n *Network) groupsLocked() []netconf.MulticastGroup {
	if n.conf == nil {
		return nil
	}
	seen := map[netconf.MulticastGroup]bool{}
	var out []netconf.MulticastGroup
	add := func(g netconf.MulticastGroup) {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	for _, p := range n.conf.StaticIPs {
		add(netconf.ResolutionGroup(p.Addr()))
	}
	if n.conf.Broadcast() {
		add(netconf.Broadcast)
	}
	for g := range n.extraGroups {
		add(g)
	}
	return out
}

func (n *Network) subscribesLocked(g netconf.MulticastGroup) bool {
	for _, x := range n.groupsLocked() {
		if x == g {
			return true
		}
	}
	return false
}

// announceLocked sends MULTICAST_LIKEs: to the controller and roots every
// 60 s (or now if force), and to allowed members whose timer expired.
func (n *Network) announceLocked(now time.Time, force bool) {
	if n.conf == nil {
		return
	}
	groups := n.groupsLocked()
	if len(groups) == 0 {
		return
	}
	var likes []Like
	for _, g := range groups {
		likes = append(likes, Like{NetworkID: n.id, Group: g})
	}
	payload := AppendLikes(nil, likes)
	var dests []address.Address
	if force || now.Sub(n.lastAnnounce) >= MulticastAnnouncePeriod {
		n.lastAnnounce = now
		dests = append(dests, n.Controller())
		dests = append(dests, n.l.node.UpstreamAddresses()...)
		dests = append(dests, n.conf.Anchors()...)
	}
	for a, m := range n.members {
		if id := n.l.node.IdentityOf(a); id != nil && (force || now.Sub(m.lastLike) >= MulticastAnnouncePeriod) && n.allowedLocked(id) {
			m.lastLike = now
			dests = append(dests, a)
		}
	}
	n.sendToLocked(dests, packet.VerbMulticastLike, payload)
}

func (n *Network) sendToLocked(dests []address.Address, verb packet.Verb, payload []byte) {
	l := n.l
	seen := map[address.Address]bool{l.me.Address: true}
	for _, d := range dests {
		if seen[d] {
			continue
		}
		seen[d] = true
		d := d
		l.later(func() { _ = l.Send(d, verb, payload) })
	}
}

// mayUseDirectory: LIKE/GATHER from a sender is accepted if it passes our
// gate, or we are a root, or our controller configured it recently.
func (l *Layer) mayUseDirectoryLocked(nwid uint64, from *identity.Identity) bool {
	if n := l.nets[nwid]; n != nil && n.allowedLocked(from) {
		return true
	}
	if l.node.AmRoot() {
		return true
	}
	if c := l.controller(); c != nil && address.Address(nwid>>24) == l.me.Address {
		return c.RecentlyConfigured(nwid, from.Address)
	}
	return false
}

func (l *Layer) handleLike(in node.VL2Packet) {
	likes, err := ParseLikes(in.Payload)
	if err != nil {
		l.Counters.DropMalformed.Add(1)
		return
	}
	now := time.Now()
	l.lock()
	defer l.unlock()
	auth := map[uint64]bool{}
	for _, lk := range likes {
		ok, seen := auth[lk.NetworkID]
		if !seen {
			ok = l.mayUseDirectoryLocked(lk.NetworkID, in.From)
			auth[lk.NetworkID] = ok
		}
		if ok && in.From.Address != l.me.Address {
			if l.dir.add(lk.NetworkID, lk.Group, in.From.Address, now) {
				l.sendQueuedLocked(lk.NetworkID, lk.Group, now)
			}
		}
	}
}

// learnCOMLocked files an inline COM (EXT_FRAME, GATHER, MULTICAST_FRAME).
func (l *Layer) learnCOMLocked(c *credential.COM) {
	if c == nil {
		return
	}
	n := l.nets[c.NetworkID()]
	if n == nil {
		return
	}
	ctl := l.identityOfLocked(address.Address(c.NetworkID() >> 24))
	if ctl == nil || c.Verify(ctl) != nil {
		return
	}
	m := n.member(c.IssuedTo())
	if c.Timestamp() > m.comRevoked && (m.com == nil || c.Timestamp() >= m.com.Timestamp()) {
		m.com = c
	}
}

// identityOfLocked is identityOf for callers holding l.mu (the node has its
// own lock, so this is safe).
func (l *Layer) identityOfLocked(a address.Address) *identity.Identity { return l.identityOf(a) }

func (l *Layer) handleGather(in node.VL2Packet) {
	g, err := ParseGather(in.Payload)
	if err != nil {
		l.Counters.DropMalformed.Add(1)
		return
	}
	now := time.Now()
	l.lock()
	defer l.unlock()
	l.learnCOMLocked(g.COM)
	if g.Limit == 0 || !l.mayUseDirectoryLocked(g.NetworkID, in.From) {
		return
	}
	res := l.gatherLocked(g.NetworkID, g.Group, in.From.Address, int(g.Limit), now)
	if len(res.Members) == 0 {
		return
	}
	body := res.AppendOKGather(nil)
	from, id := in.From.Address, in.PacketID
	l.later(func() { _ = l.SendOK(from, packet.VerbMulticastGather, id, body) })
}

// gatherLocked picks up to limit subscribers for a requester: ourselves
// first if we subscribe, then a random sample, never the requester.
func (l *Layer) gatherLocked(nwid uint64, g netconf.MulticastGroup, requester address.Address, limit int, now time.Time) *GatherResult {
	res := &GatherResult{NetworkID: nwid, Group: g}
	limit = min(limit, 65535, (packet.MaxPayloadSize-64)/5)
	subs := l.dir.get(nwid, g, now)
	res.Total = uint32(len(subs))
	if n := l.nets[nwid]; n != nil && n.subscribesLocked(g) && requester != l.me.Address {
		res.Members = append(res.Members, l.me.Address)
		res.Total++
	}
	for _, a := range subs {
		if len(res.Members) >= limit {
			break
		}
		if a != requester && a != l.me.Address {
			res.Members = append(res.Members, a)
		}
	}
	return res
}

func (l *Layer) handleGatherResult(in node.VL2Packet) {
	res, err := ParseGatherResult(in.Payload, in.InRe.Verb == packet.VerbMulticastFrame)
	if err != nil {
		l.Counters.DropMalformed.Add(1)
		return
	}
	now := time.Now()
	l.lock()
	defer l.unlock()
	if l.nets[res.NetworkID] == nil {
		return
	}
	for _, a := range res.Members {
		if a != l.me.Address {
			l.dir.add(res.NetworkID, res.Group, a, now)
		}
	}
	l.sendQueuedLocked(res.NetworkID, res.Group, now)
}

// sendQueuedLocked sends queued multicasts of a group to newly known
// subscribers.
func (l *Layer) sendQueuedLocked(nwid uint64, g netconf.MulticastGroup, now time.Time) {
	n := l.nets[nwid]
	if n == nil {
		return
	}
	for _, q := range n.txq {
		if q.group != g || now.Sub(q.at) >= MulticastTxTimeout {
			continue
		}
		for _, a := range l.dir.get(nwid, g, now) {
			if len(q.sentTo) >= q.limit {
				break
			}
			if !q.sentTo[a] && a != l.me.Address {
				q.sentTo[a] = true
				n.sendMulticastToLocked(a, q.frame, now)
			}
		}
	}
}

func (n *Network) expireMulticastQueueLocked(now time.Time) {
	kept := n.txq[:0]
	for _, q := range n.txq {
		if now.Sub(q.at) < MulticastTxTimeout {
			kept = append(kept, q)
		}
	}
	n.txq = kept
}

func (n *Network) sendMulticastToLocked(to address.Address, f *MulticastFrame, now time.Time) {
	src := f.Src
	if !f.HasSrc {
		copy(src[:], n.port.mac)
	}
	// The per-recipient pass runs with TEE suppressed (the first pass, with
	// no destination, already made the copies).
	if !n.outboundRulesLocked(src, f.Group.MAC, f.EtherType, f.Data, uint64(to), false) {
		return
	}
	n.pushIfNeededLocked(to, now)
	payload := f.Append(nil)
	l := n.l
	l.Counters.FramesOut.Add(1)
	l.later(func() { _ = l.Send(to, packet.VerbMulticastFrame, payload) })
}

// ruleFrame builds the rules view of a frame into f (the caller's: it
// runs for every frame sent and received, and a frame, a tag map and
// closures made here each time were most of a small frame's allocations).
func (n *Network) ruleFrame(f *rules.Frame, inbound bool, peer uint64, src, dst [6]byte, et uint16, data []byte) {
	*f = rules.Frame{Inbound: inbound, Me: uint64(n.l.me.Address), MACSource: src, MACDest: dst, EtherType: et,
		Payload: data, ConfigFlags: n.conf.Flags}
	if inbound {
		f.ZTSource, f.ZTDest = peer, uint64(n.l.me.Address)
	} else {
		f.ZTSource, f.ZTDest = uint64(n.l.me.Address), peer
	}
	if tags := n.conf.Tags; len(tags) > 0 {
		f.OwnTag = func(id uint32) (uint32, bool) {
			for i := len(tags) - 1; i >= 0; i-- { // the last of a repeated ID, as a map built in order
				if tags[i].ID == id {
					return tags[i].Value, true
				}
			}
			return 0, false
		}
	}
	if m := n.members[address.Address(peer)]; m != nil && peer != 0 {
		f.PeerTag = func(id uint32) (uint32, bool) {
			t := m.tags[id]
			if t == nil || absDiff(t.Timestamp, n.conf.Timestamp) > n.conf.MaxDelta || t.Timestamp <= m.revoked[[2]uint32{credential.TypeTag, id}] {
				return 0, false
			}
			return t.Value, true
		}
	}
	// "Sender authenticated": inbound, the sender's COOs must cover the
	// source; outbound, our own (Network.cpp ownershipVerificationMask).
	var coos []*credential.COO
	if !inbound {
		coos = n.conf.COOs
	} else if m := n.members[address.Address(peer)]; m != nil {
		for _, c := range m.coos {
			if absDiff(c.Timestamp, n.conf.Timestamp) <= n.conf.MaxDelta && c.Timestamp > m.revoked[[2]uint32{credential.TypeCOO, c.ID}] {
				coos = append(coos, c)
			}
		}
	}
	ipThing, hasIP, always := srcIP(et, data)
	f.SenderIPAuth = always
	for _, c := range coos {
		if c.Owns(credential.MACThing(net.HardwareAddr(src[:]))) {
			f.SenderMACAuth = true
		}
		if hasIP && c.Owns(ipThing) {
			f.SenderIPAuth = true
		}
	}
}

// srcIP is the address whose ownership "sender IP authenticated" checks:
// the IPv4/IPv6 source, the ARP sender, the target of a neighbour
// advertisement; a neighbour solicitation always counts as authenticated.
func srcIP(et uint16, data []byte) (t credential.Thing, ok, always bool) {
	switch {
	case et == 0x0800 && len(data) >= 20:
		t = credential.Thing{Type: credential.ThingIPv4}
		copy(t.Value[:], data[12:16])
		return t, true, false
	case et == 0x86dd && len(data) >= 40:
		t = credential.Thing{Type: credential.ThingIPv6}
		if data[6] == 58 && len(data) >= 41 {
			switch data[40] {
			case 135:
				return t, false, true
			case 136:
				if len(data) >= 64 {
					copy(t.Value[:], data[48:64])
					return t, true, false
				}
			}
		}
		copy(t.Value[:], data[8:24])
		return t, true, false
	case et == 0x0806 && len(data) >= 28:
		t = credential.Thing{Type: credential.ThingIPv4}
		copy(t.Value[:], data[14:18])
		return t, true, false
	}
	return t, false, false
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// outboundAllowedLocked runs the network rules then our capabilities.
func (n *Network) outboundAllowedLocked(src, dst [6]byte, et uint16, data []byte, peer uint64) bool {
	return n.outboundRulesLocked(src, dst, et, data, peer, true)
}

func (n *Network) outboundRulesLocked(src, dst [6]byte, et uint16, data []byte, peer uint64, tee bool) bool {
	if rules.AcceptsAll(n.conf.Rules) {
		return true
	}
	var fr rules.Frame
	f := &fr
	n.ruleFrame(f, false, peer, src, dst, et, data)
	v := rules.Evaluate(n.conf.Rules, f)
	switch v.Result {
	case rules.Accept, rules.SuperAccept:
		if tee {
			n.sendTeesLocked(v.Tees, ExtFrameTeeOut, dst, src, et, data)
		}
		return true
	case rules.Redirect:
		n.sendExtLocked(address.Address(v.Redirect), ExtFrameRedirOut, dst, src, et, data)
		return false
	case rules.NoMatch:
		for _, c := range n.conf.Capabilities {
			if cv := rules.Evaluate(c.Rules, f); cv.Result == rules.Accept || cv.Result == rules.SuperAccept {
				return true
			}
		}
	}
	n.l.Counters.DropRules.Add(1)
	return false
}

// inboundVerdictLocked: 0 drop, 1 accept, 2 super-accept.
func (n *Network) inboundVerdictLocked(peer address.Address, src, dst [6]byte, et uint16, data []byte) int {
	if rules.AcceptsAll(n.conf.Rules) {
		return 1
	}
	var fr rules.Frame
	f := &fr
	n.ruleFrame(f, true, uint64(peer), src, dst, et, data)
	v := rules.Evaluate(n.conf.Rules, f)
	switch v.Result {
	case rules.Accept:
		n.sendTeesLocked(v.Tees, ExtFrameTeeIn, dst, src, et, data)
		return 1
	case rules.SuperAccept:
		return 2
	case rules.Redirect:
		n.sendExtLocked(address.Address(v.Redirect), ExtFrameRedirIn, dst, src, et, data)
		return 0
	case rules.NoMatch:
		if m := n.members[peer]; m != nil {
			for _, c := range m.caps {
				if absDiff(c.Timestamp, n.conf.Timestamp) > n.conf.MaxDelta {
					continue
				}
				if cv := rules.Evaluate(c.Rules, f); cv.Result == rules.Accept || cv.Result == rules.SuperAccept {
					return 1
				}
			}
		}
	}
	n.l.Counters.DropRules.Add(1)
	return 0
}

func (n *Network) sendTeesLocked(tees []rules.Tee, flags uint8, dst, src [6]byte, et uint16, data []byte) {
	for _, t := range tees {
		d := data
		if t.Length > 0 && int(t.Length) < len(d) {
			d = d[:t.Length]
		}
		n.sendExtLocked(address.Address(t.Target), flags, dst, src, et, d)
	}
}

func (n *Network) sendExtLocked(to address.Address, flags uint8, dst, src [6]byte, et uint16, data []byte) {
	if to == n.l.me.Address {
		return
	}
	n.pushIfNeededLocked(to, time.Now())
	f := &ExtFrame{NetworkID: n.id, Flags: flags, Dest: dst, Src: src, EtherType: et, Data: data}
	payload := f.Append(nil)
	l := n.l
	l.later(func() { _ = l.Send(to, packet.VerbExtFrame, payload) })
}

var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// sendFrame is Switch::onLocalEthernet for a frame from our port.
func (l *Layer) sendFrame(n *Network, frame []byte) error {
	now := time.Now()
	l.lock()
	o, send, err := l.sendFrameLocked(n, frame, now)
	l.unlock()
	if send {
		// After l.mu, as sendFrames does: no closure and queue entry per frame.
		_ = l.Send(o.Dest, o.Verb, o.Payload)
	}
	return err
}

// sendFrameLocked sends one frame, except a unicast FRAME to another node:
// that it returns (send) for the caller to send after l.mu, alone or with
// others (sendbatch.go).
func (l *Layer) sendFrameLocked(n *Network, frame []byte, now time.Time) (o node.Outgoing, send bool, err error) {
	if len(frame) < 14 {
		l.Counters.DropFrame.Add(1)
		return o, false, nil
	}
	var dst, src [6]byte
	copy(dst[:], frame[0:6])
	copy(src[:], frame[6:12])
	et := binary.BigEndian.Uint16(frame[12:])
	data := frame[14:]
	if n.left {
		return o, false, ErrNoConfig
	}
	if n.conf == nil {
		return o, false, ErrNoConfig
	}
	var mine [6]byte
	copy(mine[:], n.port.mac)
	bridged := src != mine
	if bridged && !n.isBridgeLocked(l.me.Address) {
		l.Counters.DropFrame.Add(1) // a foreign source MAC needs an active bridge
		return o, false, nil
	}
	if dst[0]&1 != 0 {
		l.sendMulticastLocked(n, dst, src, et, data, now)
		return o, false, nil
	}
	if dst == mine {
		cp := append([]byte(nil), frame...)
		l.later(func() { n.port.deliver(cp) })
		return o, false, nil
	}
	if peer, ok := netconf.AddressOfMAC(net.HardwareAddr(dst[:]), n.id); ok {
		if !n.outboundAllowedLocked(src, dst, et, data, uint64(peer)) {
			return o, false, nil
		}
		if bridged {
			n.sendExtLocked(peer, 0, dst, src, et, data)
			l.Counters.FramesOut.Add(1)
			return o, false, nil
		}
		n.pushIfNeededLocked(peer, now)
		payload := (&Frame{NetworkID: n.id, EtherType: et, Data: data}).Append(make([]byte, 0, 10+len(data)))
		l.Counters.FramesOut.Add(1)
		if peer != l.me.Address {
			return node.Outgoing{Dest: peer, Verb: packet.VerbFrame, Payload: payload}, true, nil
		}
		l.later(func() { _ = l.Send(peer, packet.VerbFrame, payload) })
		return o, false, nil
	}
	// A MAC behind a bridge: the one it was learned behind, else every
	// active bridge (up to 32), rules run per bridge (Switch.cpp).
	if !n.outboundAllowedLocked(src, dst, et, data, 0) {
		return o, false, nil
	}
	var bridges []address.Address
	if b, ok := n.behind[dst]; ok {
		bridges = []address.Address{b}
	} else {
		bridges = n.conf.ActiveBridges()
		rand.Shuffle(len(bridges), func(i, j int) { bridges[i], bridges[j] = bridges[j], bridges[i] })
		if len(bridges) > 32 {
			bridges = bridges[:32]
		}
	}
	sent := false
	for _, b := range bridges {
		if b != l.me.Address && n.outboundAllowedLocked(src, dst, et, data, uint64(b)) {
			n.sendExtLocked(b, 0, dst, src, et, data)
			sent = true
		}
	}
	if sent {
		l.Counters.FramesOut.Add(1)
	} else {
		l.Counters.DropFrame.Add(1)
	}
	return o, false, nil
}

// sendMulticastLocked maps a multicast/broadcast frame to its group and
// sends it (VL2.md 1.5 and 6.8, without replicators).
func (l *Layer) sendMulticastLocked(n *Network, dst, src [6]byte, et uint16, data []byte, now time.Time) {
	g := netconf.MulticastGroup{MAC: dst}
	if dst == broadcastMAC {
		if et == 0x0806 && len(data) >= 28 && data[2] == 0x08 && data[3] == 0x00 && data[4] == 6 && data[5] == 4 && data[7] == 1 {
			g.ADI = binary.BigEndian.Uint32(data[24:28]) // ARP request: the target's group
		} else if !n.conf.Broadcast() {
			l.Counters.DropFrame.Add(1)
			return
		}
	}
	if et == 0x86dd {
		if na := n.ndpEmulateLocked(src, data); na != nil {
			l.later(func() { n.port.deliver(na) })
			return
		}
	}
	limit := int(n.conf.MulticastLimit)
	if limit == 0 {
		l.Counters.DropFrame.Add(1)
		return
	}
	if !n.outboundAllowedLocked(src, dst, et, data, 0) {
		return
	}
	if len(data) > MaxMulticastPayload {
		data = data[:MaxMulticastPayload]
	}
	subs := l.dir.get(n.id, g, now)
	var recips []address.Address
	seen := map[address.Address]bool{l.me.Address: true}
	for _, b := range n.conf.ActiveBridges() {
		if !seen[b] {
			seen[b] = true
			recips = append(recips, b)
		}
	}
	for _, a := range subs {
		if len(recips) >= limit {
			break
		}
		if !seen[a] {
			seen[a] = true
			recips = append(recips, a)
		}
	}
	f := &MulticastFrame{NetworkID: n.id, Group: g, EtherType: et, Data: append([]byte(nil), data...)}
	var mine [6]byte
	copy(mine[:], n.port.mac)
	if src != mine {
		f.Src, f.HasSrc = src, true // bridged: name the real source
	}
	if len(subs) < limit {
		gl := uint32(limit - len(subs) + 1)
		f.Flags |= MulticastFlagGatherLimit
		f.GatherLimit = gl
		if len(subs) == 0 || now.Sub(n.gatherAt[g]) >= ExplicitGatherDelay {
			n.gatherAt[g] = now
			ga := &Gather{NetworkID: n.id, Group: g, Limit: gl}
			if n.conf.COM != nil {
				ga.COM = n.conf.COM
			}
			dests := append([]address.Address{n.Controller()}, l.node.UpstreamAddresses()...)
			dests = append(dests, n.conf.Anchors()...)

			n.sendToLocked(dests, packet.VerbMulticastGather, ga.Append(nil))
		}
		q := queuedMulticast{group: g, frame: f, limit: limit, sentTo: map[address.Address]bool{}, at: now}
		for _, a := range recips {
			q.sentTo[a] = true
		}
		if len(n.txq) >= 32 {
			n.txq = n.txq[1:]
		}
		n.txq = append(n.txq, q)
	}
	for _, a := range recips {
		n.sendMulticastToLocked(a, f, now)
	}
}

// handleFrame receives FRAME, EXT_FRAME and MULTICAST_FRAME.
func (l *Layer) handleFrame(in node.VL2Packet, since time.Time) {
	var nwid uint64
	var com *credential.COM
	var ef *ExtFrame
	var fr Frame
	var mf *MulticastFrame
	var err error
	switch in.Verb {
	case packet.VerbFrame:
		if err = parseFrame(in.Payload, &fr); err == nil {
			nwid = fr.NetworkID
		}
	case packet.VerbExtFrame:
		if ef, err = ParseExtFrame(in.Payload); err == nil {
			nwid, com = ef.NetworkID, ef.COM
		}
	case packet.VerbMulticastFrame:
		if mf, err = ParseMulticastFrame(in.Payload); err == nil {
			nwid, com = mf.NetworkID, mf.COM
		}
	}
	if err != nil {
		l.Counters.DropMalformed.Add(1)
		return
	}
	now := in.Received
	if now.IsZero() || !since.IsZero() {
		now = time.Now() // not from the node, or held since
	}
	// The frame for our port, delivered after l.mu is let go as later()
	// would, without a closure and a queue entry per frame.
	var out []byte
	var port *Port
	l.lock()
	defer func() {
		l.unlock()
		if out != nil {
			port.deliver(out)
		}
	}()
	n := l.nets[nwid]
	if n == nil {
		l.Counters.DropNotJoined.Add(1)
		return
	}
	l.learnCOMLocked(com)
	if !n.allowedLocked(in.From) {
		if n.conf == nil {
			l.Counters.DropNotMember.Add(1)
			return
		}
		// ERROR NEED_MEMBERSHIP_CERTIFICATE, and hold the frame for the COM.
		from, id, verb := in.From.Address, in.PacketID, in.Verb
		body := binary.BigEndian.AppendUint64(nil, nwid)
		l.later(func() { _ = l.SendError(from, verb, id, packet.ErrorNeedMembershipCertificate, body) })
		l.holdLocked(in, since)
		return
	}
	if m := n.member(in.From.Address); now.Sub(m.lastLike) >= MulticastAnnouncePeriod {
		m.lastLike = now
		if groups := n.groupsLocked(); len(groups) > 0 {
			var likes []Like
			for _, g := range groups {
				likes = append(likes, Like{NetworkID: n.id, Group: g})
			}
			n.sendToLocked([]address.Address{in.From.Address}, packet.VerbMulticastLike, AppendLikes(nil, likes))
		}
	}
	var mine [6]byte
	copy(mine[:], n.port.mac)
	var peerMAC [6]byte
	copy(peerMAC[:], netconf.MAC(in.From.Address, nwid))
	deliver := func(dst, src [6]byte, et uint16, data []byte) {
		frame := make([]byte, 14+len(data))
		copy(frame, dst[:])
		copy(frame[6:], src[:])
		binary.BigEndian.PutUint16(frame[12:], et)
		copy(frame[14:], data)
		l.Counters.FramesIn.Add(1)
		out, port = frame, n.port
	}
	switch in.Verb {
	case packet.VerbFrame:
		if len(fr.Data) == 0 {
			return
		}
		if n.inboundVerdictLocked(in.From.Address, peerMAC, mine, fr.EtherType, fr.Data) > 0 {
			deliver(mine, peerMAC, fr.EtherType, fr.Data)
		}
	case packet.VerbExtFrame:
		if ef.Src == [6]byte{} || ef.Src == mine {
			l.Counters.DropFrame.Add(1)
			return
		}
		v := n.inboundVerdictLocked(in.From.Address, ef.Src, ef.Dest, ef.EtherType, ef.Data)
		if v == 0 {
			return
		}
		if v == 1 {
			if ef.Src != peerMAC {
				if !n.isBridgeLocked(in.From.Address) {
					l.Counters.DropFrame.Add(1)
					return
				}
				n.learnBehindLocked(ef.Src, in.From.Address)
			}
			if ef.Dest != mine && ((ef.Dest[0]&1 == 0 && !n.isBridgeLocked(l.me.Address)) || (ef.Dest[0]&1 != 0 && n.conf.MulticastLimit == 0)) {
				l.Counters.DropFrame.Add(1) // unicast for someone else needs us to be a bridge
				return
			}
		}
		deliver(ef.Dest, ef.Src, ef.EtherType, ef.Data)
		if ef.Flags&ExtFrameFlagWantOK != 0 {
			from, id := in.From.Address, in.PacketID
			body := binary.BigEndian.AppendUint64(nil, nwid)
			l.later(func() { _ = l.SendOK(from, packet.VerbExtFrame, id, body) })
		}
	case packet.VerbMulticastFrame:
		if n.conf.MulticastLimit == 0 || len(mf.Data) == 0 || len(mf.Data) > MaxMulticastPayload || mf.Group.MAC[0]&1 == 0 {
			l.Counters.DropFrame.Add(1)
			return
		}
		src := peerMAC
		if mf.HasSrc {
			src = mf.Src
		}
		if src == [6]byte{} || src[0]&1 != 0 || src == mine {
			l.Counters.DropFrame.Add(1)
			return
		}
		if src != peerMAC {
			if !n.isBridgeLocked(in.From.Address) {
				l.Counters.DropFrame.Add(1)
				return
			}
			n.learnBehindLocked(src, in.From.Address)
		}
		if n.inboundVerdictLocked(in.From.Address, src, mf.Group.MAC, mf.EtherType, mf.Data) > 0 {
			deliver(mf.Group.MAC, src, mf.EtherType, mf.Data)
		}
		if mf.Flags&MulticastFlagGatherLimit != 0 && mf.GatherLimit > 0 {
			res := l.gatherLocked(nwid, mf.Group, in.From.Address, int(mf.GatherLimit), now)
			if len(res.Members) > 0 {
				body := res.AppendOKMulticastFrame(nil)
				from, id := in.From.Address, in.PacketID
				l.later(func() { _ = l.SendOK(from, packet.VerbMulticastFrame, id, body) })
			}
		}
	}
}

// learnBehindLocked remembers that a MAC lives behind a bridge (bounded).
func (n *Network) learnBehindLocked(mac [6]byte, bridge address.Address) {
	if n.behind == nil || len(n.behind) >= 4096 {
		n.behind = map[[6]byte]address.Address{}
	}
	n.behind[mac] = bridge
}

func (n *Network) isBridgeLocked(a address.Address) bool {
	for _, b := range n.conf.ActiveBridges() {
		if b == a {
			return true
		}
	}
	return false
}
