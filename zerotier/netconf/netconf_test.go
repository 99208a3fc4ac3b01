package netconf

import (
	"bytes"
	"crypto/ed25519"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/internal/vl2kat"
	"ztnc/zerotier/rules"
)

var kat = vl2kat.Vector

var unhex = vl2kat.Unhex

func ids(t testing.TB, v map[string]any) (uint64, address.Address) {
	nw, err := strconv.ParseUint(v["network_id"].(string), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	a, err := address.Parse(v["node_address"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return nw, a
}

func testSigner(t testing.TB, addr address.Address) *identity.Identity {
	seed := unhex(t, kat(t, "com_v1_example")["test_ed25519_seed_hex"])
	var pub c25519.PublicKey
	var priv c25519.PrivateKey
	copy(pub[32:], ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	copy(priv[32:], seed)
	return identity.New(addr, pub, &priv)
}

func TestMACKAT(t *testing.T) {
	for _, name := range []string{"mac_derivation_observed", "mac_derivation_9bee8941b5de0691_1234512345",
		"mac_derivation_8056c2e21c000001_0123456789", "mac_derivation_1122334455667752_aabbccddee",
		"mac_derivation_1122334455667753_aabbccddee"} {
		v := kat(t, name)
		nw, a := ids(t, v)
		m := MAC(a, nw)
		if m.String() != v["mac"] {
			t.Fatalf("%s: %s", name, m)
		}
		back, ok := AddressOfMAC(m, nw)
		if !ok || back != a {
			t.Fatalf("%s: reverse %s %v", name, back, ok)
		}
	}
	if _, ok := AddressOfMAC(net.HardwareAddr{0x02, 1, 2, 3, 4, 5}, 0x8056c2e21c84a027); ok {
		t.Fatal("foreign MAC reversed")
	}
}

func TestIPv6KAT(t *testing.T) {
	v := kat(t, "rfc4193_manual_example")
	nw, a := ids(t, v)
	if got := RFC4193(nw, a).String(); got != v["address"] {
		t.Fatal(got)
	}
	v = kat(t, "6plane_manual_example")
	if got := SixPlane(nw, a).String(); got != v["address"] {
		t.Fatal(got)
	}
	v = kat(t, "rfc4193_6plane_derived")
	nw, a = ids(t, v)
	if RFC4193(nw, a).String() != v["rfc4193"] || SixPlane(nw, a).String() != v["sixplane"] {
		t.Fatal(RFC4193(nw, a), SixPlane(nw, a))
	}
}

func TestGroupsKAT(t *testing.T) {
	v := kat(t, "arp_group_ipv4")
	g := ResolutionGroup(netip.MustParseAddr(v["ip"].(string)))
	if net.HardwareAddr(g.MAC[:]).String() != v["group_mac"] || g.ADI != uint32(v["adi_decimal"].(float64)) {
		t.Fatal(g)
	}
	v = kat(t, "ndp_group_ipv6")
	g = ResolutionGroup(netip.MustParseAddr(v["ip"].(string)))
	if net.HardwareAddr(g.MAC[:]).String() != v["group_mac"] || g.ADI != 0 {
		t.Fatal(g)
	}
}

func TestRoutesAndIPsKAT(t *testing.T) {
	rt := AppendRoutes(nil, []Route{{Target: netip.MustParsePrefix("10.147.17.0/24")}})
	if !bytes.Equal(rt, unhex(t, kat(t, "route_blob")["hex"])) {
		t.Fatalf("%x", rt)
	}
	rs, err := ParseRoutes(rt)
	if err != nil || len(rs) != 1 || rs[0].Via.IsValid() || rs[0].Target.String() != "10.147.17.0/24" {
		t.Fatal(rs, err)
	}
	c := &Config{NetworkID: 1, IssuedTo: 2, StaticIPs: []netip.Prefix{netip.MustParsePrefix("10.147.17.5/24"),
		netip.MustParsePrefix("fd9b:ee89:41b5:de06:9199:9312:3451:2345/88")}}
	i, _ := c.Dict().Get("I")
	want := append(unhex(t, kat(t, "inetaddress_v4")["hex"]), unhex(t, kat(t, "inetaddress_v6")["hex"])...)
	if !bytes.Equal(i, want) {
		t.Fatalf("I = %x", i)
	}
}

func TestDictHeadAndChunkKAT(t *testing.T) {
	v := kat(t, "netconf_dictionary_head_example")
	c := &Config{NetworkID: 0x8056c2e21c84a027, Timestamp: 0x18bcfe56800, MaxDelta: 0x1b7740, Revision: 3,
		IssuedTo: 0x87c29dbef6, Flags: 2, MulticastLimit: 32, Type: TypePrivate, Name: "my-net", MTU: 2800,
		Rules: []rules.Rule{{T: rules.ActionAccept}}}
	full := string(c.Bytes())
	head := v["text"].(string)
	if !strings.HasPrefix(full, head+"\n") {
		t.Fatalf("config\n%q\ndoes not start with\n%q", full, head)
	}
	if !strings.Contains(full, "\nR=\x01\\0\n") {
		t.Fatal("R line")
	}
	if !strings.Contains(full, "\nDNS="+strings.Repeat(`\0`, 132)+"\n") {
		t.Fatal("empty DNS line")
	}
	back, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(c) || back.Version != Version {
		t.Fatalf("round trip:\n%q\n%q", back.Bytes(), full)
	}

	cv := kat(t, "netconf_chunk_single_signed")
	signer := testSigner(t, 0x8056c2e21c)
	ch := &Chunk{NetworkID: 0x8056c2e21c84a027, Data: []byte(head), UpdateID: 0x1122334455667788, Total: uint32(len(head))}
	if !bytes.Equal(ch.signed(), unhex(t, cv["signed_region_hex"])) {
		t.Fatalf("signed region %x", ch.signed())
	}
	sig, err := signer.Sign(ch.signed())
	if err != nil {
		t.Fatal(err)
	}
	ch.Signature = sig
	payload := ch.Append(nil)
	if !bytes.Equal(payload, unhex(t, cv["payload_hex"])) {
		t.Fatalf("payload %x", payload)
	}
	p, err := ParseChunk(payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(signer); err != nil {
		t.Fatal(err)
	}
	var a Assembler
	whole, ok := a.Add(p)
	if !ok || string(whole) != head {
		t.Fatal("single chunk not assembled")
	}
	// The head alone lacks nothing mandatory.
	if _, err := Parse(whole); err != nil {
		t.Fatal(err)
	}
}

func TestChunking(t *testing.T) {
	signer := testSigner(t, 0x8056c2e21c)
	big := bytes.Repeat([]byte("x"), 3*MaxChunkData+5)
	chunks, err := MakeChunks(1, big, signer)
	if err != nil || len(chunks) != 4 {
		t.Fatal(len(chunks), err)
	}
	var a Assembler
	order := []int{3, 1, 1, 0, 2} // out of order with a duplicate
	for i, k := range order {
		p, err := ParseChunk(chunks[k].Append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(signer); err != nil {
			t.Fatal(err)
		}
		whole, ok := a.Add(p)
		if ok != (i == len(order)-1) {
			t.Fatalf("step %d: complete=%v", i, ok)
		}
		if ok && !bytes.Equal(whole, big) {
			t.Fatal("reassembled bytes differ")
		}
	}
	bad := chunks[0].Append(nil)
	bad[20] ^= 1
	if p, err := ParseChunk(bad); err == nil && p.Verify(signer) == nil {
		t.Fatal("tampered chunk verified")
	}
}

func TestRequestKAT(t *testing.T) {
	v := kat(t, "netconf_request_payload_first")
	r := &Request{NetworkID: 0x8056c2e21c84a027, Metadata: RequestMetadata("linux/x86_64").Bytes()}
	if got := r.Append(nil); !bytes.Equal(got, unhex(t, v["hex"])) {
		t.Fatalf("%x", got)
	}
	p, err := ParseRequest(unhex(t, v["hex"]))
	if err != nil || p.NetworkID != r.NetworkID || !bytes.Equal(p.Metadata, r.Metadata) {
		t.Fatal(err)
	}
}

func TestConfigFull(t *testing.T) {
	signer := testSigner(t, 0x8056c2e21c)
	member := testSigner(t, 0x0123456789)
	nw := uint64(0x8056c2e21c84a027)
	com := credential.NewCOM(1000, credential.DefaultMaxDelta, nw, member)
	if err := com.Sign(signer); err != nil {
		t.Fatal(err)
	}
	tag := &credential.Tag{NetworkID: nw, Timestamp: 1000, ID: 3, Value: 4, IssuedTo: member.Address}
	coo := &credential.COO{NetworkID: nw, Timestamp: 1000, ID: 1, IssuedTo: member.Address}
	capa := &credential.Capability{NetworkID: nw, Timestamp: 1000, ID: 9, MaxCustody: 1, Rules: []rules.Rule{{T: rules.ActionAccept}}}
	for _, err := range []error{tag.Sign(signer), coo.Sign(signer), capa.Sign(signer, member.Address)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := &Config{NetworkID: nw, Timestamp: 1000, MaxDelta: credential.DefaultMaxDelta, IssuedTo: member.Address,
		Type: TypePublic, MTU: 1500, MulticastLimit: 32, Flags: FlagEnableBroadcast, Name: "n=\n\\",
		COM: com, Tags: []*credential.Tag{tag}, COOs: []*credential.COO{coo}, Capabilities: []*credential.Capability{capa},
		Specialists: []uint64{SpecialistActiveBridge | 0x0123456789},
		Routes:      []Route{{Target: netip.MustParsePrefix("10.0.0.0/8"), Via: netip.MustParseAddr("10.0.0.1"), Metric: 5}},
		StaticIPs:   []netip.Prefix{netip.MustParsePrefix("10.0.0.2/8")},
		DNS:         DNS{Domain: "zt.example", Servers: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		SSOEnabled:  true, AuthURL: "https://x/"}
	back, err := Parse(c.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(c) {
		t.Fatalf("round trip differs:\n%q\n%q", back.Bytes(), c.Bytes())
	}
	if back.Name != c.Name || back.DNS.Domain != "zt.example" || len(back.ActiveBridges()) != 1 || back.IsPrivate() || !back.Broadcast() {
		t.Fatalf("%+v", back)
	}
	for _, bad := range []string{"v=5\nnwid=1\nid=1", "v=7\nid=1", "v=7\nnwid=1", "v=7\nnwid=1\nid=1\nRT=\\3"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	d, _ := Parse([]byte("v=7\nnwid=1\nid=1\nmtu=5"))
	if d.MTU != MinMTU || d.Type != TypePrivate || d.MulticastLimit != 0 {
		t.Fatalf("defaults %+v", d)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(kat(f, "netconf_dictionary_head_example")["text"].(string)))
	f.Add([]byte("v=7\nnwid=1\nid=1\nI=\\4\x0a\\0\\0\\1\\0\\8\nRT=\\0\nDNS=abc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		again, err := Parse(c.Bytes())
		if err != nil {
			t.Fatalf("re-parse of our own output: %v", err)
		}
		if !again.Equal(c) {
			t.Fatal("unstable")
		}
	})
}

func FuzzParseChunk(f *testing.F) {
	f.Add(unhex(f, kat(f, "netconf_chunk_single_signed")["payload_hex"]))
	f.Add(unhex(f, kat(f, "netconf_request_payload_first")["hex"]))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Assembler
		if c, err := ParseChunk(b); err == nil {
			a.Add(c)
		}
		if r, err := ParseRequest(b); err == nil {
			_ = r.Append(nil)
		}
	})
}
