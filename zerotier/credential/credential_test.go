package credential

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"net/netip"
	"testing"

	"ztnc/zerotier/address"
	"ztnc/zerotier/crypto/c25519"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/internal/vl2kat"
	"ztnc/zerotier/rules"
)

var kat = vl2kat.Vector

var unhex = vl2kat.Unhex

// testSigner is an identity at addr whose Ed25519 half is the KAT's test
// seed (the X25519 half is irrelevant to signatures).
func testSigner(t testing.TB, addr address.Address) *identity.Identity {
	v := kat(t, "com_v1_example")
	seed := unhex(t, v["test_ed25519_seed_hex"])
	var pub c25519.PublicKey
	var priv c25519.PrivateKey
	copy(pub[32:], ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	copy(priv[32:], seed)
	return identity.New(addr, pub, &priv)
}

func TestCOMKAT(t *testing.T) {
	v := kat(t, "com_v1_example")
	member, err := identity.Parse(v["member_identity_public"].(string))
	if err != nil {
		t.Fatal(err)
	}
	h := IdentityHash(member)
	if got := hex.EncodeToString(h[:]); got != v["sha384_addr_pubkey"] {
		t.Fatalf("identity hash %s", got)
	}
	com := NewCOM(0x18bcfe56800, 0x1b7740, 0x8056c2e21c84a027, member)
	if got := com.signedBytes(); !bytes.Equal(got, unhex(t, v["signed_bytes_hex"])) {
		t.Fatalf("signed bytes %x", got)
	}
	signer := testSigner(t, 0x8056c2e21c)
	if err := com.Sign(signer); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(com.Signature, unhex(t, v["signature_96_hex"])) {
		t.Fatalf("signature %x", com.Signature)
	}
	ser := com.Append(nil)
	if !bytes.Equal(ser, unhex(t, v["serialized_hex"])) || len(ser) != 272 {
		t.Fatalf("serialized %x", ser)
	}
	p, n, err := ParseCOM(append(ser, 0xaa))
	if err != nil || n != 272 {
		t.Fatalf("parse: %v %d", err, n)
	}
	if err := p.Verify(signer); err != nil {
		t.Fatal(err)
	}
	if p.IssuedTo() != member.Address || p.NetworkID() != 0x8056c2e21c84a027 || p.Timestamp() != 0x18bcfe56800 {
		t.Fatalf("fields %+v", p)
	}
	if !p.AgreesWith(com, member) {
		t.Fatal("COM does not agree with itself")
	}
	other := testSigner(t, member.Address) // same address, other key
	if p.AgreesWith(com, other) {
		t.Fatal("agreement ignored the identity hash")
	}
	p.Signature[5] ^= 1
	if err := p.Verify(signer); err == nil {
		t.Fatal("tampered COM verified")
	}
	if err := com.Verify(testSigner(t, 0x1111111111)); err == nil {
		t.Fatal("COM verified with a non-controller signer")
	}
}

func TestCOMAgreementSelftest(t *testing.T) {
	for _, c := range kat(t, "com_agreement_selftest")["cases"].([]any) {
		m := c.(map[string]any)
		md := uint64(m["max_delta"].(float64))
		nw := uint64(m["network_id"].(float64))
		a := &COM{Qualifiers: []Qualifier{{0, uint64(m["ts_a"].(float64)), md}, {1, nw, 0}}}
		b := &COM{Qualifiers: []Qualifier{{0, uint64(m["ts_b"].(float64)), md}, {1, nw, 0}}}
		if got := a.AgreesWith(b, nil); got != m["agree"].(bool) {
			t.Fatalf("case %v: agree=%v", m, got)
		}
	}
	if (&COM{}).AgreesWith(&COM{}, nil) {
		t.Fatal("empty COMs agree")
	}
}

func TestOthersSignVerify(t *testing.T) {
	nw := uint64(0x8056c2e21c84a027)
	ctl := testSigner(t, 0x8056c2e21c)
	lookup := func(a address.Address) *identity.Identity {
		if a == ctl.Address {
			return ctl
		}
		return nil
	}
	capa := &Capability{NetworkID: nw, Timestamp: 5, ID: 7, MaxCustody: 1, Rules: []rules.Rule{{T: rules.ActionAccept}}}
	if err := capa.Sign(ctl, 0x0123456789); err != nil {
		t.Fatal(err)
	}
	tag := &Tag{NetworkID: nw, Timestamp: 5, ID: 1, Value: 2, IssuedTo: 0x0123456789}
	coo := &COO{NetworkID: nw, Timestamp: 5, ID: 1, IssuedTo: 0x0123456789, Things: []Thing{IPThing(netip.MustParseAddr("10.0.0.1"))}}
	rev := &Revocation{ID: 9, NetworkID: nw, Threshold: 6, Flags: RevocationFastPropagate, Target: 0x0123456789, Type: TypeCOM}
	for _, err := range []error{tag.Sign(ctl), coo.Sign(ctl), rev.Sign(ctl)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	com := NewCOM(5, DefaultMaxDelta, nw, ctl)
	if err := com.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	u := &Bundle{COMs: []*COM{com}, Capabilities: []*Capability{capa}, Tags: []*Tag{tag}, Revocations: []*Revocation{rev}, COOs: []*COO{coo}}
	ser := u.Append(nil)
	if len(tag.Append(nil)) != 135 || len(rev.Append(nil)) != 152 {
		t.Fatalf("sizes tag %d rev %d", len(tag.Append(nil)), len(rev.Append(nil)))
	}
	p, err := ParseBundle(ser)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Append(nil), ser) {
		t.Fatal("bundle round trip differs")
	}
	if err := p.Capabilities[0].Verify(lookup); err != nil || p.Capabilities[0].IssuedTo() != 0x0123456789 {
		t.Fatal(err)
	}
	for _, err := range []error{p.COMs[0].Verify(ctl), p.Tags[0].Verify(ctl), p.COOs[0].Verify(ctl), p.Revocations[0].Verify(ctl)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !p.COOs[0].Owns(IPThing(netip.MustParseAddr("10.0.0.1"))) || p.COOs[0].Owns(IPThing(netip.MustParseAddr("10.0.0.2"))) {
		t.Fatal("COO ownership")
	}
	p.Tags[0].Value++
	p.Revocations[0].Threshold++
	p.COOs[0].Things[0].Value[3]++
	p.Capabilities[0].ID++
	for i, err := range []error{p.Tags[0].Verify(ctl), p.Revocations[0].Verify(ctl), p.COOs[0].Verify(ctl), p.Capabilities[0].Verify(lookup)} {
		if err == nil {
			t.Fatalf("tampered credential %d verified", i)
		}
	}
}

func TestEmptyBundleKAT(t *testing.T) {
	want := unhex(t, kat(t, "network_credentials_empty")["hex"])
	if got := (&Bundle{}).Append(nil); !bytes.Equal(got, want) {
		t.Fatalf("%x", got)
	}
	for _, b := range [][]byte{want, {0}, {}, want[:3]} {
		if _, err := ParseBundle(b); err != nil {
			t.Fatalf("%x: %v", b, err)
		}
	}
	if _, err := ParseBundle([]byte{0, 0, 1, 0}); err == nil {
		t.Fatal("truncated capability accepted")
	}
}

func FuzzParseBundle(f *testing.F) {
	f.Add(unhex(f, kat(f, "network_credentials_empty")["hex"]))
	f.Add(append(unhex(f, kat(f, "com_v1_example")["serialized_hex"]), 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseBundle(b)
		if err != nil {
			return
		}
		again, err := ParseBundle(u.Append(nil))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !bytes.Equal(again.Append(nil), u.Append(nil)) {
			t.Fatal("unstable serialization")
		}
	})
}

func FuzzParseCredentials(f *testing.F) {
	f.Add(byte(0), unhex(f, kat(f, "com_v1_example")["serialized_hex"]))
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		var n int
		var err error
		switch kind % 5 {
		case 0:
			_, n, err = ParseCOM(b)
		case 1:
			_, n, err = ParseCapability(b)
		case 2:
			_, n, err = ParseTag(b)
		case 3:
			_, n, err = ParseCOO(b)
		case 4:
			_, n, err = ParseRevocation(b)
		}
		if err == nil && (n <= 0 || n > len(b)) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
	})
}
