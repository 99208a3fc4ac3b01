package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ztnc/zerotier/netconf"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/service"
	"ztnc/zerotier/servicetest"
	"ztnc/zerotier/vl2"
)

// inNetns runs f on a thread switched into network namespace ns, so the
// sockets f creates live there (the rest of the process stays put).
func inNetns(t *testing.T, ns string, f func()) {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns %s: %v", ns, err)
	}
	f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns back: %v", err) // the thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
}

// responder answers ARP requests for ip and ICMP echo requests to it on a
// port: a minimal host behind our virtual Ethernet port.
type responder struct {
	port *vl2.Port
	ip   netip.Addr
	mu   sync.Mutex
	seen [][]byte
}

func (r *responder) recv(f []byte) {
	r.mu.Lock()
	r.seen = append(r.seen, append([]byte(nil), f...))
	r.mu.Unlock()
	if len(f) < 14 {
		return
	}
	mac := r.port.MAC()
	et := binary.BigEndian.Uint16(f[12:])
	p := f[14:]
	switch {
	case et == 0x0806 && len(p) >= 28 && binary.BigEndian.Uint16(p[6:]) == 1 && netip.AddrFrom4([4]byte(p[24:28])) == r.ip:
		rep := make([]byte, 28)
		copy(rep, p[:6])
		binary.BigEndian.PutUint16(rep[6:], 2)
		copy(rep[8:], mac)
		copy(rep[14:], p[24:28])
		copy(rep[18:], p[8:18])
		_ = r.port.WriteFrame(frameOf(p[8:14], mac, 0x0806, rep))
	case et == 0x0800 && len(p) >= 28 && p[9] == 1 && netip.AddrFrom4([4]byte(p[16:20])) == r.ip:
		hl := int(p[0]&15) * 4
		if hl < 20 || len(p) < hl+8 || p[hl] != 8 {
			return
		}
		tot := int(binary.BigEndian.Uint16(p[2:]))
		if tot > len(p) || tot < hl+8 {
			return
		}
		ip := append([]byte(nil), p[:tot]...)
		copy(ip[12:16], p[16:20])
		copy(ip[16:20], p[12:16])
		ip[8] = 64
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], csum(ip[:hl]))
		ip[hl] = 0
		ip[hl+2], ip[hl+3] = 0, 0
		binary.BigEndian.PutUint16(ip[hl+2:], csum(ip[hl:]))
		_ = r.port.WriteFrame(frameOf(f[6:12], mac, 0x0800, ip))
	}
}

func (r *responder) sawARPReplyFrom(ip netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.seen {
		if len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == 0x0806 && binary.BigEndian.Uint16(f[20:]) == 2 && netip.AddrFrom4([4]byte(f[28:32])) == ip {
			return true
		}
	}
	return false
}

func frameOf(dst, src []byte, et uint16, payload []byte) []byte {
	f := append(append(append([]byte(nil), dst[:6]...), src[:6]...), byte(et>>8), byte(et))
	return append(f, payload...)
}

func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

type refNet struct {
	ID                string
	Status            string
	AssignedAddresses []string
}

// TestInteropVL2 runs ZeroTier One (ZT_REF_BIN) in one network namespace
// and our node (root, controller and member, in this process with its
// sockets in the other namespace): the reference joins a network of our
// controller and gets its IP; we join a network of the reference's
// controller and get ours; the reference's kernel pings our member on both
// (ARP, ICMP both ways), and our member ARPs the reference.
func TestInteropVL2(t *testing.T) {
	ref := os.Getenv("ZT_REF_BIN")
	if os.Geteuid() != 0 {
		t.Fatal("ZT_REF_BIN is set but the interop test needs root for network namespaces")
	}
	nsR, nsG, _, ipG := netnsPair(t, "w", 78)

	ids := servicetest.Identities(t, "testdata/identities.json")
	ourID, refID := ids[0], ids[1]
	refHome, ourHome := t.TempDir(), t.TempDir()
	for h, id := range map[string]int{refHome: 1, ourHome: 0} {
		if err := ids[id].WriteFiles(h); err != nil {
			t.Fatal(err)
		}
	}
	pb := servicetest.Planet(t, ourID, mustAP(ipG+":9993"))
	planetFile := filepath.Join(t.TempDir(), "planet")
	for _, f := range []string{planetFile, filepath.Join(refHome, "planet")} {
		if err := os.WriteFile(f, pb, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := `{"settings":{"primaryPort":9993,"allowSecondaryPort":false,"portMappingEnabled":false,"allowTcpFallbackRelay":false,"softwareUpdate":"disable"}}`
	if err := os.WriteFile(filepath.Join(refHome, "local.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var ours *service.Service
	inNetns(t, nsG, func() {
		var err error
		ours, err = service.Start(service.Options{Home: ourHome, Port: 9993, PlanetFile: planetFile, ListenIP: netip.MustParseAddr(ipG),
			PingInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { ours.Close() })
	logf, err := os.Create(filepath.Join(t.TempDir(), "zerotier-one.log"))
	if err != nil {
		t.Fatal(err)
	}
	refCmd := exec.Command("ip", "netns", "exec", nsR, ref, "-U", "-p9993", refHome)
	refCmd.Stdout, refCmd.Stderr = logf, logf
	if err := refCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		refCmd.Process.Kill()
		refCmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("zerotier-one log:\n%s", b)
		}
	})
	refCLI := func(args ...string) []byte {
		a := append([]string{"netns", "exec", nsR, ref, "-q", "-D" + refHome, "-j"}, args...)
		out, _ := exec.Command("ip", a...).Output()
		return out
	}
	refNetwork := func(nwid uint64) (refNet, bool) {
		var ns []refNet
		_ = json.Unmarshal(refCLI("listnetworks"), &ns)
		for _, n := range ns {
			if n.ID == fmt.Sprintf("%016x", nwid) {
				return n, true
			}
		}
		return refNet{}, false
	}
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	waitFor("the reference as a peer", 45*time.Second, func() bool {
		p, ok := ours.Node.Peer(refID.Address)
		return ok && len(p.Paths) > 0
	})

	// 1. The reference joins a network of our controller.
	nwA := uint64(ourID.Address)<<24 | 0xa1
	// Its rules admit only senders whose COO covers their source IP and
	// whose tag 1 is 5 (both get it by default), so the pings below also
	// check that each side parses the other's COOs and tags.
	if _, err := ours.Controller.UpdateNetwork(nwA, []byte(`{"name":"ours","v4AssignMode":{"zt":true},
		"ipAssignmentPools":[{"ipRangeStart":"10.147.20.10","ipRangeEnd":"10.147.20.100"}],"routes":[{"target":"10.147.20.0/24"}],
		"tags":[{"id":1,"default":5}],
		"rules":[{"type":"MATCH_CHARACTERISTICS","not":true,"or":false,"mask":"1000000000000000"},{"type":"ACTION_DROP"},
			{"type":"MATCH_TAGS_EQUAL","id":1,"value":5},{"type":"ACTION_ACCEPT"},{"type":"ACTION_DROP"}]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ours.Controller.UpdateMember(nwA, ourID.Address, []byte(`{"authorized":true}`)); err != nil {
		t.Fatal(err)
	}
	ours.VL2.Join(nwA, nil)
	refCLI("join", fmt.Sprintf("%016x", nwA))
	waitFor("the reference's member record", 30*time.Second, func() bool {
		_, err := ours.Controller.Member(nwA, refID.Address)
		return err == nil
	})
	if n, _ := refNetwork(nwA); n.Status != "ACCESS_DENIED" {
		waitFor("ACCESS_DENIED at the reference", 20*time.Second, func() bool { n, _ := refNetwork(nwA); return n.Status == "ACCESS_DENIED" })
	}
	if _, err := ours.Controller.UpdateMember(nwA, refID.Address, []byte(`{"authorized":true}`)); err != nil {
		t.Fatal(err)
	}
	var refIPA string
	waitFor("the reference's config from our controller", 40*time.Second, func() bool {
		n, _ := refNetwork(nwA)
		if n.Status == "OK" && len(n.AssignedAddresses) > 0 {
			refIPA = n.AssignedAddresses[0]
			return true
		}
		return false
	})
	if !strings.HasPrefix(refIPA, "10.147.20.") {
		t.Fatalf("reference got %s", refIPA)
	}
	waitFor("our own config", 20*time.Second, func() bool { return ours.VL2.Network(nwA).Status() == vl2.StatusOK })
	if c := ours.VL2.Network(nwA).Config(); len(c.Tags) != 1 || c.Tags[0].Value != 5 {
		t.Fatalf("tags %v", c.Tags)
	}
	ourIPA := ours.VL2.Network(nwA).Addresses()[0].Addr()
	ra := &responder{port: ours.VL2.Network(nwA).Port(), ip: ourIPA}
	ra.port.SetReceiver(ra.recv)
	waitFor("the reference's kernel pinging our member", 40*time.Second, func() bool {
		return exec.Command("ip", "netns", "exec", nsR, "ping", "-c", "1", "-W", "1", ourIPA.String()).Run() == nil
	})

	// A change on our controller is pushed to the reference (NETWORK_CONFIG,
	// acknowledged with OK(ECHO)).
	if _, err := ours.Controller.UpdateNetwork(nwA, []byte(`{"name":"ours-renamed"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor("the pushed name at the reference", 30*time.Second, func() bool {
		var ns []map[string]any
		_ = json.Unmarshal(refCLI("listnetworks"), &ns)
		for _, n := range ns {
			if n["id"] == fmt.Sprintf("%016x", nwA) && n["name"] == "ours-renamed" {
				return true
			}
		}
		return false
	})

	// Deauthorizing our member: the reference gets our revocation, accepts
	// it and stops taking our member's frames (its pings go unanswered).
	if _, err := ours.Controller.UpdateMember(nwA, ourID.Address, []byte(`{"authorized":false}`)); err != nil {
		t.Fatal(err)
	}
	waitFor("the reference cutting off our deauthorized member", 30*time.Second, func() bool {
		return exec.Command("ip", "netns", "exec", nsR, "ping", "-c", "1", "-W", "1", ourIPA.String()).Run() != nil
	})

	// 2. We join a network of the reference's controller (public: members
	// are authorized at once).
	tok, err := os.ReadFile(filepath.Join(refHome, "authtoken.secret"))
	if err != nil {
		t.Fatal(err)
	}
	// Its rules match nothing ordinary, so frames pass only by the default
	// capability 7 (ACCEPT) each member presents: our parsing of its
	// capabilities and its parsing of our re-serialization are exercised.
	body := `{"name":"theirs","private":false,"v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.30.10","ipRangeEnd":"10.147.30.100"}],"routes":[{"target":"10.147.30.0/24","via":null}],
		"capabilities":[{"id":7,"default":true,"rules":[{"type":"ACTION_ACCEPT","not":false,"or":false}]}],
		"rules":[{"type":"MATCH_ETHERTYPE","not":false,"or":false,"etherType":4660},{"type":"ACTION_DROP","not":false,"or":false}]}`
	out := sh(t, "ip", "netns", "exec", nsR, "curl", "-s", "-X", "POST", "-H", "X-ZT1-Auth: "+strings.TrimSpace(string(tok)),
		"-d", body, fmt.Sprintf("http://127.0.0.1:9993/controller/network/%s______", refID.Address))
	var created map[string]any
	if json.Unmarshal([]byte(out), &created) != nil || created["id"] == nil {
		t.Fatalf("reference controller create: %s", out)
	}
	var nwB uint64
	fmt.Sscanf(created["id"].(string), "%016x", &nwB)
	refCLI("join", fmt.Sprintf("%016x", nwB))
	ours.VL2.Join(nwB, nil)
	waitFor("our config from the reference's controller", 40*time.Second, func() bool {
		n := ours.VL2.Network(nwB)
		return n.Status() == vl2.StatusOK && len(n.Addresses()) > 0
	})
	if c := ours.VL2.Network(nwB).Config(); len(c.Capabilities) != 1 || c.Capabilities[0].ID != 7 || len(c.Rules) != 2 {
		t.Fatalf("reference-issued capabilities %v, rules %v", c.Capabilities, c.Rules)
	}
	ourIPB := ours.VL2.Network(nwB).Addresses()[0].Addr()
	if !netip.MustParsePrefix("10.147.30.0/24").Contains(ourIPB) {
		t.Fatalf("we got %s", ourIPB)
	}
	var refIPB netip.Addr
	waitFor("the reference's own config", 40*time.Second, func() bool {
		n, _ := refNetwork(nwB)
		if n.Status == "OK" && len(n.AssignedAddresses) > 0 {
			refIPB = netip.MustParsePrefix(n.AssignedAddresses[0]).Addr()
			return true
		}
		return false
	})
	rb := &responder{port: ours.VL2.Network(nwB).Port(), ip: ourIPB}
	rb.port.SetReceiver(rb.recv)
	waitFor("the reference's kernel pinging our member on its network", 40*time.Second, func() bool {
		return exec.Command("ip", "netns", "exec", nsR, "ping", "-c", "1", "-W", "1", ourIPB.String()).Run() == nil
	})
	// A private network of the reference's controller: ACCESS_DENIED until
	// authorized there.
	out = sh(t, "ip", "netns", "exec", nsR, "curl", "-s", "-X", "POST", "-H", "X-ZT1-Auth: "+strings.TrimSpace(string(tok)),
		"-d", `{"name":"private"}`, fmt.Sprintf("http://127.0.0.1:9993/controller/network/%s______", refID.Address))
	created = nil
	if json.Unmarshal([]byte(out), &created) != nil || created["id"] == nil {
		t.Fatalf("reference controller create: %s", out)
	}
	var nwC uint64
	fmt.Sscanf(created["id"].(string), "%016x", &nwC)
	ours.VL2.Join(nwC, nil)
	waitFor("ACCESS_DENIED from the reference's controller", 40*time.Second, func() bool {
		return ours.VL2.Network(nwC).Status() == vl2.StatusAccessDenied
	})
	sh(t, "ip", "netns", "exec", nsR, "curl", "-s", "-X", "POST", "-H", "X-ZT1-Auth: "+strings.TrimSpace(string(tok)),
		"-d", `{"authorized":true}`, fmt.Sprintf("http://127.0.0.1:9993/controller/network/%016x/member/%s", nwC, ourID.Address))
	waitFor("OK after authorization at the reference", 40*time.Second, func() bool {
		return ours.VL2.Network(nwC).Status() == vl2.StatusOK
	})

	// Our member ARPs the reference's kernel.
	arp := make([]byte, 28)
	copy(arp, []byte{0, 1, 8, 0, 6, 4, 0, 1})
	copy(arp[8:], rb.port.MAC())
	copy(arp[14:], ourIPB.AsSlice())
	copy(arp[24:], refIPB.AsSlice())
	req := frameOf(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, rb.port.MAC(), 0x0806, arp)
	waitFor("an ARP reply from the reference's kernel", 30*time.Second, func() bool {
		_ = rb.port.WriteFrame(req)
		return rb.sawARPReplyFrom(refIPB)
	})
}

// TestInteropVL2RefRoot: ZeroTier One as the planet's root, our controller
// and two of our members: the reference root stores our members' LIKEs and
// answers a MULTICAST_GATHER sent to it alone with the other member (the
// multicast directory ARP depends on).
func TestInteropVL2RefRoot(t *testing.T) {
	ref := os.Getenv("ZT_REF_BIN")
	if os.Geteuid() != 0 {
		t.Fatal("ZT_REF_BIN is set but the interop test needs root for network namespaces")
	}
	nsR, nsG, ipR, ipG := netnsPair(t, "x", 79)

	ids := servicetest.Identities(t, "testdata/identities.json")
	refID := ids[0]
	refHome := t.TempDir()
	if err := refID.WriteFiles(refHome); err != nil {
		t.Fatal(err)
	}
	pb := servicetest.Planet(t, refID, mustAP(ipR+":9993"))
	planetFile := filepath.Join(t.TempDir(), "planet")
	for _, f := range []string{planetFile, filepath.Join(refHome, "planet")} {
		if err := os.WriteFile(f, pb, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := `{"settings":{"primaryPort":9993,"allowSecondaryPort":false,"portMappingEnabled":false,"allowTcpFallbackRelay":false,"softwareUpdate":"disable"}}`
	if err := os.WriteFile(filepath.Join(refHome, "local.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "zerotier-one.log"))
	if err != nil {
		t.Fatal(err)
	}
	refCmd := exec.Command("ip", "netns", "exec", nsR, ref, "-U", "-p9993", refHome)
	refCmd.Stdout, refCmd.Stderr = logf, logf
	if err := refCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		refCmd.Process.Kill()
		refCmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("zerotier-one log:\n%s", b)
		}
	})
	var svcs []*service.Service
	for i, id := range ids[2:5] {
		home := t.TempDir()
		if err := id.WriteFiles(home); err != nil {
			t.Fatal(err)
		}
		inNetns(t, nsG, func() {
			s, err := service.Start(service.Options{Home: home, Port: 9993 + i, PlanetFile: planetFile, ListenIP: netip.MustParseAddr(ipG),
				PingInterval: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			svcs = append(svcs, s)
		})
		t.Cleanup(func() { svcs[i].Close() })
	}
	ctl, a, b := svcs[0], svcs[1], svcs[2]
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	nwid := uint64(ctl.Node.Address())<<24 | 0xb0
	if _, err := ctl.Controller.UpdateNetwork(nwid, []byte(`{"v4AssignMode":{"zt":true},
		"ipAssignmentPools":[{"ipRangeStart":"10.147.40.10","ipRangeEnd":"10.147.40.100"}],"routes":[{"target":"10.147.40.0/24"}]}`)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*service.Service{a, b} {
		if _, err := ctl.Controller.UpdateMember(nwid, m.Node.Address(), []byte(`{"authorized":true}`)); err != nil {
			t.Fatal(err)
		}
		m.VL2.Join(nwid, nil)
	}
	waitFor("configs through the reference root", 40*time.Second, func() bool {
		return a.VL2.Network(nwid).Status() == vl2.StatusOK && b.VL2.Network(nwid).Status() == vl2.StatusOK
	})
	var ipB netip.Addr
	for _, p := range b.VL2.Network(nwid).Addresses() {
		ipB = p.Addr()
	}
	g := netconf.ResolutionGroup(ipB)
	gather := (&vl2.Gather{NetworkID: nwid, Group: g, Limit: 8}).Append(nil)
	waitFor("the reference root's OK(MULTICAST_GATHER) naming B", 40*time.Second, func() bool {
		if err := a.VL2.Send(refID.Address, packet.VerbMulticastGather, gather); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		for _, s := range a.VL2.Subscribers(nwid, g) {
			if s == b.Node.Address() {
				return true
			}
		}
		return false
	})
}
