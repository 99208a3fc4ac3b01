package packet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func derivedVectors(t *testing.T) (keys *Keys, plain []byte, armored map[Cipher][]byte) {
	t.Helper()
	raw, err := os.ReadFile("testdata/vl1-kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var kat struct {
		D map[string]string `json:"derived_unverified"`
	}
	if err := json.Unmarshal(raw, &kat); err != nil {
		t.Fatal(err)
	}
	h := func(k string) []byte {
		b, err := hex.DecodeString(kat.D[k])
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", k, err)
		}
		return b
	}
	var key [PeerKeySize]byte
	copy(key[:], h("key48_hex"))
	keys, err = NewKeys(&key)
	if err != nil {
		t.Fatal(err)
	}
	return keys, h("plain_packet_hex"), map[Cipher][]byte{
		CipherPoly1305None:      h("armored_cipher0_poly1305_only_hex"),
		CipherPoly1305Salsa2012: h("armored_cipher1_salsa2012_poly1305_hex"),
		CipherAESGMACSIV:        h("armored_cipher3_aes_gmac_siv_hex"),
	}
}

// TestDerivedVectors: the fact sheet's example packet armored three ways.
// (Self-consistency only; the capture tests are the real-node check.)
func TestDerivedVectors(t *testing.T) {
	keys, plain, armored := derivedVectors(t)
	for c, want := range armored {
		p := Packet(append([]byte(nil), plain...))
		if err := p.Armor(keys, c); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, want) {
			t.Errorf("%v: got %x want %x", c, []byte(p), want)
		}
		if err := p.Dearmor(keys); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if !bytes.Equal(p[IndexVerb:], plain[IndexVerb:]) {
			t.Errorf("%v: round trip payload %x", c, p[IndexVerb:])
		}
	}
}

func TestNewAndAccessors(t *testing.T) {
	p := New(0x0102030405060708, 0x1122334455, 0xaabbccddee, VerbEcho, []byte("hello"))
	if hex.EncodeToString(p) != "01020304050607081122334455aabbccddee0000000000000000000868656c6c6f" {
		t.Fatalf("New: %x", []byte(p))
	}
	if p.Verb() != VerbEcho || p.Verb().String() != "ECHO" || string(p.Payload()) != "hello" {
		t.Fatal("accessors")
	}
	for h := 0; h < RelayMaxHops; h++ {
		if !p.IncrementHops() {
			t.Fatalf("increment at %d", h)
		}
	}
	if p.IncrementHops() || p.Hops() != RelayMaxHops {
		t.Fatal("relay hop limit not enforced")
	}
	if Verb(0x1f).String() != "VERB_0x1f" || CipherAESGMACSIV.String() != "AES_GMAC_SIV" {
		t.Fatal("names")
	}
}

func TestArmorFlagsAndHops(t *testing.T) {
	keys, plain, _ := derivedVectors(t)
	for _, c := range []Cipher{CipherPoly1305None, CipherPoly1305Salsa2012, CipherAESGMACSIV} {
		p := Packet(append([]byte(nil), plain...))
		p.SetHops(5) // armoring resets hops
		p.SetFragmented(true)
		if err := p.Armor(keys, c); err != nil {
			t.Fatal(err)
		}
		if p.Hops() != 0 || !p.Fragmented() || p.Cipher() != c || (p.Flags()&FlagEncrypted != 0) != (c == CipherPoly1305Salsa2012) {
			t.Errorf("%v: flags %#x", c, p.Flags())
		}
		p.SetHops(2) // relays change hops; that must not break authentication
		if err := p.Dearmor(keys); err != nil {
			t.Errorf("%v after hop change: %v", c, err)
		}
	}
}

func TestDearmorRejects(t *testing.T) {
	keys, plain, armored := derivedVectors(t)
	otherKey := [PeerKeySize]byte{1}
	other, _ := NewKeys(&otherKey)
	for c, a := range armored {
		// Every byte except the hop bits is covered: flip each in turn.
		for i := range a {
			p := Packet(append([]byte(nil), a...))
			if i == IndexFlags {
				p[i] ^= 0x40
			} else {
				p[i] ^= 0x01
			}
			before := append([]byte(nil), p...)
			if err := p.Dearmor(keys); !errors.Is(err, ErrAuth) {
				t.Errorf("%v: flipped byte %d accepted (%v)", c, i, err)
			}
			if !bytes.Equal(p, before) {
				t.Errorf("%v: failed dearmor modified the packet", c)
			}
		}
		p := Packet(append([]byte(nil), a...))
		if err := p.Dearmor(other); !errors.Is(err, ErrAuth) {
			t.Errorf("%v: wrong key accepted", c)
		}
		// Truncation changes the length in the key mangling / tag.
		p = Packet(append([]byte(nil), a[:len(a)-1]...))
		if err := p.Dearmor(keys); !errors.Is(err, ErrAuth) {
			t.Errorf("%v: truncated packet accepted", c)
		}
	}
	p := Packet(append([]byte(nil), plain...))
	p[IndexFlags] = 5 << 3
	if err := p.Dearmor(keys); !errors.Is(err, ErrAuth) {
		t.Errorf("cipher 5: %v", err)
	}
	p.ArmorTrustedPath(0xdeadbeef)
	if err := p.Dearmor(keys); !errors.Is(err, ErrTrustedPath) || p.TrustedPathID() != 0xdeadbeef || p.Cipher() != CipherNoneTrustedPath {
		t.Errorf("trusted path: %v", err)
	}
	if err := Packet(plain[:20]).Dearmor(keys); !errors.Is(err, ErrMalformed) {
		t.Errorf("short: %v", err)
	}
}

func TestParseAndClassify(t *testing.T) {
	if _, err := Parse(make([]byte, 27)); !errors.Is(err, ErrMalformed) {
		t.Error("27 bytes accepted")
	}
	if _, err := Parse(make([]byte, MaxPacketSize+1)); !errors.Is(err, ErrMalformed) {
		t.Error("oversize accepted")
	}
	frag := make([]byte, 40)
	frag[13] = 0xff
	if _, err := Parse(frag); !errors.Is(err, ErrMalformed) {
		t.Error("fragment parsed as head")
	}
	for n, want := range map[int]DatagramKind{0: KindIgnore, 12: KindIgnore, 13: KindBeacon, 14: KindIgnore, 16: KindIgnore, 20: KindIgnore, 28: KindHead} {
		if got := Classify(make([]byte, n)); got != want {
			t.Errorf("Classify(%d bytes) = %v want %v", n, got, want)
		}
	}
	if Classify(frag) != KindFragment {
		t.Error("fragment not classified")
	}
}

func TestCompress(t *testing.T) {
	payload := bytes.Repeat([]byte("zerotier "), 100)
	p := New(1, 2, 3, VerbUserMessage, payload)
	c := p.Compress()
	if !c.Compressed() || len(c) >= len(p) || c.Verb() != VerbUserMessage {
		t.Fatalf("not compressed: %d -> %d", len(p), len(c))
	}
	d, err := c.Decompress()
	if err != nil || !bytes.Equal(d, p) {
		t.Fatalf("round trip: %v", err)
	}
	// Small and incompressible packets go out uncompressed with the flag clear.
	small := New(1, 2, 3, VerbEcho, []byte("tiny"))
	small[IndexVerb] |= VerbFlagCompressed
	if s := small.Compress(); s.Compressed() || len(s) != len(small) {
		t.Error("small packet compressed")
	}
	rnd := make([]byte, 500)
	for i := range rnd {
		rnd[i] = byte(i*131 + i*i*7)
	}
	if r := New(1, 2, 3, VerbEcho, rnd).Compress(); r.Compressed() && len(r) >= 528 {
		t.Error("compressed result not smaller")
	}
	// Through armor: compress, armor, dearmor, decompress.
	keys, _, _ := derivedVectors(t)
	c2 := New(9, 2, 3, VerbUserMessage, payload).Compress()
	if err := c2.Armor(keys, CipherAESGMACSIV); err != nil {
		t.Fatal(err)
	}
	if err := c2.Dearmor(keys); err != nil {
		t.Fatal(err)
	}
	if d, err := c2.Decompress(); err != nil || !bytes.Equal(d.Payload(), payload) {
		t.Fatalf("armored round trip: %v", err)
	}
	// Garbage and overflowing payloads are rejected.
	bad := New(1, 2, 3, VerbEcho, []byte{0xff, 0xff, 0xff})
	bad[IndexVerb] |= VerbFlagCompressed
	if _, err := bad.Decompress(); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage LZ4: %v", err)
	}
	empty := New(1, 2, 3, VerbEcho, nil)
	empty[IndexVerb] |= VerbFlagCompressed
	if _, err := empty.Decompress(); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty LZ4: %v", err)
	}
	huge := New(1, 2, 3, VerbEcho, make([]byte, MaxPayloadSize+1)).Compress()
	if !huge.Compressed() {
		t.Fatal("zeros did not compress")
	}
	if _, err := huge.Decompress(); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversize decompression: %v", err)
	}
}

// TestMangledKeyLayout restates VL1.md 4.3 for a packet longer than 255 bytes
// (the captures are all shorter, so the high length byte is otherwise untested).
func TestMangledKeyLayout(t *testing.T) {
	var peer [PeerKeySize]byte
	for i := range peer {
		peer[i] = byte(0xa0 + i)
	}
	keys, err := NewKeys(&peer)
	if err != nil {
		t.Fatal(err)
	}
	p := New(0x0102030405060708, 0x1122334455, 0x6677889900, VerbEcho, make([]byte, 0x1234-HeaderSize))
	p[IndexFlags] = 0x80 | 0x40 | 1<<3 | 5 // encrypted, fragmented, cipher 1, hops 5
	var want [32]byte
	copy(want[:], peer[:32])
	for i := 0; i < 18; i++ {
		want[i] ^= p[i]
	}
	want[18] ^= 0xc8 // flags without hops
	want[19] ^= 0x34 // length, little-endian
	want[20] ^= 0x12
	if got := keys.mangledKey(p); got != want {
		t.Fatalf("mangled key\n got %x\nwant %x", got, want)
	}
	// Armor/dearmor agree on a long cipher-1 packet and its length matters.
	if err := p.Armor(keys, CipherPoly1305Salsa2012); err != nil {
		t.Fatal(err)
	}
	long := append(Packet(nil), p...)
	if err := long.Dearmor(keys); err != nil {
		t.Fatal(err)
	}
	if err := Packet(append(p[:len(p):len(p)], 0)).Dearmor(keys); !errors.Is(err, ErrAuth) {
		t.Fatal("appended byte accepted")
	}
}
