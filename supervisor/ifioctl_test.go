package supervisor

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func ifreqFor(name string) []byte {
	b := make([]byte, sizeofIfreq)
	copy(b, name)
	return b
}

func TestIfreq(t *testing.T) {
	ifs := testView().ifs
	le := binary.LittleEndian
	out, e := ifreq(unix.SIOCGIFADDR, ifreqFor("ztabcdefgh"), ifs)
	if e != 0 || le.Uint16(out[16:]) != unix.AF_INET || string(out[20:24]) != string([]byte{10, 147, 17, 5}) {
		t.Errorf("SIOCGIFADDR: %v %x", e, out[16:24])
	}
	out, _ = ifreq(unix.SIOCGIFNETMASK, ifreqFor("ztabcdefgh"), ifs)
	if string(out[20:24]) != string([]byte{255, 255, 255, 0}) {
		t.Errorf("SIOCGIFNETMASK: %x", out[20:24])
	}
	out, _ = ifreq(unix.SIOCGIFBRDADDR, ifreqFor("ztabcdefgh"), ifs)
	if string(out[20:24]) != string([]byte{10, 147, 17, 255}) {
		t.Errorf("SIOCGIFBRDADDR: %x", out[20:24])
	}
	out, _ = ifreq(unix.SIOCGIFFLAGS, ifreqFor("lo"), ifs)
	if f := le.Uint16(out[16:]); f&unix.IFF_LOOPBACK == 0 || f&unix.IFF_UP == 0 {
		t.Errorf("lo flags %#x", f)
	}
	out, _ = ifreq(unix.SIOCGIFHWADDR, ifreqFor("ztabcdefgh"), ifs)
	if le.Uint16(out[16:]) != unix.ARPHRD_ETHER || out[18] != 2 || out[23] != 5 {
		t.Errorf("SIOCGIFHWADDR %x", out[16:24])
	}
	out, _ = ifreq(unix.SIOCGIFMTU, ifreqFor("ztabcdefgh"), ifs)
	if le.Uint32(out[16:]) != 2800 {
		t.Errorf("MTU %d", le.Uint32(out[16:]))
	}
	b := make([]byte, sizeofIfreq)
	le.PutUint32(b[16:], 2)
	out, _ = ifreq(unix.SIOCGIFNAME, b, ifs)
	if cString(out[:16]) != "ztabcdefgh" {
		t.Errorf("SIOCGIFNAME(2) = %q", cString(out[:16]))
	}
	if _, e := ifreq(unix.SIOCGIFINDEX, ifreqFor("eth0"), ifs); e != unix.ENODEV {
		t.Errorf("host interface eth0: %v, want ENODEV", e)
	}
}

func TestProcNetFiles(t *testing.T) {
	v := testView()
	if name, ok := procNetName("/proc/self/net/if_inet6"); !ok || name != "net/if_inet6" {
		t.Errorf("procNetName: %q %v", name, ok)
	}
	if _, ok := procNetName("/proc/net/tcp"); ok {
		t.Error("/proc/net/tcp is not ours")
	}
	if6 := string(procNetIfInet6(v.ifs, v.routes))
	want := "fd000009000000000000000000000005 02 58 00 80 ztabcdefgh\n"
	if !strings.Contains(if6, want) || strings.Contains(if6, "eth0") {
		t.Errorf("if_inet6:\n%s\nwant a line %q", if6, want)
	}
	rt := string(procNetRoute(v.ifs, v.routes))
	if !strings.Contains(rt, "ztabcdefgh\t0011930A\t00000000\t0001\t") || !strings.Contains(rt, "ztabcdefgh\t0000000A\t0111930A\t0003\t") {
		t.Errorf("route:\n%s", rt)
	}
	if dev := string(procNetDev(v.ifs, v.routes)); !strings.Contains(dev, "    lo:") || !strings.Contains(dev, "ztabcdefgh:") {
		t.Errorf("dev:\n%s", dev)
	}
}
