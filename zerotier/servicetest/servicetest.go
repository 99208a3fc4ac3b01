// Package servicetest helps tests start our services on 127.0.0.1 with a private
// planet whose root is one of them.
package servicetest

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/idtool"
	"ztnc/zerotier/service"
)

// Identities parses the reference-made identities (with secrets) in a
// copy of vectors/identities.json.
func Identities(t testing.TB, file string) []*identity.Identity {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Identities []struct{ Secret string } `json:"identities"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out []*identity.Identity
	for _, e := range f.Identities {
		id, err := identity.Parse(e.Secret)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// Planet makes the planet file contents for a private planet with root
// reachable at ep, with `ztnc idtool mkplanet`'s code (fresh signing key).
func Planet(t testing.TB, root *identity.Identity, ep netip.AddrPort) []byte {
	t.Helper()
	j, err := idtool.NewPlanetJSON(0x7e57000000000077,
		[]idtool.RootJSON{{Identity: root.String(), StableEndpoints: []string{idtool.EndpointString(ep)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := idtool.MkPlanet(j, uint64(time.Now().UnixMilli()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freePort finds a port free for UDP on 127.0.0.1 and TCP on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		u.Close()
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// Root starts a root service with identity id in a fresh home and returns
// it with the planet file naming it. The port is picked free and retried if
// another process takes it between the check and the bind.
func Root(t testing.TB, id *identity.Identity) (*service.Service, string) {
	t.Helper()
	home := t.TempDir()
	if err := id.WriteFiles(home); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 5 {
		port := freePort(t)
		b := Planet(t, id, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)))
		pf := filepath.Join(t.TempDir(), "planet")
		if err := os.WriteFile(pf, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := service.Start(Options(home, port, pf))
		if err != nil {
			lastErr = err
			continue
		}
		t.Cleanup(func() { s.Close() })
		return s, pf
	}
	t.Fatalf("starting root: %v", lastErr)
	return nil, ""
}

// Options are the test settings: loopback only, fast ping checks.
func Options(home string, port int, planetFile string) service.Options {
	return service.Options{
		Home: home, Port: port, PlanetFile: planetFile, ListenIP: netip.AddrFrom4([4]byte{127, 0, 0, 1}),
		PingInterval: 200 * time.Millisecond, HelloRateLimit: 50 * time.Millisecond,
	}
}

// Leaf starts a service in home (port chosen by the OS) using planetFile.
func Leaf(t testing.TB, home, planetFile string) *service.Service {
	t.Helper()
	var lastErr error
	for range 5 {
		s, err := service.Start(Options(home, freePort(t), planetFile))
		if err != nil {
			lastErr = err
			continue
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Fatalf("starting leaf: %v", lastErr)
	return nil
}

// WaitFor polls cond until it holds or 15 s pass.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
