package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/servicetest"
)

// TestExistingIdentityHome: identity files as ZeroTier One writes them (the
// vectors' strings, made by zerotier-idtool generate: no trailing newline)
// make a HOME our service runs in as that node, without rewriting them.
func TestExistingIdentityHome(t *testing.T) {
	var vec struct {
		Identities []struct{ Address, Public, Secret string }
	}
	b, err := os.ReadFile("../../zerotier/service/testdata/identities.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vec); err != nil || len(vec.Identities) == 0 {
		t.Fatalf("identities.json: %v", err)
	}
	ids := servicetest.Identities(t, "testdata/identities.json")
	_, planet := servicetest.Root(t, ids[0])
	v := vec.Identities[len(vec.Identities)-1]
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, identity.SecretFileName), []byte(v.Secret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, identity.PublicFileName), []byte(v.Public), 0o644); err != nil {
		t.Fatal(err)
	}
	servicetest.Leaf(t, home, planet)
	rc, out, errs := runCapture("info", "-D"+home)
	if rc != 0 || !strings.HasPrefix(out, "200 info "+v.Address+" ") {
		t.Fatalf("info: %d %q %q, want node %s", rc, out, errs, v.Address)
	}
	if got, _ := os.ReadFile(filepath.Join(home, identity.SecretFileName)); string(got) != v.Secret {
		t.Errorf("identity.secret was rewritten: %q", got)
	}
}

// ref runs the reference zerotier-one as zerotier-cli (-q) against home.
func ref(t *testing.T, home string, args ...string) (int, string) {
	t.Helper()
	c := exec.Command(os.Getenv("ZT_REF_BIN"), append([]string{"-q", "-D" + home}, args...)...)
	out, err := c.Output()
	var ee *exec.ExitError
	if err != nil && !errorAs(err, &ee) {
		t.Fatalf("zerotier-cli %v: %v", args, err)
	}
	return c.ProcessState.ExitCode(), string(out)
}

func errorAs(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*ee = e
	return ok
}

// masked blanks what changes between two calls: times since the last
// packet, latencies and the clock.
var (
	maskJSON  = regexp.MustCompile(`"(clock|lastSend|lastReceive|latency)": ?-?\d+`)
	maskPeers = regexp.MustCompile(`(?m)^([0-9a-f]{10} \S+ +\S+) +-?\d+ (DIRECT|RELAY)(?: +-?\d+ +-?\d+)?`)
	maskList  = regexp.MustCompile(`(?m)^(200 listpeers [0-9a-f]{10} \S+?);-?\d+;-?\d+ -?\d+`)
)

func masked(s string) string {
	s = maskJSON.ReplaceAllString(s, `"$1":X`)
	s = maskPeers.ReplaceAllString(s, "$1 X $2 X X")
	return maskList.ReplaceAllString(s, "$1;X;X X")
}

// TestInteropCLI: the real zerotier-cli (ZT_REF_BIN) works against our
// service unchanged — info, listnetworks, peers, listpeers, join, leave and
// their -j forms — and `ztnc` prints the same. The member's HOME is made by
// the reference `zerotier-idtool generate`.
func TestInteropCLI(t *testing.T) {
	bin := os.Getenv("ZT_REF_BIN")
	ids := servicetest.Identities(t, "testdata/identities.json")
	_, planet := servicetest.Root(t, ids[0])
	ctlHome, home := t.TempDir(), t.TempDir()
	if err := ids[1].WriteFiles(ctlHome); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-i", "generate", filepath.Join(home, identity.SecretFileName), filepath.Join(home, identity.PublicFileName)).CombinedOutput(); err != nil {
		t.Fatalf("zerotier-idtool generate: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(filepath.Join(home, identity.PublicFileName))
	if err != nil {
		t.Fatal(err)
	}
	me := string(pub[:10])
	servicetest.Leaf(t, ctlHome, planet)
	servicetest.Leaf(t, home, planet)

	rc, out, _ := runCapture("controller", "create", `{"name":"refcli","private":false}`, "-d", ctlHome)
	var nw map[string]any
	if rc != 0 || json.Unmarshal([]byte(out), &nw) != nil {
		t.Fatalf("create: %d %q", rc, out)
	}
	nwid := nw["id"].(string)
	if rc, out, _ := runCapture("controller", "pool", nwid, "10.56.0.10", "10.56.0.20", "10.56.0.0/24", "-d", ctlHome); rc != 0 {
		t.Fatalf("pool: %d %q", rc, out)
	}

	// join by the reference CLI, then wait for an address through it.
	if rc, out := ref(t, home, "join", nwid); rc != 0 || out != "200 join OK\n" {
		t.Fatalf("zerotier-cli join: %d %q", rc, out)
	}
	servicetest.WaitFor(t, "an address in zerotier-cli listnetworks", func() bool {
		_, out := ref(t, home, "listnetworks")
		return regexp.MustCompile(`(?m)^200 listnetworks ` + nwid + ` refcli [0-9a-f:]{17} OK PUBLIC  10\.56\.0\.\d+/24`).MatchString(out)
	})
	servicetest.WaitFor(t, "ONLINE with a direct path to the root", func() bool {
		_, out := ref(t, home, "peers")
		_, info := ref(t, home, "info")
		return strings.Contains(out, " PLANET ") && strings.Contains(out, "DIRECT") && strings.HasSuffix(info, " ONLINE\n")
	})

	for _, args := range [][]string{
		{"info"}, {"-j", "info"}, {"status"}, {"listnetworks"}, {"-j", "listnetworks"},
		{"peers"}, {"-j", "peers"}, {"listpeers"}, {"-j", "listpeers"},
		{"join", nwid}, {"-j", "join", nwid}, {"join", "xyz"}, {"leave", "0123456789abcdef"},
	} {
		rrc, rout := ref(t, home, args...)
		orc, oout, oerr := runCapture(append(args, "-D"+home)...)
		if rrc != orc || masked(rout) != masked(oout) {
			t.Errorf("%v:\nzerotier-cli (%d):\n%s\nztnc (%d):\n%s%s", args, rrc, rout, orc, oout, oerr)
		}
	}
	// zerotier-cli set/get go through POST /network/<nwid> and GET /network.
	if rc, out := ref(t, home, "set", nwid, "allowDNS=1"); rc != 0 || !strings.Contains(out, `"allowDNS":true`) {
		t.Errorf("zerotier-cli set allowDNS=1: %d %q", rc, out)
	}
	for prop, want := range map[string]string{"allowDNS": "1", "name": "refcli", "status": "OK", "ip4": "10.56.0."} {
		if rc, out := ref(t, home, "get", nwid, prop); rc != 0 || !strings.HasPrefix(out, want) {
			t.Errorf("zerotier-cli get %s: %d %q, want %s…", prop, rc, out, want)
		}
	}
	if _, info := ref(t, home, "info"); !strings.HasPrefix(info, "200 info "+me+" 1.14.1 ONLINE") {
		t.Errorf("zerotier-cli info %q: want node %s (the identity zerotier-idtool made)", info, me)
	}
	// leave -j by each: the same body.
	rrc, rout := ref(t, home, "-j", "leave", nwid)
	if rc, out, _ := runCapture("-j", "join", nwid, "-D"+home); rc != 0 || !bytes.Contains([]byte(out), []byte(`"nwid":"`+nwid+`"`)) {
		t.Fatalf("ztnc -j join: %d %q", rc, out)
	}
	orc, oout, _ := runCapture("-j", "leave", nwid, "-D"+home)
	if rrc != 0 || rout != `{"result":true}` || orc != 0 || oout != rout {
		t.Errorf("-j leave: zerotier-cli %d %q, ztnc %d %q", rrc, rout, orc, oout)
	}
	if _, out := ref(t, home, "listnetworks"); strings.Count(out, "\n") != 1 {
		t.Errorf("zerotier-cli listnetworks after leave: %q", out)
	}
}

// keyPaths flattens a JSON value into its key paths ("config.settings.homeDir",
// "[].paths[].address"); arrays contribute their elements' keys.
func keyPaths(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := prefix + k
			out[p] = true
			keyPaths(e, p+".", out)
		}
	case []any:
		for _, e := range x {
			keyPaths(e, strings.TrimSuffix(prefix, ".")+"[].", out)
		}
	}
}

func hasPrefixKey(keys map[string]bool, prefix string) bool {
	for k := range keys {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// TestInteropAPIFields: our API's JSON has the fields ZeroTier One's has,
// path for path — /status, /peer, /network/<nwid> on join, /network — as
// seen through `ztnc … -j` against the real zerotier-one (ZT_REF_BIN, in a
// network namespace of its own, where joining makes its tap) and against
// our service. Objects that exist on only one side (a path of an offline
// peer) are not compared.
func TestInteropAPIFields(t *testing.T) {
	bin := os.Getenv("ZT_REF_BIN")
	if os.Geteuid() != 0 {
		t.Fatal("ZT_REF_BIN is set but this test needs root for a network namespace")
	}
	ns := fmt.Sprintf("ztnci-api%d", os.Getpid()%100000)
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	sh(t, "ip", "-n", ns, "link", "set", "lo", "up")

	ids := servicetest.Identities(t, "testdata/identities.json")
	_, planet := servicetest.Root(t, ids[0])
	refHome, ourHome := t.TempDir(), t.TempDir()
	pb, _ := os.ReadFile(planet)
	os.WriteFile(filepath.Join(refHome, "planet"), pb, 0o644)
	conf := `{"settings":{"primaryPort":9993,"portMappingEnabled":false,"allowTcpFallbackRelay":false,"softwareUpdate":"disable"}}`
	os.WriteFile(filepath.Join(refHome, "local.conf"), []byte(conf), 0o644)
	ref := exec.Command("ip", "netns", "exec", ns, bin, "-U", "-p9993", refHome)
	if err := ref.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Process.Kill(); ref.Wait() })
	servicetest.Leaf(t, ourHome, planet)
	servicetest.WaitFor(t, "zerotier-one's API", func() bool {
		out, _ := ztncIn(ns, "info", "-D", refHome).Output()
		return strings.HasPrefix(string(out), "200 info ")
	})

	const nwid = "0123456789abcdef" // no controller answers: REQUESTING_CONFIGURATION on both
	for _, args := range [][]string{{"info"}, {"peers"}, {"join", nwid}, {"listnetworks"}, {"leave", nwid}} {
		argv := append([]string{"-j"}, args...)
		refOut, err := ztncIn(ns, append(argv, "-D", refHome)...).Output()
		if err != nil {
			t.Fatalf("ztnc %v against zerotier-one: %v\n%s", argv, err, refOut)
		}
		rc, ourOut, errs := runCapture(append(argv, "-D", ourHome)...)
		if rc != 0 {
			t.Fatalf("ztnc %v against ours: %d %s %s", argv, rc, ourOut, errs)
		}
		var rv, ov any
		if json.Unmarshal(refOut, &rv) != nil || json.Unmarshal([]byte(ourOut), &ov) != nil {
			t.Fatalf("%v: not JSON:\n%s\n%s", argv, refOut, ourOut)
		}
		rk, ok := map[string]bool{}, map[string]bool{}
		keyPaths(rv, "", rk)
		keyPaths(ov, "", ok)
		t.Logf("%v: %d key paths from zerotier-one, %d from ours", args, len(rk), len(ok))
		for k := range rk {
			// Settings echo local.conf; bonding fields only with bonds.
			if !ok[k] && hasPrefixKey(ok, parentOf(k)) {
				t.Errorf("%v: zerotier-one has %s, we do not", args, k)
			}
		}
		for k := range ok {
			if !rk[k] && hasPrefixKey(rk, parentOf(k)) {
				t.Errorf("%v: we have %s, zerotier-one does not", args, k)
			}
		}
	}
}

// parentOf is the key path of k's parent object plus "." ("" at top level).
func parentOf(k string) string {
	i := strings.LastIndex(k, ".")
	if i < 0 {
		return ""
	}
	return k[:i+1]
}
