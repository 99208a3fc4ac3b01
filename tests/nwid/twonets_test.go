package nwid

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// TestTwoNetworks: a program joined to two networks at once reaches a server
// on each. The lab's controller gets a second network (its own pool and
// route); node A serves on both, node B, joined to both, fetches a file over
// each, routed by the networks' routes.
func TestTwoNetworks(t *testing.T) {
	run := testutil.ZtncRun(t)
	planet, nwid1 := labUp(t)
	home := filepath.Join(filepath.Dir(planet), "home")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nwid2 := createNetwork(ctx, t, home, "second", "10.148.18")
	want := []byte("served on two networks\n")

	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			base := testutil.SharedTempDir(t)
			www := filepath.Join(base, "www")
			os.Mkdir(www, 0o755)
			if err := os.WriteFile(filepath.Join(www, "file.txt"), want, 0o644); err != nil {
				t.Fatal(err)
			}
			addrs := startNodeA(t, www, "",
				u.Wrap(run, "-d", filepath.Join(base, "home-a"), "--planet", planet, "--nwid", nwid1, "--nwid", nwid2, "--")...)
			// A's IPv4 address on each network.
			var on1, on2 netip.Addr
			net1, net2 := netip.MustParsePrefix("10.147.17.0/24"), netip.MustParsePrefix("10.148.18.0/24")
			for _, p := range addrs {
				switch {
				case net1.Contains(p.Addr()):
					on1 = p.Addr()
				case net2.Contains(p.Addr()):
					on2 = p.Addr()
				}
			}
			if !on1.IsValid() || !on2.IsValid() {
				t.Fatalf("ZTNC_ADDRS %v: want an address in %s and in %s", addrs, net1, net2)
			}
			fetch := ""
			for i, ip := range []netip.Addr{on1, on2} {
				url := "http://" + ip.String() + ":8080/file.txt"
				fetch += `for i in $(seq 150); do curl -sf -o /dev/null ` + url + ` && break; sleep 0.2; done
curl -sS --max-time 20 ` + url + ` > ` + filepath.Join(base, "got"+string(rune('1'+i))) + ` || exit 1
`
			}
			bctx, bcancel := context.WithTimeout(ctx, 3*time.Minute)
			defer bcancel()
			bout, err := testutil.RunGroup(bctx, base, []string{path},
				u.Wrap(run, "-d", filepath.Join(base, "home-b"), "--planet", planet, "--nwid", nwid1, "--nwid", nwid2,
					"--", "sh", "-c", fetch)...)
			t.Logf("node B:\n%s", bout)
			if err != nil {
				t.Fatalf("node B: %v", err)
			}
			for _, f := range []string{"got1", "got2"} {
				got, err := os.ReadFile(filepath.Join(base, f))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: got %q (%v), want %q", f, got, err, want)
				}
			}
		})
	}
}

// TestOnlyAskedNetworks: a network saved in HOME by an earlier run is not
// joined again by a run that asks for another one (its programs could not
// use it), and its saved config stays in networks.d.
func TestOnlyAskedNetworks(t *testing.T) {
	run := testutil.ZtncRun(t)
	planet, nwid1 := labUp(t)
	labHome := filepath.Join(filepath.Dir(planet), "home")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nwid2 := createNetwork(ctx, t, labHome, "other", "10.148.19")
	base := testutil.SharedTempDir(t)
	home := filepath.Join(base, "home")
	if out, err := testutil.RunGroup(ctx, base, []string{path}, run, "-d", home, "--planet", planet, "--nwid", nwid1, "--", "true"); err != nil {
		t.Fatalf("first run (--nwid %s): %v\n%s", nwid1, err, out)
	}
	saved := filepath.Join(home, "networks.d", nwid1+".conf")
	if _, err := os.Stat(saved); err != nil {
		t.Fatalf("the first run saved no config for %s: %v", nwid1, err)
	}

	// The second run asks for the other network only; while its program
	// runs, the node's local API lists the networks it is a member of.
	ready := filepath.Join(base, "ready")
	second := exec.CommandContext(ctx, run, "-d", home, "--planet", planet, "--nwid", nwid2, "--", "sh", "-c", "touch "+ready+"; sleep 60")
	second.Env = []string{path}
	second.WaitDelay = 2 * time.Second
	var sout bytes.Buffer
	second.Stdout, second.Stderr = &sout, &sout
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { second.Process.Signal(syscall.SIGTERM); second.Wait() }()
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("second run never started its program:\n%s", sout.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := exec.CommandContext(ctx, ztnc(t), "-d", home, "listnetworks").CombinedOutput()
	if err != nil {
		t.Fatalf("ztnc listnetworks: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), nwid2) || strings.Contains(string(out), nwid1) {
		t.Fatalf("the run asking for %s only is a member of:\n%s", nwid2, out)
	}
	if _, err := os.Stat(saved); err != nil {
		t.Fatalf("the saved config of %s is gone: %v", nwid1, err)
	}
}

// createNetwork makes a public network on the lab's controller (HOME home)
// with the pool and route of net24 ("10.148.18": .10–.250 of its /24) and
// returns its id.
func createNetwork(ctx context.Context, t *testing.T, home, name, net24 string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, ztnc(t), "-d", home, "controller", "create",
		`{"name":"`+name+`","private":false,"v4AssignMode":{"zt":true},`+
			`"ipAssignmentPools":[{"ipRangeStart":"`+net24+`.10","ipRangeEnd":"`+net24+`.250"}],`+
			`"routes":[{"target":"`+net24+`.0/24"}]}`).CombinedOutput()
	if err != nil {
		t.Fatalf("ztnc controller create: %v\n%s", err, out)
	}
	var created struct {
		ID string `json:"id"`
	}
	if _, js, ok := strings.Cut(string(out), "{"); !ok || json.Unmarshal([]byte("{"+js), &created) != nil || len(created.ID) != 16 {
		t.Fatalf("ztnc controller create printed %q", out)
	}
	return created.ID
}
