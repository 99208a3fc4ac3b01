package message

import (
	"bytes"
	"net/netip"
	"testing"

	"ztnc/zerotier/internal/capture"
	"ztnc/zerotier/packet"
)

func load(t testing.TB) (*capture.Capture, *packet.Keys) {
	t.Helper()
	c, err := capture.Load("testdata/hello-capture.txt")
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.A.Agree(c.B.PublicOnly())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := packet.NewKeys(&k)
	if err != nil {
		t.Fatal(err)
	}
	return c, keys
}

const (
	labPlanetID = 0x7e57000000000001
	labPlanetTS = 1795902334103
)

// TestCaptureHello decodes both real HELLOs and rebuilds them byte for byte
// (payload layout, encrypted moon field, cipher-0 MAC).
func TestCaptureHello(t *testing.T) {
	c, keys := load(t)
	for _, tc := range []struct {
		idx  int
		from string
		ts   uint64
		dest string
	}{
		{0, "B", 1795902334871, "172.30.1.1:9993"},
		{2, "A", 1795902334872, "172.30.2.2:9993"},
	} {
		raw := c.Packets[tc.idx]
		sender, receiver := c.B, c.A
		if tc.from == "A" {
			sender, receiver = c.A, c.B
		}
		p := packet.Packet(append([]byte(nil), raw...))
		// Step 1: identity from the still-armored packet (no key yet).
		h, err := ParseHello(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Identity.Equal(sender) || h.HasMoons {
			t.Fatalf("packet %d: identity %s", tc.idx+1, h.Identity)
		}
		// Step 2: authenticate, then decode fully.
		if err := p.Dearmor(keys); err != nil {
			t.Fatal(err)
		}
		h, err = ParseHello(p, keys)
		if err != nil {
			t.Fatal(err)
		}
		want := Hello{ProtocolVersion: 12, Major: 1, Minor: 14, Revision: 1, Timestamp: tc.ts,
			HasDestination: true, Destination: netip.MustParseAddrPort(tc.dest),
			HasPlanet: true, PlanetID: labPlanetID, PlanetTimestamp: labPlanetTS, HasMoons: true}
		got := *h
		got.Identity = nil
		if got.Moons != nil || got.ProtocolVersion != want.ProtocolVersion || got.Major != want.Major || got.Minor != want.Minor ||
			got.Revision != want.Revision || got.Timestamp != want.Timestamp || got.Destination != want.Destination ||
			!got.HasDestination || !got.HasPlanet || got.PlanetID != want.PlanetID || got.PlanetTimestamp != want.PlanetTimestamp || !got.HasMoons {
			t.Errorf("packet %d: %+v", tc.idx+1, got)
		}
		// Rebuild with the same packet ID.
		nh := NewHello(sender, tc.ts, netip.MustParseAddrPort(tc.dest), nil)
		nh.HasPlanet, nh.PlanetID, nh.PlanetTimestamp = true, labPlanetID, labPlanetTS
		out, err := nh.Packet(packet.Packet(raw).ID(), receiver.Address, keys)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, raw) {
			t.Errorf("packet %d rebuilt\n got %x\nwant %x", tc.idx+1, []byte(out), raw)
		}
	}
}

// TestCaptureOKHello decodes both real OK(HELLO)s (cipher 1 and cipher 3)
// and rebuilds the cipher-1 one byte for byte.
func TestCaptureOKHello(t *testing.T) {
	c, keys := load(t)
	for _, tc := range []struct {
		idx, helloIdx int
		ts            uint64
		from          string
	}{
		{1, 0, 1795902334871, "172.30.2.2:9993"},
		{3, 2, 1795902334872, "172.30.1.1:9993"},
	} {
		raw := c.Packets[tc.idx]
		p := packet.Packet(append([]byte(nil), raw...))
		if err := p.Dearmor(keys); err != nil {
			t.Fatal(err)
		}
		inRe, body, err := ParseOK(p)
		if err != nil {
			t.Fatal(err)
		}
		if inRe.Verb != packet.VerbHello || inRe.ID != packet.Packet(c.Packets[tc.helloIdx]).ID() {
			t.Errorf("packet %d: in-re %+v", tc.idx+1, inRe)
		}
		ok, err := ParseOKHello(body)
		if err != nil {
			t.Fatal(err)
		}
		if ok.Timestamp != tc.ts || ok.ProtocolVersion != 12 || ok.Major != 1 || ok.Minor != 14 || ok.Revision != 1 ||
			!ok.HasFrom || ok.From != netip.MustParseAddrPort(tc.from) || len(ok.Worlds) != 0 {
			t.Errorf("packet %d: %+v", tc.idx+1, ok)
		}
		rebuiltBody, err := ok.AppendBody(nil)
		if err != nil || !bytes.Equal(rebuiltBody, body) {
			t.Errorf("packet %d: body re-encoding %x vs %x", tc.idx+1, rebuiltBody, body)
		}
		if p.Cipher() == packet.CipherPoly1305Salsa2012 {
			q := NewOK(p.ID(), p.Dest(), p.Source(), inRe, rebuiltBody)
			if err := q.Armor(keys, packet.CipherPoly1305Salsa2012); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(q, raw) {
				t.Errorf("packet %d rebuilt\n got %x\nwant %x", tc.idx+1, []byte(q), raw)
			}
		}
	}
}
