// Package controller is a ZeroTier network controller (the embedded
// controller of ZeroTier One 1.14 with its file store, VL2.md section 8): it
// serves networks whose ID starts with our address, keeps them in
// controller.d/ laid out as ZeroTier One's, authorizes members, assigns IPs,
// issues COMs, capabilities, tags and COOs, signs and chunks configs, pushes
// updates and revocations, and serves the /controller API.
package controller

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/dictionary"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/rules"
)

// Timing (EmbeddedNetworkController).
const (
	MinRequestPeriod = time.Second       // per member and network
	OnlineWindow     = 120 * time.Second // a member is online if it asked this recently
	RecentWindow     = 180 * time.Second // LIKE/GATHER authorization window
	maxSeen          = 4096              // requesters remembered before old ones are dropped
)

// Sender is how the controller talks to members (a *vl2.Layer).
type Sender interface {
	Send(dest address.Address, verb packet.Verb, payload []byte) error
	SendOK(dest address.Address, inReVerb packet.Verb, inReID uint64, body []byte) error
	SendError(dest address.Address, inReVerb packet.Verb, inReID uint64, code packet.ErrorCode, body []byte) error
}

// ErrNotFound is returned for missing networks and members.
var ErrNotFound = errors.New("controller: not found")

// Controller is a running network controller.
type Controller struct {
	dir  string
	me   *identity.Identity
	out  Sender
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex
	nets map[uint64]*NetworkRecord
	mems map[uint64]map[address.Address]*MemberRecord
	seen map[memberKey]*onlineInfo
}

type memberKey struct {
	nwid uint64
	addr address.Address
}

type onlineInfo struct {
	lastRequest    time.Time
	lastConfigured time.Time
	identity       *identity.Identity
	meta           *dictionary.Dict
	authorized     bool // authorised at its last genuine request
}

// New loads controller.d under home (created if missing). out may be set
// later with SetSender before requests arrive.
func New(home string, me *identity.Identity, out Sender, log *slog.Logger) (*Controller, error) {
	if log == nil {
		log = slog.Default()
	}
	c := &Controller{dir: filepath.Join(home, "controller.d"), me: me, out: out, log: log.With("controller", me.Address.String()),
		now: time.Now, nets: map[uint64]*NetworkRecord{}, mems: map[uint64]map[address.Address]*MemberRecord{}, seen: map[memberKey]*onlineInfo{}}
	for _, d := range []string{"network", "trace"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// SetSender sets the transport.
func (c *Controller) SetSender(s Sender) { c.mu.Lock(); c.out = s; c.mu.Unlock() }

func (c *Controller) load() error {
	ents, err := os.ReadDir(filepath.Join(c.dir, "network"))
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) != 21 || !strings.HasSuffix(name, ".json") {
			continue // only <16 hex>.json, as FileDB
		}
		var nwid uint64
		if _, err := fmt.Sscanf(name[:16], "%016x", &nwid); err != nil {
			continue
		}
		var rec NetworkRecord
		if err := readJSON(filepath.Join(c.dir, "network", name), &rec); err != nil {
			c.log.Warn("skipping network record", "file", name, "err", err)
			continue
		}
		c.nets[nwid] = &rec
		c.mems[nwid] = map[address.Address]*MemberRecord{}
		mdir := filepath.Join(c.dir, "network", name[:16], "member")
		ms, _ := os.ReadDir(mdir)
		for _, m := range ms {
			mn := m.Name()
			if m.IsDir() || len(mn) != 15 || !strings.HasSuffix(mn, ".json") {
				continue
			}
			a, err := address.Parse(mn[:10])
			if err != nil {
				continue
			}
			var mr MemberRecord
			if err := readJSON(filepath.Join(mdir, mn), &mr); err != nil {
				c.log.Warn("skipping member record", "file", mn, "err", err)
				continue
			}
			c.mems[nwid][a] = &mr
		}
	}
	return nil
}

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeJSON writes compact JSON atomically.
func writeJSON(p string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// sameIgnoringRevision compares two records' JSON without "revision".
func sameIgnoringRevision(a, b any) bool {
	strip := func(v any) []byte {
		bs, _ := json.Marshal(v)
		var m map[string]any
		_ = json.Unmarshal(bs, &m)
		delete(m, "revision")
		out, _ := json.Marshal(m)
		return out
	}
	return bytes.Equal(strip(a), strip(b))
}

func (c *Controller) saveNetworkLocked(nwid uint64, rec *NetworkRecord, old *NetworkRecord) error {
	if old != nil && sameIgnoringRevision(rec, old) {
		rec.Revision = old.Revision
		return nil
	}
	rec.Revision++
	if err := writeJSON(filepath.Join(c.dir, "network", fmt.Sprintf("%016x.json", nwid)), rec); err != nil {
		return fmt.Errorf("controller: save network: %w", err)
	}
	c.nets[nwid] = rec
	if c.mems[nwid] == nil {
		c.mems[nwid] = map[address.Address]*MemberRecord{}
	}
	return nil
}

func (c *Controller) saveMemberLocked(nwid uint64, a address.Address, rec *MemberRecord, old *MemberRecord) error {
	if old != nil && sameIgnoringRevision(rec, old) {
		rec.Revision = old.Revision
		c.mems[nwid][a] = rec
		return nil
	}
	rec.Revision++
	p := filepath.Join(c.dir, "network", fmt.Sprintf("%016x", nwid), "member", a.String()+".json")
	if err := writeJSON(p, rec); err != nil {
		return fmt.Errorf("controller: save member: %w", err)
	}
	c.mems[nwid][a] = rec
	return nil
}

func clone[T any](v *T) *T {
	b, _ := json.Marshal(v)
	out := new(T)
	_ = json.Unmarshal(b, out)
	return out
}

// RecentlyConfigured implements vl2.Controller.
func (c *Controller) RecentlyConfigured(nwid uint64, member address.Address) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.seen[memberKey{nwid, member}]
	return o != nil && c.now().Sub(o.lastConfigured) < RecentWindow
}

type outMsg struct {
	to      address.Address
	verb    packet.Verb
	inReID  uint64 // OK / ERROR
	inRe    packet.Verb
	code    packet.ErrorCode
	payload []byte
}

func (c *Controller) flush(msgs []outMsg) {
	c.mu.Lock()
	out := c.out
	c.mu.Unlock()
	if out == nil {
		return
	}
	for _, m := range msgs {
		var err error
		switch m.verb {
		case packet.VerbOK:
			err = out.SendOK(m.to, m.inRe, m.inReID, m.payload)
		case packet.VerbError:
			err = out.SendError(m.to, m.inRe, m.inReID, m.code, m.payload)
		default:
			err = out.Send(m.to, m.verb, m.payload)
		}
		if err != nil {
			c.log.Debug("send", "to", m.to, "verb", m.verb, "err", err)
		}
	}
}

// HandleRequest implements vl2.Controller (EmbeddedNetworkController::
// request, run synchronously: it is cheap).
func (c *Controller) HandleRequest(from *identity.Identity, packetID uint64, nwid uint64, meta *dictionary.Dict) {
	if address.Address(nwid>>24) != c.me.Address {
		return
	}
	c.mu.Lock()
	now := c.now()
	k := memberKey{nwid, from.Address}
	o := c.seen[k]
	if o != nil && now.Sub(o.lastRequest) < MinRequestPeriod {
		c.mu.Unlock()
		return
	}
	if o == nil {
		if len(c.seen) >= maxSeen {
			// Forget requesters silent for longer than the online window.
			for k2, o2 := range c.seen {
				if now.Sub(o2.lastRequest) >= RecentWindow {
					delete(c.seen, k2)
				}
			}
		}
		o = &onlineInfo{}
		c.seen[k] = o
	}
	o.lastRequest, o.identity, o.meta = now, from, meta
	msgs := c.answerLocked(from, packetID, nwid, meta, true)
	c.mu.Unlock()
	c.flush(msgs)
}

// answerLocked builds the reply to a request (or a push when !reply).
func (c *Controller) answerLocked(from *identity.Identity, packetID uint64, nwid uint64, meta *dictionary.Dict, reply bool) []outMsg {
	now := c.now()
	nwBytes := binary.BigEndian.AppendUint64(nil, nwid)
	errMsg := func(code packet.ErrorCode) []outMsg {
		if !reply {
			return nil
		}
		return []outMsg{{to: from.Address, verb: packet.VerbError, inRe: packet.VerbNetworkConfigRequest, inReID: packetID, code: code, payload: nwBytes}}
	}
	nw := c.nets[nwid]
	if nw == nil {
		return errMsg(packet.ErrorObjNotFound)
	}
	old := c.mems[nwid][from.Address]
	var m *MemberRecord
	if old == nil {
		m = newMemberRecord(nwid, from.Address.String(), now.UnixMilli())
		for _, cp := range nw.Capabilities {
			if cp.Default {
				m.Capabilities = append(m.Capabilities, cp.ID)
			}
		}
	} else {
		m = clone(old)
	}
	if m.Identity != "" {
		if id, err := identity.Parse(m.Identity); err != nil || !id.Equal(from) {
			return errMsg(packet.ErrorNetworkAccessDenied)
		}
	} else {
		m.Identity = from.PublicOnly().String()
	}
	authorized := m.Authorized
	if !authorized && !nw.Private {
		authorized = true
		m.Authorized, m.LastAuthorizedTime = true, now.UnixMilli()
		t := "public"
		m.LastAuthorizedCredentialType, m.LastAuthorizedCredential = &t, nil
	}
	if !authorized && meta != nil {
		if tok, ok := strings.CutPrefix(meta.String("a"), "token:"); ok && tok != "" {
			if toks, ok := nw.AuthTokens.(map[string]any); ok {
				if exp, ok := toks[tok].(float64); ok && (exp == 0 || int64(exp) > now.UnixMilli()) {
					authorized = true
					m.Authorized, m.LastAuthorizedTime = true, now.UnixMilli()
					t := "token"
					m.LastAuthorizedCredentialType, m.LastAuthorizedCredential = &t, &tok
				}
			}
		}
	}
	o := c.seen[memberKey{nwid, from.Address}]
	if !authorized {
		if err := c.saveMemberLocked(nwid, from.Address, m, old); err != nil {
			c.log.Error("saving member", "err", err)
		}
		if o != nil {
			o.authorized = false
		}
		return errMsg(packet.ErrorNetworkAccessDenied)
	}
	if meta != nil && reply {
		m.VMajor, m.VMinor, m.VRev, m.VProto = metaInt(meta, "majv"), metaInt(meta, "minv"), metaInt(meta, "revv"), metaInt(meta, "pv")
	}
	conf, err := c.buildConfigLocked(nw, m, from, meta, now)
	if err != nil {
		c.log.Error("building config", "network", fmt.Sprintf("%016x", nwid), "member", from.Address, "err", err)
		return errMsg(packet.ErrorObjNotFound)
	}
	if err := c.saveMemberLocked(nwid, from.Address, m, old); err != nil {
		c.log.Error("saving member", "err", err)
	}
	chunks, err := netconf.MakeChunks(nwid, conf.Bytes(), c.me)
	if err != nil {
		c.log.Error("signing config", "err", err)
		return errMsg(packet.ErrorObjNotFound)
	}
	if o != nil {
		o.lastConfigured = now
		o.authorized = true
	}
	var msgs []outMsg
	for _, ch := range chunks {
		if reply {
			msgs = append(msgs, outMsg{to: from.Address, verb: packet.VerbOK, inRe: packet.VerbNetworkConfigRequest, inReID: packetID, payload: ch.Append(nil)})
		} else {
			msgs = append(msgs, outMsg{to: from.Address, verb: packet.VerbNetworkConfig, payload: ch.Append(nil)})
		}
	}
	return msgs
}

func metaInt(d *dictionary.Dict, k string) int {
	if !d.Has(k) {
		return -1
	}
	return int(d.Uint(k, 0))
}

// buildConfigLocked is the config a member gets (VL2.md 8.1 step 9); it
// may add IP assignments and tags to m.
func (c *Controller) buildConfigLocked(nw *NetworkRecord, m *MemberRecord, who *identity.Identity, meta *dictionary.Dict, now time.Time) (*netconf.Config, error) {
	var nwid uint64
	if _, err := fmt.Sscanf(nw.ID, "%016x", &nwid); err != nil {
		return nil, fmt.Errorf("network id %q: %w", nw.ID, err)
	}
	ctmd := int64(credential.DefaultMaxDelta)
	if nw.CertificateTimeoutWindowSize != nil {
		ctmd = *nw.CertificateTimeoutWindowSize
	}
	ctmd = min(max(ctmd, credential.MinMaxDelta), credential.MaxMaxDelta)
	conf := &netconf.Config{
		Version: netconf.Version, NetworkID: nwid, Timestamp: now.UnixMilli(), MaxDelta: ctmd, Revision: nw.Revision,
		IssuedTo: who.Address, Type: netconf.TypePrivate, Name: nw.Name, MTU: uint64(min(max(nw.MTU, 1280), 10000)),
		MulticastLimit: uint64(max(nw.MulticastLimit, 0)),
	}
	if !nw.Private {
		conf.Type = netconf.TypePublic
	}
	if nw.EnableBroadcast {
		conf.Flags |= netconf.FlagEnableBroadcast
	}
	if t := m.RemoteTraceTarget; t != nil {
		if a, err := address.Parse(*t); err == nil {
			conf.TraceTarget, conf.TraceLevel = a, uint64(max(m.RemoteTraceLevel, 0))
		}
	} else if t := nw.RemoteTraceTarget; t != nil {
		if a, err := address.Parse(*t); err == nil {
			conf.TraceTarget, conf.TraceLevel = a, uint64(max(nw.RemoteTraceLevel, 0))
		}
	}
	for _, om := range c.mems[nwid] {
		if om.ActiveBridge && om.Authorized {
			if a, err := address.Parse(om.Address); err == nil {
				conf.Specialists = append(conf.Specialists, netconf.SpecialistActiveBridge|uint64(a))
			}
		}
	}
	sort.Slice(conf.Specialists, func(i, j int) bool { return conf.Specialists[i] < conf.Specialists[j] })
	if meta == nil || meta.Uint("revr", 0) == 0 {
		conf.Rules = []rules.Rule{{T: rules.ActionAccept}}
	} else {
		for _, r := range nw.Rules {
			if rr, ok := rules.FromJSON(r); ok && len(conf.Rules) < rules.MaxNetworkRules {
				conf.Rules = append(conf.Rules, rr)
			}
		}
		for _, id := range m.Capabilities {
			for _, cp := range nw.Capabilities {
				if cp.ID != id {
					continue
				}
				capa := &credential.Capability{NetworkID: nwid, Timestamp: now.UnixMilli(), ID: cp.ID, MaxCustody: 1}
				for _, r := range cp.Rules {
					if rr, ok := rules.FromJSON(r); ok && len(capa.Rules) < rules.MaxCapabilityRules {
						capa.Rules = append(capa.Rules, rr)
					}
				}
				if err := capa.Sign(c.me, who.Address); err != nil {
					return nil, err
				}
				conf.Capabilities = append(conf.Capabilities, capa)
			}
		}
		have := map[uint32]bool{}
		for _, t := range m.Tags {
			if len(t) == 2 {
				have[t[0]] = true
			}
		}
		for _, t := range nw.Tags {
			if !have[t.ID] && t.Default != nil {
				m.Tags = append(m.Tags, []uint32{t.ID, *t.Default})
			}
		}
		for _, t := range m.Tags {
			if len(t) != 2 {
				continue
			}
			tag := &credential.Tag{NetworkID: nwid, Timestamp: now.UnixMilli(), ID: t[0], Value: t[1], IssuedTo: who.Address}
			if err := tag.Sign(c.me); err != nil {
				return nil, err
			}
			conf.Tags = append(conf.Tags, tag)
		}
	}
	// Routes.
	type route struct {
		p   netip.Prefix
		via netip.Addr
	}
	var routes []route
	for _, r := range nw.Routes {
		p, err := netip.ParsePrefix(r.Target)
		if err != nil || len(conf.Routes) >= netconf.MaxRoutes {
			continue
		}
		rt := netconf.Route{Target: p.Masked()}
		if r.Via != nil {
			if v, err := netip.ParseAddr(*r.Via); err == nil && v.Is4() == p.Addr().Is4() {
				rt.Via = v
			}
		}
		conf.Routes = append(conf.Routes, rt)
		routes = append(routes, route{rt.Target, rt.Via})
	}
	// Static IPs (VL2.md 8.2).
	if !m.NoAutoAssignIPs {
		if nw.V6AssignMode.RFC4193 {
			conf.StaticIPs = append(conf.StaticIPs, netconf.RFC4193(nwid, who.Address))
			conf.Flags |= netconf.FlagEnableNDPEmulation
		}
		if nw.V6AssignMode.SixPlane {
			conf.StaticIPs = append(conf.StaticIPs, netconf.SixPlane(nwid, who.Address))
			conf.Flags |= netconf.FlagEnableNDPEmulation
		}
	}
	haveV4, haveV6 := false, false
	for _, s := range m.IPAssignments {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		best := -1
		for _, r := range routes {
			if r.p.Contains(ip) && r.p.Bits() > best {
				best = r.p.Bits()
			}
		}
		if best < 0 || len(conf.StaticIPs) >= netconf.MaxStaticIPs {
			continue // outside every route: not sent (as 1.14)
		}
		conf.StaticIPs = append(conf.StaticIPs, netip.PrefixFrom(ip, best))
		if ip.Is4() {
			haveV4 = true
		} else {
			haveV6 = true
		}
	}
	allocated := map[netip.Addr]bool{}
	for _, om := range c.mems[nwid] {
		for _, s := range om.IPAssignments {
			if a, err := netip.ParseAddr(s); err == nil {
				allocated[a] = true
			}
		}
	}
	if nw.V6AssignMode.ZT && !haveV6 && !m.NoAutoAssignIPs {
	pools6:
		for _, p := range nw.IPAssignmentPools {
			s, e := netip.MustParseAddr(p.IPRangeStart), netip.MustParseAddr(p.IPRangeEnd)
			if !s.Is6() || e.Less(s) {
				continue
			}
			si, ei := new(big.Int).SetBytes(s.AsSlice()), new(big.Int).SetBytes(e.AsSlice())
			span := new(big.Int).Sub(ei, si)
			for trial := 0; trial < 1000; trial++ {
				var cand *big.Int
				if trial == 0 && span.Cmp(big.NewInt(1<<40-1)) >= 0 {
					cand = new(big.Int).Add(si, big.NewInt(int64(who.Address)))
				} else {
					r, err := crand.Int(crand.Reader, new(big.Int).Add(span, big.NewInt(1)))
					if err != nil {
						break
					}
					cand = r.Add(r, si)
				}
				if cand.Cmp(si) < 0 || cand.Cmp(ei) > 0 {
					continue
				}
				var b16 [16]byte
				cand.FillBytes(b16[:])
				ip := netip.AddrFrom16(b16)
				for _, r := range routes {
					if !r.via.IsValid() && r.p.Contains(ip) && !allocated[ip] {
						m.IPAssignments = append(m.IPAssignments, ip.String())
						conf.StaticIPs = append(conf.StaticIPs, netip.PrefixFrom(ip, r.p.Bits()))
						break pools6
					}
				}
			}
		}
	}
	if nw.V4AssignMode.ZT && !haveV4 && !m.NoAutoAssignIPs {
	pools4:
		for _, p := range nw.IPAssignmentPools {
			s, err1 := netip.ParseAddr(p.IPRangeStart)
			e, err2 := netip.ParseAddr(p.IPRangeEnd)
			if err1 != nil || err2 != nil || !s.Is4() || !e.Is4() {
				continue
			}
			sv, ev := u32(s), u32(e)
			if sv == 0 || ev < sv {
				continue
			}
			span := ev - sv
			ctr := uint32(uint64(who.Address))
			for trial := 0; trial < 1000; trial++ {
				ipv := sv
				if span > 0 {
					ipv = sv + ctr%span
				}
				ctr++
				if ipv&0xff == 0xff {
					continue
				}
				ip := netip.AddrFrom4([4]byte{byte(ipv >> 24), byte(ipv >> 16), byte(ipv >> 8), byte(ipv)})
				for _, r := range routes {
					if r.p.Addr().Is4() && r.p.Bits() > 0 && r.p.Contains(ip) {
						if !allocated[ip] {
							m.IPAssignments = append(m.IPAssignments, ip.String())
							conf.StaticIPs = append(conf.StaticIPs, netip.PrefixFrom(ip, r.p.Bits()))
							break pools4
						}
						break
					}
				}
			}
		}
	}
	if len(conf.StaticIPs) > 0 {
		coo := &credential.COO{NetworkID: nwid, Timestamp: now.UnixMilli(), ID: 1, IssuedTo: who.Address}
		for _, p := range conf.StaticIPs {
			if len(coo.Things) < credential.MaxCOOThings {
				coo.Things = append(coo.Things, credential.IPThing(p.Addr()))
			}
		}
		if err := coo.Sign(c.me); err != nil {
			return nil, err
		}
		conf.COOs = []*credential.COO{coo}
	}
	if d, ok := nw.DNS.(map[string]any); ok {
		conf.DNS.Domain, _ = d["domain"].(string)
		if ss, ok := d["servers"].([]any); ok {
			for _, s := range ss {
				if str, ok := s.(string); ok && len(conf.DNS.Servers) < netconf.DNSMaxServers {
					if a, err := netip.ParseAddr(str); err == nil {
						conf.DNS.Servers = append(conf.DNS.Servers, a)
					}
				}
			}
		}
	}
	com := credential.NewCOM(now.UnixMilli(), uint64(ctmd), nwid, who)
	if err := com.Sign(c.me); err != nil {
		return nil, err
	}
	conf.COM = com
	return conf, nil
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// pushLocked re-runs the request logic for online authorised members of a
// network (all, or one) and sends NETWORK_CONFIG pushes.
func (c *Controller) pushLocked(nwid uint64, only address.Address) []outMsg {
	now := c.now()
	var msgs []outMsg
	for k, o := range c.seen {
		if k.nwid != nwid || (only != 0 && k.addr != only) || !o.authorized || now.Sub(o.lastRequest) >= OnlineWindow || o.identity == nil {
			continue
		}
		msgs = append(msgs, c.answerLocked(o.identity, 0, nwid, o.meta, false)...)
	}
	return msgs
}

// revokeLocked builds a COM revocation for a member and sends it to every
// online member of the network.
func (c *Controller) revokeLocked(nwid uint64, targets ...address.Address) []outMsg {
	now := c.now()
	b := &credential.Bundle{}
	for _, target := range targets {
		rv := &credential.Revocation{ID: rand.Uint32(), NetworkID: nwid, Threshold: now.UnixMilli(),
			Flags: credential.RevocationFastPropagate, Target: target, Type: credential.TypeCOM}
		if err := rv.Sign(c.me); err != nil {
			c.log.Error("signing revocation", "err", err)
			return nil
		}
		b.Revocations = append(b.Revocations, rv)
		if o := c.seen[memberKey{nwid, target}]; o != nil {
			o.authorized = false
		}
	}
	if len(b.Revocations) == 0 {
		return nil
	}
	// As few packets as fit (60 x 152 bytes): receivers take one
	// NETWORK_CREDENTIALS per second from us.
	var payloads [][]byte
	for i := 0; i < len(b.Revocations); i += 60 {
		part := &credential.Bundle{Revocations: b.Revocations[i:min(i+60, len(b.Revocations))]}
		payloads = append(payloads, part.Append(nil))
	}
	var msgs []outMsg
	for k, o := range c.seen {
		if k.nwid == nwid && now.Sub(o.lastRequest) < OnlineWindow {
			for _, p := range payloads {
				msgs = append(msgs, outMsg{to: k.addr, verb: packet.VerbNetworkCredentials, payload: p})
			}
		}
	}
	return msgs
}
