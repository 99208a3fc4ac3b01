package message

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"ztnc/zerotier/address"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/world"
)

func TestHelloMoonsRoundTrip(t *testing.T) {
	c, keys := load(t)
	planet := world.DefaultPlanet()
	h := NewHello(c.B, 42, netip.MustParseAddrPort("[fd00::1]:9993"), planet)
	h.Moons = []MoonRef{{ID: 0x1111, Timestamp: 0}, {ID: 0x2222, Timestamp: 99}}
	p, err := h.Packet(7, c.A.Address, keys)
	if err != nil {
		t.Fatal(err)
	}
	// The moon list is not readable without the key...
	if bytes.Contains(p, []byte{0x7f, 0, 0, 0, 0, 0, 0, 0x11, 0x11}) {
		t.Fatal("moon list sent in clear")
	}
	if err := p.Dearmor(keys); err != nil {
		t.Fatal(err)
	}
	got, err := ParseHello(p, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Moons, h.Moons) || got.PlanetID != world.EarthID || got.PlanetTimestamp != planet.Timestamp ||
		got.Destination != h.Destination || got.Timestamp != 42 {
		t.Fatalf("round trip %+v", got)
	}
	// ...and a wrong key does not recover it.
	other := [48]byte{9}
	wrong, _ := packet.NewKeys(&other)
	if bad, err := ParseHello(p, wrong); err == nil && reflect.DeepEqual(bad.Moons, h.Moons) {
		t.Fatal("moon list decoded with the wrong key")
	}
}

// TestHelloOptionalFields: older peers may stop after the identity.
func TestHelloOptionalFields(t *testing.T) {
	c, keys := load(t)
	p := packet.Packet(append([]byte(nil), c.Packets[0]...))
	if err := p.Dearmor(keys); err != nil {
		t.Fatal(err)
	}
	idEnd := packet.IndexPayload + 13 + 71
	for _, cut := range []int{idEnd, idEnd + 7, idEnd + 7 + 16} {
		h, err := ParseHello(p[:cut], keys)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if h.HasDestination != (cut > idEnd) || h.HasPlanet != (cut >= idEnd+7+16) || h.HasMoons {
			t.Errorf("cut %d: %+v", cut, h)
		}
	}
	// Like 1.14, fewer than 16 bytes after the address are taken as the
	// encrypted tail, which then does not decode.
	for _, cut := range []int{packet.IndexPayload + 12, idEnd - 1, idEnd + 3, idEnd + 7 + 8, len(p) - 1} {
		if _, err := ParseHello(p[:cut], keys); !errors.Is(err, ErrMalformed) {
			t.Errorf("cut %d: %v", cut, err)
		}
	}
	// Identity/source mismatch.
	q := packet.Packet(append([]byte(nil), p...))
	q[packet.IndexSource] ^= 1
	if _, err := ParseHello(q, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("source mismatch: %v", err)
	}
	q = packet.New(1, 2, 3, packet.VerbEcho, nil)
	if _, err := ParseHello(q, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong verb: %v", err)
	}
}

func TestOKHelloWorlds(t *testing.T) {
	o := &OKHello{Timestamp: 5, ProtocolVersion: 12, Major: 1, Minor: 14, Revision: 1,
		From: netip.MustParseAddrPort("192.168.1.2:40000"), Worlds: []*world.World{world.DefaultPlanet(), world.DefaultPlanet()}}
	body, err := o.AppendBody(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOKHello(body)
	if err != nil || len(got.Worlds) != 2 || got.Worlds[1].ID != world.EarthID || got.From != o.From {
		t.Fatalf("%+v %v", got, err)
	}
	// Optional tail: stops after the revision.
	if got, err := ParseOKHello(body[:13]); err != nil || got.HasFrom || got.Worlds != nil {
		t.Fatalf("short OK(HELLO): %v", err)
	}
	for _, cut := range []int{12, 15, len(body) - 1} {
		if _, err := ParseOKHello(body[:cut]); !errors.Is(err, ErrMalformed) {
			t.Errorf("cut %d: %v", cut, err)
		}
	}
	bad := append([]byte(nil), body...)
	bad[22] = 9 // first world's type byte
	if _, err := ParseOKHello(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad world: %v", err)
	}
}

func TestOtherVerbs(t *testing.T) {
	c, _ := load(t)
	// OK / ERROR headers.
	ok := NewOK(1, 2, 3, InRe{packet.VerbWhois, 0xabcdef}, []byte("x"))
	in, body, err := ParseOK(ok)
	if err != nil || in.Verb != packet.VerbWhois || in.ID != 0xabcdef || string(body) != "x" {
		t.Fatalf("OK: %+v %q %v", in, body, err)
	}
	if _, _, err := ParseOK(packet.New(1, 2, 3, packet.VerbOK, make([]byte, 8))); !errors.Is(err, ErrMalformed) {
		t.Error("short OK accepted")
	}
	e := &Error{InRe: InRe{packet.VerbHello, 9}, Code: packet.ErrorIdentityCollision}
	ep := packet.New(1, 2, 3, packet.VerbError, e.Append(nil))
	ge, err := ParseError(ep)
	if err != nil || ge.Code != packet.ErrorIdentityCollision || ge.InRe != e.InRe || len(ge.Payload) != 0 {
		t.Fatalf("ERROR: %+v %v", ge, err)
	}
	if _, err := ParseError(packet.New(1, 2, 3, packet.VerbError, make([]byte, 9))); !errors.Is(err, ErrMalformed) {
		t.Error("short ERROR accepted")
	}
	// WHOIS and OK(WHOIS).
	w := AppendWhois(nil, c.A.Address, c.B.Address)
	addrs, err := ParseWhois(append(w, 1, 2)) // trailing partial address ignored
	if err != nil || !reflect.DeepEqual(addrs, []address.Address{c.A.Address, c.B.Address}) {
		t.Fatalf("WHOIS: %v %v", addrs, err)
	}
	if _, err := ParseWhois([]byte{1, 2, 3}); !errors.Is(err, ErrMalformed) {
		t.Error("empty WHOIS accepted")
	}
	ob, _ := AppendOKWhois(nil, c.A, c.B)
	ids, err := ParseOKWhois(ob)
	if err != nil || len(ids) != 2 || !ids[0].Equal(c.A) || ids[0].HasPrivate() {
		t.Fatalf("OK(WHOIS): %v", err)
	}
	if _, err := ParseOKWhois(ob[:100]); !errors.Is(err, ErrMalformed) {
		t.Error("truncated OK(WHOIS) accepted")
	}
	if _, err := ParseOKWhois(nil); !errors.Is(err, ErrMalformed) {
		t.Error("empty OK(WHOIS) accepted")
	}
	// RENDEZVOUS.
	for _, a := range []string{"10.1.2.3:9993", "[2001:db8::1]:1234"} {
		r := &Rendezvous{With: c.B.Address, Addr: netip.MustParseAddrPort(a)}
		got, err := ParseRendezvous(r.Append(nil))
		if err != nil || *got != *r {
			t.Errorf("RENDEZVOUS %s: %+v %v", a, got, err)
		}
	}
	rb := (&Rendezvous{With: 1, Addr: netip.MustParseAddrPort("10.1.2.3:1")}).Append(nil)
	rb[8] = 5
	if _, err := ParseRendezvous(rb); !errors.Is(err, ErrMalformed) {
		t.Error("RENDEZVOUS IP length 5 accepted")
	}
	if _, err := ParseRendezvous(rb[:10]); !errors.Is(err, ErrMalformed) {
		t.Error("truncated RENDEZVOUS accepted")
	}
	// PUSH_DIRECT_PATHS, including a record with extensions and an unknown type.
	paths := []DirectPath{{0, netip.MustParseAddrPort("192.168.0.5:9993")}, {PathFlagForget, netip.MustParseAddrPort("[fd00::5]:9993")}}
	pb := AppendPushDirectPaths(nil, paths)
	pb[1] = 4                                                    // count 4
	pb = append(pb, 0, 0, 2, 0xaa, 0xbb, 4, 6, 1, 2, 3, 4, 0, 1) // with 2 extension bytes
	pb = append(pb, 0, 0, 0, 9, 2, 0xcc, 0xdd)                   // unknown type 9, skipped
	got, err := ParsePushDirectPaths(pb)
	want := append(paths, DirectPath{0, netip.MustParseAddrPort("1.2.3.4:1")})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("PUSH_DIRECT_PATHS: %v %v", got, err)
	}
	if _, err := ParsePushDirectPaths(pb[:len(pb)-1]); !errors.Is(err, ErrMalformed) {
		t.Error("truncated PUSH_DIRECT_PATHS accepted")
	}
	// USER_MESSAGE.
	um, err := ParseUserMessage((&UserMessage{Type: 0x10000, Data: []byte("hi")}).Append(nil))
	if err != nil || um.Type != 0x10000 || string(um.Data) != "hi" {
		t.Fatalf("USER_MESSAGE: %v", err)
	}
	if _, err := ParseUserMessage(make([]byte, 7)); !errors.Is(err, ErrMalformed) {
		t.Error("short USER_MESSAGE accepted")
	}
}
