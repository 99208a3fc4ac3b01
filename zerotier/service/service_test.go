package service_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ztnc/zerotier/api"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/service"
	"ztnc/zerotier/servicetest"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func getJSON(t *testing.T, c *api.Client, path string, v any) int {
	t.Helper()
	code, body, err := c.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil && code == 200 {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: %v in %s", path, err, body)
		}
	}
	return code
}

// TestServiceHomeAndAPI: a root service and a leaf service with a generated
// identity; the home layout, file modes, and the API's /status and /peer.
func TestServiceHomeAndAPI(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	root, planetFile := servicetest.Root(t, ids[0])
	home := t.TempDir()
	leaf := servicetest.Leaf(t, home, planetFile)

	for _, f := range []string{identity.SecretFileName, api.TokenFile} {
		if m := mode(t, filepath.Join(home, f)); m != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, m)
		}
	}
	pub, err := identity.ReadFile(filepath.Join(home, identity.PublicFileName))
	if err != nil || pub.Address != leaf.Node.Address() || pub.HasPrivate() {
		t.Fatalf("identity.public: %v %v", pub, err)
	}
	if port, err := api.ReadPort(home); err != nil || port != leaf.Port {
		t.Fatalf("port file: %d %v, want %d", port, err, leaf.Port)
	}
	wantPlanet, _ := os.ReadFile(planetFile)
	if got, _ := os.ReadFile(filepath.Join(home, "planet")); string(got) != string(wantPlanet) {
		t.Fatal("home/planet is not the planet given with PlanetFile")
	}
	if tok, _ := api.ReadToken(home); len(tok) != 24 {
		t.Fatalf("authtoken.secret %q, want 24 characters", tok)
	}

	servicetest.WaitFor(t, "leaf online", leaf.Node.Online)
	rootAddr := root.Node.Address().String()
	c := &api.Client{Port: leaf.Port, Token: leaf.Token}
	servicetest.WaitFor(t, "leaf with a direct path to the root in /peer", func() bool {
		var ps []map[string]any
		getJSON(t, c, "/peer", &ps)
		for _, p := range ps {
			if p["address"] == rootAddr {
				paths, _ := p["paths"].([]any)
				return len(paths) > 0
			}
		}
		return false
	})

	var st map[string]any
	if code := getJSON(t, c, "/status", &st); code != 200 {
		t.Fatalf("/status: %d", code)
	}
	settings, _ := st["config"].(map[string]any)["settings"].(map[string]any)
	for k, want := range map[string]any{
		"address": leaf.Node.Address().String(), "publicIdentity": leaf.Node.Identity().String(),
		"online": true, "tcpFallbackActive": false, "version": "1.14.1",
		"versionMajor": 1.0, "versionMinor": 14.0, "versionRev": 1.0,
	} {
		if st[k] != want {
			t.Errorf("/status %s = %v, want %v", k, st[k], want)
		}
	}
	if settings["primaryPort"] != float64(leaf.Port) || settings["homeDir"] != home {
		t.Errorf("/status settings = %v", settings)
	}
	if _, ok := st["clock"].(float64); !ok {
		t.Error("/status has no clock")
	}
	if _, ok := st["planetWorldId"].(float64); !ok {
		t.Error("/status has no planetWorldId")
	}

	var p map[string]any
	if code := getJSON(t, c, "/peer/"+rootAddr, &p); code != 200 {
		t.Fatalf("/peer/%s: %d", rootAddr, code)
	}
	if p["role"] != "PLANET" || p["version"] != "1.14.1" || p["versionMajor"] != 1.0 || p["isBonded"] != false {
		t.Errorf("/peer/root = %v", p)
	}
	path0 := p["paths"].([]any)[0].(map[string]any)
	if path0["address"] != fmt.Sprintf("127.0.0.1/%d", root.Port) || path0["preferred"] != true || path0["active"] != true {
		t.Errorf("root path = %v", path0)
	}
	if _, ok := path0["lastReceive"].(float64); !ok {
		t.Errorf("path lacks lastReceive: %v", path0)
	}
	if code := getJSON(t, c, "/peer/0123456789", nil); code != 404 {
		t.Errorf("/peer of an unknown address: %d, want 404", code)
	}
	if code := getJSON(t, &api.Client{Port: leaf.Port, Token: "wrong"}, "/status", nil); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code := getJSON(t, &api.Client{Port: leaf.Port}, "/status?auth="+leaf.Token, nil); code != 200 {
		t.Errorf("?auth=: %d, want 200", code)
	}
	var ctr map[string]uint64
	if code := getJSON(t, c, "/debug/counters", &ctr); code != 200 || ctr["rxPackets"] == 0 {
		t.Errorf("/debug/counters: %d %v", code, ctr)
	}

	// The root knows the leaf (it says it is a LEAF) and serves as root.
	rc := &api.Client{Port: root.Port, Token: root.Token}
	var rp map[string]any
	if code := getJSON(t, rc, "/peer/"+leaf.Node.Address().String(), &rp); code != 200 || rp["role"] != "LEAF" {
		t.Errorf("root's view of the leaf: %d %v", code, rp)
	}

	// Restarting with the same home keeps the address.
	addr := leaf.Node.Address()
	leaf.Close()
	again := servicetest.Leaf(t, home, "")
	if again.Node.Address() != addr {
		t.Fatalf("restarted node has address %v, want %v", again.Node.Address(), addr)
	}
	if again.Node.Topology().Planet().ID != root.Node.Topology().Planet().ID {
		t.Fatal("restarted node lost the planet from home/planet")
	}
}

// TestExplicitPortTaken: an explicit port in use is a clear error.
func TestExplicitPortTaken(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	root, _ := servicetest.Root(t, ids[0])
	home := t.TempDir()
	_, err := service.Start(servicetest.Options(home, root.Port, ""))
	if err == nil {
		t.Fatal("second service on a taken port started")
	}
	if want := strconv.Itoa(root.Port); !contains(err.Error(), want) {
		t.Fatalf("error %q does not name port %s", err, want)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestSecondaryPort: with 9993 taken, a node binds 1.14's secondary port for
// its address, the same on every start, so that peers (whose path learning
// ignores a new port on a live path's IP) keep reaching it after a restart.
func TestSecondaryPort(t *testing.T) {
	if got := service.SecondaryPort(0x89e92ceee5); got != 20000+int(0x89e92ceee5%45500) {
		t.Fatalf("SecondaryPort = %d", got)
	}
	ids := servicetest.Identities(t, "testdata/identities.json")
	_, planet := servicetest.Root(t, ids[0])
	// Hold 9993 (if it is free; if something else holds it, so much the better).
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9993}); err == nil {
		defer c.Close()
	}
	home := t.TempDir()
	var ports []int
	for i := 0; i < 2; i++ {
		// The secondary port is in the ephemeral range: a socket of another
		// test may hold it for a moment. A start that misses it counts
		// against the node only if the port was free right after, and it
		// takes misses on every one of several starts to fail.
		free := 0
		for try := 0; ; try++ {
			s, err := service.Start(servicetest.Options(home, 0, planet))
			if err != nil {
				t.Fatal(err)
			}
			want := service.SecondaryPort(s.Node.Identity().Address)
			got := s.Port
			s.Close()
			if got == 9993 {
				t.Skip("9993 could not be held (another address family?); the fallback was not exercised")
			}
			if got == want {
				ports = append(ports, got)
				break
			}
			if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: want}); err == nil {
				c.Close()
				free++
			}
			if try == 4 {
				if free == 5 {
					t.Fatalf("start %d bound port %d five times although the secondary port %d was free each time", i, got, want)
				}
				t.Skipf("the secondary port %d was taken on this machine", want)
			}
		}
	}
	if ports[0] != ports[1] {
		t.Fatalf("ports %v: a restart moved the node", ports)
	}
}

// TestRestartKeepsPort: a node that started off 9993 (taken then) comes back
// on the same port even once 9993 is free, so its peers' path stays right.
func TestRestartKeepsPort(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	_, planet := servicetest.Root(t, ids[0])
	hold, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9993})
	home := t.TempDir()
	s, err := service.Start(servicetest.Options(home, 0, planet))
	if err != nil {
		t.Fatal(err)
	}
	first := s.Port
	s.Close()
	if hold != nil {
		hold.Close()
	}
	if first == 9993 {
		t.Fatal("the node bound 9993 although it was held")
	}
	s, err = service.Start(servicetest.Options(home, 0, planet))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Port != first {
		t.Fatalf("restarted on port %d, want the previous run's %d", s.Port, first)
	}
}
