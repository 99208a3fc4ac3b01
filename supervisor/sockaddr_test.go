package supervisor

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

func TestSockaddrRoundTrip(t *testing.T) {
	cases := []struct {
		fam  int
		addr tcpip.FullAddress
	}{
		{unix.AF_INET, tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 9, 0, 1}), Port: 8080}},
		{unix.AF_INET6, tcpip.FullAddress{Addr: tcpip.AddrFrom16([16]byte{0: 0xfd, 3: 9, 15: 1}), Port: 443}},
	}
	for _, c := range cases {
		b := encodeAddr(c.addr, c.fam)
		got, unspec, e := decodeAddr(b, c.fam)
		if e != 0 || unspec || got != c.addr {
			t.Errorf("family %d: %v → %x → %v (unspec %v, errno %v)", c.fam, c.addr, b, got, unspec, e)
		}
	}
	// An IPv4 peer of an IPv6 socket is reported v4-mapped, as Linux does.
	b := encodeAddr(cases[0].addr, unix.AF_INET6)
	if want := []byte{0: 10, 2: 0x1f, 3: 0x90, 18: 0xff, 19: 0xff, 20: 10, 21: 9, 22: 0, 23: 1, 27: 0}; !bytes.Equal(b, want) {
		t.Errorf("v4-mapped: got %x, want %x", b, want)
	}
}

func TestSockaddrErrorsAreTheKernels(t *testing.T) {
	in4 := encodeAddr(tcpip.FullAddress{Port: 1}, unix.AF_INET)
	in6 := encodeAddr(tcpip.FullAddress{Port: 1}, unix.AF_INET6)
	for _, c := range []struct {
		name string
		b    []byte
		fam  int
		want unix.Errno
	}{
		{"short", []byte{2}, unix.AF_INET, unix.EINVAL},
		{"short in", in4[:15], unix.AF_INET, unix.EINVAL},
		{"short in6", in6[:23], unix.AF_INET6, unix.EINVAL},
		{"in6 on inet", in6, unix.AF_INET, unix.EAFNOSUPPORT},
		{"in on inet6", append(in4, make([]byte, 12)...), unix.AF_INET6, unix.EAFNOSUPPORT},
		{"unix", append([]byte{1, 0, '/'}, make([]byte, 13)...), unix.AF_INET, unix.EAFNOSUPPORT},
		{"unix, short", []byte{1, 0, '/', 0}, unix.AF_INET, unix.EINVAL}, // length is checked first
	} {
		if _, _, e := decodeAddr(c.b, c.fam); e != c.want {
			t.Errorf("%s: errno %v, want %v", c.name, e, c.want)
		}
	}
	// The any-address is netstack's empty address.
	a, _, e := decodeAddr(in4, unix.AF_INET)
	if e != 0 || a.Addr.Len() != 0 || a.Port != 1 {
		t.Errorf("0.0.0.0:1 decoded to %v, %v", a, e)
	}
}

// Addresses come from untrusted programs: decoding never panics, and what
// decodes re-encodes to the same address.
func FuzzDecodeAddr(f *testing.F) {
	f.Add(encodeAddr(tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}), Port: 80}, unix.AF_INET), true)
	f.Add(encodeAddr(tcpip.FullAddress{Port: 53}, unix.AF_INET6), false)
	f.Add([]byte{0, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, v4 bool) {
		fam := unix.AF_INET6
		if v4 {
			fam = unix.AF_INET
		}
		a, unspec, e := decodeAddr(b, fam)
		if e != 0 || unspec {
			return
		}
		back, _, e2 := decodeAddr(encodeAddr(a, fam), fam)
		if e2 != 0 || back != a {
			t.Fatalf("%x: %v re-decodes as %v (%v)", b, a, back, e2)
		}
	})
}

func TestSourceLogMatchesDatagrams(t *testing.T) {
	var l sourceLog
	a := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), Port: 1}
	b := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 0, 0, 2}), Port: 2}
	l.push([]byte("one"), a, tcpip.ReceivableControlMessages{})
	l.push([]byte("two"), b, tcpip.ReceivableControlMessages{})
	// "one" was consumed untrapped; "two" is found past its stale entry.
	if e, ok := l.take([]byte("two"), true); !ok || e.addr != b {
		t.Fatalf("peek two: %v %v", e.addr, ok)
	}
	if e, ok := l.take([]byte("two"), false); !ok || e.addr != b {
		t.Fatalf("take two: %v %v", e.addr, ok)
	}
	if _, ok := l.take([]byte("one"), false); ok {
		t.Fatal("a stale entry survived a later match")
	}
}
