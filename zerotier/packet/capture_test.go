package packet

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"ztnc/zerotier/identity"
)

// capture holds what testdata/hello-capture.txt (a tcpdump of a real 1.14.1
// root A and member B) contains: the two secret identities and four packets.
type capture struct {
	a, b    *identity.Identity
	packets [][]byte // ZeroTier packets (UDP payloads), in wire order
	plain   []string // the documented decrypted verb+payload of each packet
}

func loadCapture(t testing.TB) *capture {
	t.Helper()
	f, err := os.Open("testdata/hello-capture.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &capture{}
	var frame []byte
	inPlain := false
	var plain strings.Builder
	flush := func() {
		if frame != nil {
			c.packets = append(c.packets, frame[0x2a:]) // Ethernet+IPv4+UDP = 42 bytes
			frame = nil
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "A = ") && c.a == nil:
			c.a, err = identity.Parse(strings.TrimPrefix(trim, "A = "))
		case strings.HasPrefix(trim, "B = ") && c.b == nil:
			c.b, err = identity.Parse(strings.TrimPrefix(trim, "B = "))
		case strings.Contains(line, " IP ") && strings.Contains(line, "UDP"):
			flush()
			frame = []byte{}
		case strings.HasPrefix(trim, "0x") && frame != nil:
			// "0x0010:  00a5 e740 ...  ascii": hex groups sit between the
			// offset and the two-space gap before the ASCII column.
			rest := strings.SplitN(trim, ":", 2)[1]
			rest = strings.TrimLeft(rest, " ")
			if i := strings.Index(rest, "  "); i >= 0 {
				rest = rest[:i]
			}
			bs, herr := hex.DecodeString(strings.ReplaceAll(rest, " ", ""))
			if herr != nil {
				t.Fatalf("capture hex %q: %v", rest, herr)
			}
			frame = append(frame, bs...)
		case strings.HasPrefix(trim, "----") && frame != nil:
			flush()
		case strings.HasPrefix(trim, "verb+payload"):
			inPlain = true
			plain.Reset()
		case inPlain && trim != "" && isHex(trim):
			plain.WriteString(trim)
		case inPlain:
			c.plain = append(c.plain, plain.String())
			inPlain = false
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	flush()
	if c.a == nil || c.b == nil || len(c.packets) != 4 || len(c.plain) != 4 {
		t.Fatalf("capture parse: a=%v b=%v packets=%d plain=%d", c.a != nil, c.b != nil, len(c.packets), len(c.plain))
	}
	for i, want := range []int{137, 59, 137, 59} {
		if len(c.packets[i]) != want || len(c.plain[i]) != 2*(want-IndexVerb) {
			t.Fatalf("capture packet %d: %d bytes, plaintext %d hex digits", i+1, len(c.packets[i]), len(c.plain[i]))
		}
	}
	return c
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func (c *capture) keys(t testing.TB) *Keys {
	t.Helper()
	k, err := c.a.Agree(c.b.PublicOnly())
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(k[:]) != "526368c0fe5a50ff5bb5356950f70ae6bbf38ffbeeeef8903371c55cf560640acde95cc23bffeec1a92d334033c83311" {
		t.Fatalf("shared key %x", k)
	}
	keys, err := NewKeys(&k)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestCaptureDearmor authenticates and decrypts all four packets a real
// 1.14.1 pair exchanged: cipher 0 (HELLO), 1 (first OK) and 3 (AES-GMAC-SIV).
func TestCaptureDearmor(t *testing.T) {
	c := loadCapture(t)
	keys := c.keys(t)
	wantCipher := []Cipher{CipherPoly1305None, CipherPoly1305Salsa2012, CipherPoly1305None, CipherAESGMACSIV}
	wantVerb := []Verb{VerbHello, VerbOK, VerbHello, VerbOK}
	for i, raw := range c.packets {
		if Classify(raw) != KindHead {
			t.Fatalf("packet %d: classified %v", i+1, Classify(raw))
		}
		p, err := Parse(append([]byte(nil), raw...))
		if err != nil {
			t.Fatal(err)
		}
		if p.Cipher() != wantCipher[i] {
			t.Errorf("packet %d: cipher %v", i+1, p.Cipher())
		}
		if err := p.Dearmor(keys); err != nil {
			t.Fatalf("packet %d: %v", i+1, err)
		}
		if p.Verb() != wantVerb[i] {
			t.Errorf("packet %d: verb %v", i+1, p.Verb())
		}
		got := hex.EncodeToString(p[IndexVerb:])
		if i == 0 || i == 2 {
			// HELLO's last two bytes are the separately encrypted moon
			// count (package message); the listing shows them as sent.
			got = got[:len(got)-4]
			c.plain[i] = c.plain[i][:len(c.plain[i])-4]
		}
		if got != c.plain[i] {
			t.Errorf("packet %d plaintext\n got %s\nwant %s", i+1, got, c.plain[i])
		}
	}
	// Packet 2 is addressed B <- A; check the header accessors on it.
	p2 := Packet(c.packets[1])
	if p2.Dest() != c.b.Address || p2.Source() != c.a.Address || p2.Hops() != 0 || p2.ID() != 0xdc792bd9fd67f44b {
		t.Errorf("header fields: %v %v %d %x", p2.Dest(), p2.Source(), p2.Hops(), p2.ID())
	}
}

// TestCaptureReArmor rebuilds the cipher 0 and cipher 1 packets from their
// plaintext and checks every byte (key mangling, Salsa20/12, Poly1305).
func TestCaptureReArmor(t *testing.T) {
	c := loadCapture(t)
	keys := c.keys(t)
	for _, i := range []int{0, 1, 2} {
		raw := c.packets[i]
		p := Packet(append([]byte(nil), raw...))
		if err := p.Dearmor(keys); err != nil {
			t.Fatal(err)
		}
		cipher := p.Cipher()
		clear(p[IndexMAC:IndexVerb])
		p[IndexFlags] = 0
		if err := p.Armor(keys, cipher); err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(p) != hex.EncodeToString(raw) {
			t.Errorf("packet %d re-armored\n got %x\nwant %x", i+1, []byte(p), raw)
		}
	}
}
