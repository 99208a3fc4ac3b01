package inetaddr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		ap  string
		hex string
	}{
		// As they appear in planet-lab.hex and the default planet.
		{"172.30.1.1:9993", "04ac1e01012709"},
		{"[2605:9880:200:1200:30:571:e34:51]:9993", "06" + "2605988002001200003005710e340051" + "2709"},
	} {
		ap := netip.MustParseAddrPort(c.ap)
		enc := Append(nil, ap)
		if hex.EncodeToString(enc) != c.hex {
			t.Errorf("%s: %x want %s", c.ap, enc, c.hex)
		}
		if Size(ap) != len(enc) {
			t.Errorf("%s: Size %d len %d", c.ap, Size(ap), len(enc))
		}
		got, n, err := Decode(append(enc, 0xee))
		if err != nil || n != len(enc) || got != ap {
			t.Errorf("%s: decode %v %d %v", c.ap, got, n, err)
		}
	}
	if enc := Append(nil, netip.AddrPort{}); !bytes.Equal(enc, []byte{0}) {
		t.Errorf("nil: %x", enc)
	}
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:10.0.0.1"), 1)
	if enc := Append(nil, mapped); enc[0] != TypeIPv6 || len(enc) != 19 {
		t.Errorf("4in6: %x", enc)
	}
}

func TestReservedAndErrors(t *testing.T) {
	for _, c := range []struct {
		in []byte
		n  int
	}{
		{[]byte{0}, 1},
		{[]byte{1, 1, 2, 3, 4, 5, 6}, 7},
		{[]byte{2, 1, 2, 3, 4, 5, 6, 9}, 7},
		{[]byte{3, 0, 2, 9, 9}, 5},
	} {
		ap, n, err := Decode(c.in)
		if err != nil || n != c.n || ap.IsValid() {
			t.Errorf("%x: %v %d %v", c.in, ap, n, err)
		}
	}
	for _, bad := range [][]byte{{}, {4, 1, 2, 3, 4, 5}, {6, 1}, {3, 0}, {3, 0, 5, 1}, {1, 2}, {5}, {0xff}} {
		if _, _, err := Decode(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{4, 172, 30, 1, 1, 0x27, 0x09})
	f.Add([]byte{3, 0, 1, 0})
	f.Add(make([]byte, 19))
	f.Fuzz(func(t *testing.T, b []byte) {
		ap, n, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
			return
		}
		if n < 1 || n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		if (b[0] == TypeIPv4 || b[0] == TypeIPv6) && !bytes.Equal(Append(nil, ap), b[:n]) {
			t.Fatalf("re-encode mismatch")
		}
	})
}
