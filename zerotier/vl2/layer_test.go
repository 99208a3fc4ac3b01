package vl2

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/dictionary"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/message"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/node"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/rules"
)

// fakeNode records sends and knows a fixed set of identities.
type fakeNode struct {
	me    *identity.Identity
	known map[address.Address]*identity.Identity
	mu    sync.Mutex
	sent  []sentPkt
}

type sentPkt struct {
	to      address.Address
	verb    packet.Verb
	payload []byte
	at      time.Time
}

func (f *fakeNode) Identity() *identity.Identity { return f.me }
func (f *fakeNode) Send(d address.Address, v packet.Verb, p []byte) error {
	f.mu.Lock()
	f.sent = append(f.sent, sentPkt{d, v, append([]byte(nil), p...), time.Now()})
	f.mu.Unlock()
	return nil
}
func (f *fakeNode) IdentityOf(a address.Address) *identity.Identity { return f.known[a] }
func (f *fakeNode) UpstreamAddresses() []address.Address            { return nil }
func (f *fakeNode) AmRoot() bool                                    { return false }
func (f *fakeNode) take() []sentPkt {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	return s
}

var testIDs struct {
	once sync.Once
	ids  []*identity.Identity
}

func ids(t testing.TB) []*identity.Identity {
	testIDs.once.Do(func() {
		b, err := os.ReadFile("testdata/identities.json")
		if err != nil {
			panic(err)
		}
		var f struct {
			Identities []struct{ Secret string } `json:"identities"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			panic(err)
		}
		for _, e := range f.Identities[:3] {
			id, err := identity.Parse(e.Secret)
			if err != nil {
				panic(err)
			}
			testIDs.ids = append(testIDs.ids, id)
		}
	})
	return testIDs.ids
}

// setup: ctl controls nwid; "me" is a member holding a config (private
// network, accept-all rules); "peer" is another member.
func setup(t testing.TB) (*Layer, *fakeNode, uint64, []*identity.Identity, *netconf.Config) {
	all := ids(t)
	ctl, me, peer := all[0], all[1], all[2]
	nwid := uint64(ctl.Address)<<24 | 0x42
	fn := &fakeNode{me: me, known: map[address.Address]*identity.Identity{ctl.Address: ctl.PublicOnly(), peer.Address: peer.PublicOnly()}}
	l := New(Options{})
	l.Attach(fn)
	l.Join(nwid, nil)
	conf := issue(t, ctl, me, nwid, time.Now().UnixMilli())
	chunks, err := netconf.MakeChunks(nwid, conf.Bytes(), ctl)
	if err != nil {
		t.Fatal(err)
	}
	l.Handle(node.VL2Packet{From: ctl.PublicOnly(), Verb: packet.VerbOK, InRe: inReOf(packet.VerbNetworkConfigRequest), Payload: chunks[0].Append(nil)})
	if l.Network(nwid).Status() != StatusOK {
		t.Fatalf("status %v", l.Network(nwid).Status())
	}
	fn.take()
	return l, fn, nwid, all, conf
}

func inReOf(v packet.Verb) message.InRe { return message.InRe{Verb: v} }

func issue(t testing.TB, ctl, member *identity.Identity, nwid uint64, ts int64) *netconf.Config {
	com := credential.NewCOM(ts, credential.DefaultMaxDelta, nwid, member)
	if err := com.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	return &netconf.Config{NetworkID: nwid, Timestamp: ts, MaxDelta: credential.DefaultMaxDelta, IssuedTo: member.Address,
		Type: netconf.TypePrivate, MTU: 2800, MulticastLimit: 32, Flags: netconf.FlagEnableBroadcast, COM: com,
		Rules: []rules.Rule{{T: rules.ActionAccept}}}
}

func TestGateHoldAndCredentials(t *testing.T) {
	l, fn, nwid, all, _ := setup(t)
	ctl, me, peer := all[0], all[1], all[2]
	var got [][]byte
	var mu sync.Mutex
	l.Network(nwid).Port().SetReceiver(func(f []byte) { mu.Lock(); got = append(got, f); mu.Unlock() })
	fr := (&Frame{NetworkID: nwid, EtherType: 0x0800, Data: []byte("hello-over-zerotier")}).Append(nil)
	l.Handle(node.VL2Packet{From: peer.PublicOnly(), PacketID: 77, Verb: packet.VerbFrame, Payload: fr})
	sent := fn.take()
	if len(sent) != 1 || sent[0].verb != packet.VerbError || sent[0].payload[0] != byte(packet.VerbFrame) ||
		packet.ErrorCode(sent[0].payload[9]) != packet.ErrorNeedMembershipCertificate {
		t.Fatalf("want ERROR NEED_MEMBERSHIP_CERTIFICATE, sent %+v", sent)
	}
	if len(got) != 0 {
		t.Fatal("frame delivered without a COM")
	}
	// The peer's COM arrives: the held frame is delivered.
	pc := issue(t, ctl, peer, nwid, time.Now().UnixMilli())
	creds := (&credential.Bundle{COMs: []*credential.COM{pc.COM}}).Append(nil)
	l.Handle(node.VL2Packet{From: peer.PublicOnly(), Verb: packet.VerbNetworkCredentials, Payload: creds})
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("held frame delivered %d times", n)
	}
	f := got[0]
	if string(f[14:]) != "hello-over-zerotier" || string(f[0:6]) != string(netconf.MAC(me.Address, nwid)) || string(f[6:12]) != string(netconf.MAC(peer.Address, nwid)) {
		t.Fatalf("frame %x", f)
	}
	// A COM of another identity with the same address does not agree.
	if l.Network(nwid).Allowed(ctl) {
		t.Fatal("controller allowed without a COM")
	}
	// A second credentials packet within a second is dropped (rate limit).
	before := l.Counters.DropRateLimit.Load()
	l.Handle(node.VL2Packet{From: peer.PublicOnly(), Verb: packet.VerbNetworkCredentials, Payload: creds})
	if l.Counters.DropRateLimit.Load() != before+1 {
		t.Fatal("credentials rate limit")
	}
	// A revocation from the controller cuts the peer off.
	rv := &credential.Revocation{ID: 1, NetworkID: nwid, Threshold: time.Now().UnixMilli() + 1, Target: peer.Address, Type: credential.TypeCOM}
	if err := rv.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	l.Handle(node.VL2Packet{From: ctl.PublicOnly(), Verb: packet.VerbNetworkCredentials, Payload: (&credential.Bundle{Revocations: []*credential.Revocation{rv}}).Append(nil)})
	if l.Network(nwid).Allowed(peer) {
		t.Fatal("revoked peer still allowed")
	}
	// A forged revocation (not signed by the controller) is ignored.
	if err := rv.Sign(peer); err != nil {
		t.Fatal(err)
	}
	before = l.Counters.DropSignature.Load()
	time.Sleep(CredentialsRateLimit) // rate limit per sender
	l.Handle(node.VL2Packet{From: ctl.PublicOnly(), Verb: packet.VerbNetworkCredentials, Payload: (&credential.Bundle{Revocations: []*credential.Revocation{rv}}).Append(nil)})
	if l.Counters.DropSignature.Load() != before+1 {
		t.Fatal("forged revocation not counted")
	}
}

func TestErrorsToStatus(t *testing.T) {
	all := ids(t)
	ctl, me := all[0], all[1]
	fn := &fakeNode{me: me, known: map[address.Address]*identity.Identity{ctl.Address: ctl.PublicOnly()}}
	l := New(Options{})
	l.Attach(fn)
	nwid := uint64(ctl.Address)<<24 | 0x99
	n := l.Join(nwid, nil)
	if n.Status() != StatusRequestingConfiguration {
		t.Fatal(n.Status())
	}
	for _, c := range []struct {
		code packet.ErrorCode
		want Status
	}{{packet.ErrorNetworkAccessDenied, StatusAccessDenied}, {packet.ErrorObjNotFound, StatusNotFound},
		{packet.ErrorUnsupportedOperation, StatusNotFound}, {packet.ErrorNetworkAuthenticationRequired, StatusAuthenticationRequired}} {
		nw := make([]byte, 8)
		for i := range nw {
			nw[i] = byte(nwid >> (56 - 8*i))
		}
		// From someone other than the controller: ignored.
		l.Handle(node.VL2Packet{From: me.PublicOnly(), Verb: packet.VerbError, InRe: inReOf(packet.VerbNetworkConfigRequest), ErrorCode: c.code, Payload: nw})
		l.Handle(node.VL2Packet{From: ctl.PublicOnly(), Verb: packet.VerbError, InRe: inReOf(packet.VerbNetworkConfigRequest), ErrorCode: c.code, Payload: nw})
		if n.Status() != c.want || n.Status().String() == "" {
			t.Fatalf("code %v: status %v", c.code, n.Status())
		}
	}
	// Requests carry the 1.14.1 metadata.
	l.pingCheck(time.Now())
	for _, s := range fn.take() {
		if s.verb != packet.VerbNetworkConfigRequest || s.to != ctl.Address {
			t.Fatalf("sent %+v", s)
		}
		r, err := netconf.ParseRequest(s.payload)
		if err != nil || r.NetworkID != nwid || dictionary.Parse(r.Metadata).Uint("minv", 0) != 14 {
			t.Fatal(r, err)
		}
	}
}

func FuzzHandle(f *testing.F) {
	f.Add(byte(packet.VerbFrame), []byte{})
	f.Add(byte(packet.VerbMulticastLike), make([]byte, 18))
	f.Add(byte(packet.VerbNetworkCredentials), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(byte(packet.VerbNetworkConfig), make([]byte, 40))
	l, fn, _, all, _ := setup(f)
	f.Fuzz(func(t *testing.T, verb byte, payload []byte) {
		in := node.VL2Packet{From: all[2].PublicOnly(), Verb: packet.Verb(verb % 16), Payload: payload}
		if len(payload) > 9 {
			in.InRe.Verb = packet.Verb(payload[0] % 16)
			in.ErrorCode = packet.ErrorCode(payload[1] % 10)
		}
		l.Handle(in)
		l.retryHeld(time.Now().Add(time.Hour)) // drain held packets
		fn.take()                              // and what was sent
	})
}

func TestNDPEmulation(t *testing.T) {
	l, fn, nwid, all, _ := setup(t)
	ctl, me, peer := all[0], all[1], all[2]
	conf := issue(t, ctl, me, nwid, time.Now().UnixMilli()+1)
	conf.Flags |= netconf.FlagEnableNDPEmulation
	conf.StaticIPs = []netip.Prefix{netconf.RFC4193(nwid, me.Address), netconf.SixPlane(nwid, me.Address)}
	chunks, err := netconf.MakeChunks(nwid, conf.Bytes(), ctl)
	if err != nil {
		t.Fatal(err)
	}
	l.Handle(node.VL2Packet{From: ctl.PublicOnly(), Verb: packet.VerbNetworkConfig, Payload: chunks[0].Append(nil)})
	acked := false
	for _, s := range fn.take() {
		acked = acked || s.verb == packet.VerbOK && s.payload[0] == byte(packet.VerbEcho) && s.to == ctl.Address
	}
	if !acked {
		t.Fatal("pushed config not acknowledged with OK(ECHO)")
	}
	port := l.Network(nwid).Port()
	var got [][]byte
	port.SetReceiver(func(f []byte) { got = append(got, f) })
	for _, target := range []netip.Prefix{netconf.RFC4193(nwid, peer.Address), netconf.SixPlane(nwid, peer.Address)} {
		got = nil
		ns := make([]byte, 64)
		ns[0], ns[6], ns[7] = 0x60, 58, 255
		src := netconf.RFC4193(nwid, me.Address).Addr().As16()
		copy(ns[8:], src[:])
		ns[40] = 135
		tb := target.Addr().As16()
		copy(ns[48:], tb[:])
		g := netconf.ResolutionGroup(target.Addr())
		frame := append(append(append([]byte(nil), g.MAC[:]...), port.MAC()...), 0x86, 0xdd)
		if err := port.WriteFrame(append(frame, ns...)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%s: %d frames", target, len(got))
		}
		na := got[0]
		ip := na[14:]
		if string(na[0:6]) != string(port.MAC()) || string(na[6:12]) != string(netconf.MAC(peer.Address, nwid)) || ip[40] != 136 ||
			string(ip[8:24]) != string(tb[:]) || string(ip[66:72]) != string(netconf.MAC(peer.Address, nwid)) {
			t.Fatalf("%s: advertisement %x", target, na)
		}
		sum := binary.BigEndian.Uint16(ip[42:])
		ip[42], ip[43] = 0, 0
		if icmpv6Checksum(ip[8:24], ip[24:40], ip[40:]) != sum {
			t.Fatal("checksum")
		}
	}
	if s := fn.take(); len(s) != 0 {
		t.Fatalf("emulated NDP sent packets: %+v", s)
	}
}

func TestRevocationFastPropagate(t *testing.T) {
	l, fn, nwid, all, _ := setup(t)
	ctl, peer := all[0], all[2]
	pc := issue(t, ctl, peer, nwid, time.Now().UnixMilli())
	l.Handle(node.VL2Packet{From: peer.PublicOnly(), Verb: packet.VerbNetworkCredentials, Payload: (&credential.Bundle{COMs: []*credential.COM{pc.COM}}).Append(nil)})
	fn.take()
	rv := &credential.Revocation{ID: 2, NetworkID: nwid, Threshold: time.Now().UnixMilli(), Flags: credential.RevocationFastPropagate,
		Target: 0x0102030405, Type: credential.TypeCOM}
	if err := rv.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	l.Handle(node.VL2Packet{From: ctl.PublicOnly(), Verb: packet.VerbNetworkCredentials, Payload: (&credential.Bundle{Revocations: []*credential.Revocation{rv}}).Append(nil)})
	time.Sleep(10 * time.Millisecond) // sends run after the lock is released, in this goroutine
	var s []sentPkt
	for _, x := range fn.take() {
		if x.to == ctl.Address {
			t.Fatal("revocation echoed to its sender")
		}
		if x.to == peer.Address {
			s = append(s, x)
		}
	}
	if len(s) != 1 || s[0].verb != packet.VerbNetworkCredentials {
		t.Fatalf("fast propagation to the known member: %+v", s)
	}
	if b, err := credential.ParseBundle(s[0].payload); err != nil || len(b.Revocations) != 1 || b.Revocations[0].Verify(ctl) != nil {
		t.Fatal(b, err)
	}
}

func TestChunkFastPropagate(t *testing.T) {
	l, fn, nwid, all, _ := setup(t)
	ctl, me, peer := all[0], all[1], all[2]
	pc := issue(t, ctl, peer, nwid, time.Now().UnixMilli())
	l.Handle(node.VL2Packet{From: peer.PublicOnly(), Verb: packet.VerbNetworkCredentials, Payload: (&credential.Bundle{COMs: []*credential.COM{pc.COM}}).Append(nil)})
	fn.take()
	conf := issue(t, ctl, me, nwid, time.Now().UnixMilli()+5)
	chunks, err := netconf.MakeChunks(nwid, conf.Bytes(), ctl)
	if err != nil {
		t.Fatal(err)
	}
	ch := chunks[0]
	ch.Flags = netconf.ChunkFlagFastPropagate
	if err := ch.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	payload := ch.Append(nil)
	l.Handle(node.VL2Packet{From: ctl.PublicOnly(), Verb: packet.VerbNetworkConfig, Payload: payload})
	l.Handle(node.VL2Packet{From: ctl.PublicOnly(), Verb: packet.VerbNetworkConfig, Payload: payload}) // duplicate: not forwarded again
	n := 0
	for _, s := range fn.take() {
		if s.to == peer.Address && s.verb == packet.VerbNetworkConfig {
			n++
			if string(s.payload) != string(payload) {
				t.Fatal("forwarded chunk differs")
			}
		}
		if s.to == ctl.Address && s.verb == packet.VerbNetworkConfig {
			t.Fatal("chunk forwarded back to the controller")
		}
	}
	if n != 1 {
		t.Fatalf("forwarded %d times", n)
	}
}

// NETWORK_CREDENTIALS to one peer are spaced by more than the receivers'
// one-per-second limit; none is lost.
func TestCredentialsSpacing(t *testing.T) {
	l, fn, _, all, _ := setup(t)
	peer := all[2].Address
	for i := 0; i < 2; i++ {
		if err := l.Send(peer, packet.VerbNetworkCredentials, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []sentPkt
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		got = append(got, fn.take()...)
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != 2 || got[0].payload[0] != 0 || got[1].payload[0] != 1 {
		t.Fatalf("sent %+v", got)
	}
	if gap := got[1].at.Sub(got[0].at); gap < CredentialsRateLimit {
		t.Fatalf("second credentials packet after %v", gap)
	}
}
