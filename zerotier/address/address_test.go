package address

import (
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	a, err := Parse("8E4DF28B72")
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != "8e4df28b72" {
		t.Fatalf("String() = %s", a)
	}
	b := a.Bytes()
	if b != [5]byte{0x8e, 0x4d, 0xf2, 0x8b, 0x72} {
		t.Fatalf("Bytes() = %x", b)
	}
	back, err := FromBytes(b[:])
	if err != nil || back != a {
		t.Fatalf("FromBytes = %v, %v", back, err)
	}
	if Address(0x12).String() != "0000000012" {
		t.Fatalf("zero padding: %s", Address(0x12))
	}
}

func TestReserved(t *testing.T) {
	for _, c := range []struct {
		a    Address
		want bool
	}{{0, true}, {0xff00000001, true}, {0xfe00000000, false}, {1, false}} {
		if c.a.IsReserved() != c.want {
			t.Errorf("%s reserved=%v", c.a, !c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "12345678901", "xyz", "-1", "+1"} {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v", s, err)
		}
	}
	if _, err := FromBytes([]byte{1, 2}); !errors.Is(err, ErrInvalid) {
		t.Errorf("short FromBytes: %v", err)
	}
}
