package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"net/netip"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/servicetest"
)

// childEnv makes the test binary act as the ztnc command (so it can be run
// inside a network namespace with `ip netns exec`); arguments are
// separated by 0x1f (environment values cannot hold NUL).
const childEnv = "ZTNC_TEST_CHILD_ARGS"

// TestMain runs the command when re-executed as a child. Without ZT_REF_BIN
// the interop tests (every TestInterop…, all of which need it) are filtered
// out (not registered as run, not skipped).
func TestMain(m *testing.M) {
	if a, ok := os.LookupEnv(childEnv); ok {
		os.Exit(run(strings.Split(a, "\x1f"), os.Stdout, os.Stderr))
	}
	flag.Parse()
	if os.Getenv("ZT_REF_BIN") == "" {
		skip := flag.Lookup("test.skip").Value.String()
		if skip != "" {
			skip += "|"
		}
		flag.Set("test.skip", skip+"^TestInterop")
	}
	os.Exit(m.Run())
}

// netnsPair makes two network namespaces joined by a veth pair, with
// 172.31.<net>.1 (R) and .2 (G), removed when the test ends.
func netnsPair(t *testing.T, tag string, net int) (nsR, nsG, ipR, ipG string) {
	t.Helper()
	sfx := fmt.Sprint(os.Getpid() % 100000)
	nsR, nsG = "ztnc"+tag+"-r"+sfx, "ztnc"+tag+"-g"+sfx
	ipR, ipG = fmt.Sprintf("172.31.%d.1", net), fmt.Sprintf("172.31.%d.2", net)
	for _, ns := range []string{nsR, nsG} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "link", "add", tag+"r"+sfx, "netns", nsR, "type", "veth", "peer", "name", tag+"g"+sfx, "netns", nsG)
	sh(t, "ip", "-n", nsR, "addr", "add", ipR+"/24", "dev", tag+"r"+sfx)
	sh(t, "ip", "-n", nsG, "addr", "add", ipG+"/24", "dev", tag+"g"+sfx)
	sh(t, "ip", "-n", nsR, "link", "set", tag+"r"+sfx, "up")
	sh(t, "ip", "-n", nsG, "link", "set", tag+"g"+sfx, "up")
	return nsR, nsG, ipR, ipG
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ztnc runs our command as a child in a namespace.
func ztncIn(ns string, args ...string) *exec.Cmd {
	self, _ := filepath.Abs(os.Args[0])
	c := exec.Command("ip", "netns", "exec", ns, self, "-test.run=^$")
	c.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	return c
}

// peerWithPath reports whether a /peer JSON array lists addr with a
// preferred path at phys.
func peerWithPath(out []byte, addr, phys string) bool {
	var ps []struct {
		Address string
		Paths   []struct {
			Address   string
			Preferred bool
		}
	}
	if json.Unmarshal(out, &ps) != nil {
		return false
	}
	for _, p := range ps {
		if p.Address != addr {
			continue
		}
		for _, pa := range p.Paths {
			if pa.Address == phys && pa.Preferred {
				return true
			}
		}
	}
	return false
}

// TestInteropReference runs ZeroTier One (ZT_REF_BIN) and our node in two
// network namespaces joined by a veth pair (private addresses: zerotier-one
// refuses loopback paths), first with the reference as root, then with ours
// as root, and checks that each lists the other with a direct path.
func TestInteropReference(t *testing.T) {
	ref := os.Getenv("ZT_REF_BIN")
	if os.Geteuid() != 0 {
		t.Fatal("ZT_REF_BIN is set but the interop test needs root for network namespaces")
	}
	nsR, nsG, ipR, ipG := netnsPair(t, "v", 77)

	ids := servicetest.Identities(t, "testdata/identities.json")
	t.Run("reference-root", func(t *testing.T) { interop(t, ref, nsR, nsG, ipR, ipG, ids[0], ids[1], true) })
	t.Run("ztnc-root", func(t *testing.T) { interop(t, ref, nsR, nsG, ipR, ipG, ids[2], ids[3], false) })
}

func interop(t *testing.T, ref, nsR, nsG, ipR, ipG string, refID, ourID *identity.Identity, refIsRoot bool) {
	refHome, ourHome := t.TempDir(), t.TempDir()
	for h, id := range map[string]*identity.Identity{refHome: refID, ourHome: ourID} {
		if err := id.WriteFiles(h); err != nil {
			t.Fatal(err)
		}
	}
	rootID, rootIP := ourID, ipG
	if refIsRoot {
		rootID, rootIP = refID, ipR
	}
	pb := servicetest.Planet(t, rootID, mustAP(rootIP+":9993"))
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
	start := func(name string, c *exec.Cmd) {
		logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		c.Stdout, c.Stderr = logf, logf
		if err := c.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() {
			c.Process.Kill()
			c.Wait()
			if t.Failed() {
				b, _ := os.ReadFile(logf.Name())
				t.Logf("%s log:\n%s", name, b)
			}
		})
	}
	start("zerotier-one", exec.Command("ip", "netns", "exec", nsR, ref, "-U", "-p9993", refHome))
	start("ztnc", ztncIn(nsG, "service", "-d", ourHome, "--port", "9993", "--planet", planetFile))

	deadline := time.Now().Add(45 * time.Second)
	var ours, theirs []byte
	for {
		ours, _ = ztncIn(nsG, "peers", "-j", "-d", ourHome).Output()
		theirs, _ = exec.Command("ip", "netns", "exec", nsR, ref, "-q", "-D"+refHome, "peers", "-j").Output()
		if peerWithPath(ours, refID.Address.String(), ipR+"/9993") && peerWithPath(theirs, ourID.Address.String(), ipG+"/9993") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no direct paths both ways within 45 s\nztnc peers -j:\n%s\nzerotier-cli peers -j:\n%s", ours, theirs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	text, _ := exec.Command("ip", "netns", "exec", nsR, ref, "-q", "-D"+refHome, "peers").Output()
	wantRole := "LEAF"
	if !refIsRoot {
		wantRole = "PLANET"
	}
	found := false
	for _, l := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(l, ourID.Address.String()+" ") && strings.Contains(l, wantRole) && strings.Contains(l, "DIRECT") {
			found = true
		}
	}
	if !found {
		t.Fatalf("zerotier-cli peers does not list %s as a %s with a direct path:\n%s", ourID.Address, wantRole, text)
	}
	ourText, _ := ztncIn(nsG, "peers", "-d", ourHome).Output()
	t.Logf("zerotier-cli peers:\n%s\nztnc peers:\n%s", text, ourText)
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
