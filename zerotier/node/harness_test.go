package node

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/idtool"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/topology"
	"ztnc/zerotier/world"
)

// testIdentities are the reference-made identities of the vectors (with
// secrets), so tests need no proof-of-work generation.
func testIdentities(t testing.TB) []*identity.Identity {
	t.Helper()
	b, err := os.ReadFile("testdata/identities.json")
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
	if len(out) < 4 {
		t.Fatalf("need 4 identities, have %d", len(out))
	}
	return out
}

// testPlanet makes a private planet whose only root is root at ep, as
// `ztnc idtool mkplanet` does (fresh signing key).
func testPlanet(t testing.TB, root *identity.Identity, ep netip.AddrPort) *world.World {
	t.Helper()
	j, err := idtool.NewPlanetJSON(0x7e57000000000042,
		[]idtool.RootJSON{{Identity: root.String(), StableEndpoints: []string{idtool.EndpointString(ep)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := idtool.MkPlanet(j, uint64(time.Now().UnixMilli()))
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.VerifySelf(); err != nil {
		t.Fatal(err)
	}
	return w
}

func listenLoopback(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return c
}

func listenOn(t testing.TB, ip netip.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatalf("listen on %v: %v", ip, err)
	}
	return c
}

type testNode struct {
	*Node
	msgs chan UserMessage
	addr netip.AddrPort
}

// startNet starts a root and leaves on 127.0.0.1 sharing a private planet.
func startNet(t *testing.T, leaves int) (root *testNode, out []*testNode) {
	t.Helper()
	return startNetWith(t, leaves, nil)
}

// startNetWith is startNet where leaf i (1-based) listens on 127.0.0.(1+i)
// and setup may adjust each node's config (i = 0 is the root), when setup
// is not nil.
func startNetWith(t testing.TB, leaves int, setup func(i int, c *Config)) (root *testNode, out []*testNode) {
	t.Helper()
	ids := testIdentities(t)
	rc := listenLoopback(t)
	rootAddr := rc.LocalAddr().(*net.UDPAddr).AddrPort()
	planet := testPlanet(t, ids[0], rootAddr)
	start := func(i int, id *identity.Identity, c *net.UDPConn) *testNode {
		tn := &testNode{msgs: make(chan UserMessage, 16), addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
		cfg := Config{
			Identity: id, Topology: topology.New(planet), Conns: []*net.UDPConn{c},
			AllowLoopback: true,
			// Faster than 1.14's 5 s so the test converges quickly; the
			// /24 gate stays on (every node here shares 127.0.0.0/24).
			PingInterval: 200 * time.Millisecond, HelloRateLimit: 50 * time.Millisecond,
			OnUserMessage: func(m UserMessage) { tn.msgs <- m },
		}
		if setup != nil {
			setup(i, &cfg)
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tn.Node = n
		n.Start()
		t.Cleanup(func() { n.Close() })
		return tn
	}
	root = start(0, ids[0], rc)
	if !root.AmRoot() {
		t.Fatal("root node does not consider itself a root")
	}
	for i := 1; i <= leaves; i++ {
		c := listenLoopback(t)
		if setup != nil {
			c.Close()
			c = listenOn(t, netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i)}))
		}
		out = append(out, start(i, ids[i], c))
	}
	return root, out
}

// waitFor polls cond until it holds or the bounded wait expires.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func recvMsg(t *testing.T, n *testNode, what string) UserMessage {
	t.Helper()
	select {
	case m := <-n.msgs:
		return m
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	return UserMessage{}
}

func hasDirectPath(n *Node, a interface{ String() string }) bool {
	for _, p := range n.Peers() {
		if p.Address.String() == a.String() {
			for _, pa := range p.Paths {
				if pa.Active {
					return true
				}
			}
		}
	}
	return false
}

// waitReady waits until every leaf is online with a path to the root and
// the root has a path to every leaf.
func waitReady(t testing.TB, root *testNode, leaves []*testNode) {
	t.Helper()
	for _, l := range leaves {
		waitFor(t, "leaf "+l.Address().String()+" online with a path to the root", func() bool {
			return l.Online() && hasDirectPath(l.Node, root.Address())
		})
		waitFor(t, "root knowing "+l.Address().String(), func() bool { return hasDirectPath(root.Node, l.Address()) })
	}
}

// waitDirect waits until x and y have a direct path to each other (the first
// packets between two leaves go through the root), nudging both with NOPs.
func waitDirect(t testing.TB, x, y *testNode) {
	t.Helper()
	waitFor(t, "direct path", func() bool {
		x.Send(y.Address(), packet.VerbNOP, nil)
		y.Send(x.Address(), packet.VerbNOP, nil)
		return hasDirectPath(x.Node, y.Address()) && hasDirectPath(y.Node, x.Address())
	})
}
