// Package reflab runs ZeroTier One (an already-built zerotier-one, named by
// ZT_REF_BIN; nothing here builds it) as an offline network in two network
// namespaces joined by a veth pair, for the interop test and the benchmark:
// node A in namespace NSA is the only root of a private planet, the
// controller of a public network and a member of it with a kernel tap;
// namespace NSB is for a second member (another zerotier-one, or ztnc-run).
// zerotier-one refuses loopback paths, hence the namespaces.
package reflab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/idtool"
)

// Lab is a running reference network.
type Lab struct {
	Bin        string // zerotier-one
	Dir        string // state: homes, logs, planet
	NSA, NSB   string // namespaces
	PhysA      string // A's underlay address (B's is PhysB)
	PhysB      string
	PlanetFile string
	NWID       string
	A          *Node

	veth  string
	nodes []*Node
}

// Node is one zerotier-one.
type Node struct {
	Name, NS, Home string
	ID             *identity.Identity
	Dev            string     // its tap
	IP4, IP6       netip.Addr // its addresses on the network
	cmd            *exec.Cmd
	bin            string
}

var conf = `{"settings":{"primaryPort":9993,"allowSecondaryPort":false,"portMappingEnabled":false,"allowTcpFallbackRelay":false,"softwareUpdate":"disable"}}`

// Up starts the lab under dir (which must exist); tag keeps the names of
// concurrent labs apart. On error everything made so far is removed.
func Up(bin, dir, tag string) (l *Lab, err error) {
	l = &Lab{Bin: bin, Dir: dir, NSA: "ztrl-a" + tag, NSB: "ztrl-b" + tag, PhysA: "172.31.79.1", PhysB: "172.31.79.2", veth: "zrl" + tag}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	for _, ns := range []string{l.NSA, l.NSB} {
		if err := run("ip", "netns", "add", ns); err != nil {
			return l, err
		}
		if err := run("ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
			return l, err
		}
	}
	for _, c := range [][]string{
		{"ip", "link", "add", l.veth + "a", "netns", l.NSA, "type", "veth", "peer", "name", l.veth + "b", "netns", l.NSB},
		{"ip", "-n", l.NSA, "addr", "add", l.PhysA + "/24", "dev", l.veth + "a"},
		{"ip", "-n", l.NSB, "addr", "add", l.PhysB + "/24", "dev", l.veth + "b"},
		{"ip", "-n", l.NSA, "link", "set", l.veth + "a", "up"},
		{"ip", "-n", l.NSB, "link", "set", l.veth + "b", "up"},
	} {
		if err := run(c...); err != nil {
			return l, err
		}
	}

	// A's identity, made by the reference's own idtool; the planet names it.
	a := &Node{Name: "a", NS: l.NSA, Home: filepath.Join(dir, "ref-a"), bin: bin}
	if err := os.Mkdir(a.Home, 0o700); err != nil {
		return l, err
	}
	if err := run(bin, "-i", "generate", filepath.Join(a.Home, "identity.secret"), filepath.Join(a.Home, "identity.public")); err != nil {
		return l, err
	}
	sec, err := os.ReadFile(filepath.Join(a.Home, "identity.secret"))
	if err != nil {
		return l, err
	}
	if a.ID, err = identity.Parse(strings.TrimSpace(string(sec))); err != nil {
		return l, fmt.Errorf("the reference's identity.secret: %w", err)
	}
	j, err := idtool.NewPlanetJSON(0x7e57000000000079,
		[]idtool.RootJSON{{Identity: a.ID.String(), StableEndpoints: []string{idtool.EndpointString(netip.MustParseAddrPort(l.PhysA + ":9993"))}}}, nil)
	if err != nil {
		return l, err
	}
	planet, err := idtool.MkPlanet(j, uint64(time.Now().UnixMilli()))
	if err != nil {
		return l, err
	}
	l.PlanetFile = filepath.Join(dir, "planet")
	if err := os.WriteFile(l.PlanetFile, planet, 0o644); err != nil {
		return l, err
	}
	if err := l.start(a); err != nil {
		return l, err
	}
	l.A = a
	if err := waitFor("the reference root's local API", 30*time.Second, func() bool {
		out, err := a.CLI("info")
		return err == nil && bytes.Contains(out, []byte("ONLINE"))
	}); err != nil {
		return l, err
	}

	// A public network (members authorized on join): IPv4 from a pool with
	// its route, and RFC4193 IPv6.
	l.NWID = fmt.Sprintf("%s000077", a.ID.Address)
	tok, err := os.ReadFile(filepath.Join(a.Home, "authtoken.secret"))
	if err != nil {
		return l, err
	}
	body := `{"name":"reflab","private":false,"v4AssignMode":{"zt":true},"v6AssignMode":{"rfc4193":true},
		"ipAssignmentPools":[{"ipRangeStart":"10.147.19.10","ipRangeEnd":"10.147.19.250"}],"routes":[{"target":"10.147.19.0/24","via":null}]}`
	out, err := exec.Command("ip", "netns", "exec", l.NSA, "curl", "-sS", "-X", "POST", "-H", "X-ZT1-Auth: "+strings.TrimSpace(string(tok)),
		"-d", body, "http://127.0.0.1:9993/controller/network/"+l.NWID).CombinedOutput()
	var created struct{ ID string }
	if err != nil || json.Unmarshal(out, &created) != nil || created.ID != l.NWID {
		return l, fmt.Errorf("creating network %s on the reference's controller: %v: %s", l.NWID, err, out)
	}
	return l, l.join(a)
}

// AddMember starts a second zerotier-one in NSB, joined, with its addresses.
func (l *Lab) AddMember() (*Node, error) {
	b := &Node{Name: "b", NS: l.NSB, Home: filepath.Join(l.Dir, "ref-b"), bin: l.Bin}
	if err := os.Mkdir(b.Home, 0o700); err != nil {
		return nil, err
	}
	if err := l.start(b); err != nil {
		return nil, err
	}
	if err := waitFor("the reference member's local API", 30*time.Second, func() bool {
		_, err := b.CLI("info")
		return err == nil
	}); err != nil {
		return nil, err
	}
	return b, l.join(b)
}

func (l *Lab) start(n *Node) error {
	if err := os.WriteFile(filepath.Join(n.Home, "planet"), mustRead(l.PlanetFile), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.Home, "local.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(l.Dir, "zerotier-one-"+n.Name+".log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	n.cmd = exec.Command("ip", "netns", "exec", n.NS, l.Bin, "-U", "-p9993", n.Home)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		return err
	}
	l.nodes = append(l.nodes, n)
	return nil
}

func mustRead(f string) []byte { b, _ := os.ReadFile(f); return b }

type refNet struct {
	ID                string   `json:"id"`
	Status            string   `json:"status"`
	AssignedAddresses []string `json:"assignedAddresses"`
	PortDeviceName    string   `json:"portDeviceName"`
}

// join joins n to the network and waits for its tap and both addresses.
func (l *Lab) join(n *Node) error {
	if out, err := n.CLI("join", l.NWID); err != nil {
		return fmt.Errorf("zerotier-cli join %s: %v: %s", l.NWID, err, out)
	}
	return waitFor("reference node "+n.Name+"'s addresses on "+l.NWID, 60*time.Second, func() bool {
		out, _ := n.CLI("-j", "listnetworks")
		var ns []refNet
		json.Unmarshal(out, &ns)
		for _, x := range ns {
			if x.ID != l.NWID || x.Status != "OK" || x.PortDeviceName == "" {
				continue
			}
			n.Dev = x.PortDeviceName
			for _, a := range x.AssignedAddresses {
				if p, err := netip.ParsePrefix(a); err == nil {
					if p.Addr().Is4() {
						n.IP4 = p.Addr()
					} else {
						n.IP6 = p.Addr()
					}
				}
			}
		}
		return n.IP4.IsValid() && n.IP6.IsValid()
	})
}

// CLI runs zerotier-cli (zerotier-one -q) against the node.
func (n *Node) CLI(args ...string) ([]byte, error) {
	a := append([]string{"netns", "exec", n.NS, n.bin, "-q", "-D" + n.Home}, args...)
	return exec.Command("ip", a...).Output()
}

// Pid is the node's zerotier-one process (ip netns exec execs it).
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// Log is a node's zerotier-one output so far.
func (l *Lab) Log(n *Node) string {
	return string(mustRead(filepath.Join(l.Dir, "zerotier-one-"+n.Name+".log")))
}

// Close stops every process in the lab's namespaces and deletes them.
func (l *Lab) Close() {
	for _, n := range l.nodes {
		n.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-done
		}
	}
	for _, ns := range []string{l.NSA, l.NSB} {
		// Whatever still runs in the namespace was started in it by our caller.
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				var pid int
				fmt.Sscan(f, &pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func waitFor(what string, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return nil
}
