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
	out, err := exec.CommandContext(ctx, ztnc(t), "-d", home, "controller", "create",
		`{"name":"second","private":false,"v4AssignMode":{"zt":true},`+
			`"ipAssignmentPools":[{"ipRangeStart":"10.148.18.10","ipRangeEnd":"10.148.18.250"}],`+
			`"routes":[{"target":"10.148.18.0/24"}]}`).CombinedOutput()
	if err != nil {
		t.Fatalf("ztnc controller create: %v\n%s", err, out)
	}
	var created struct {
		ID string `json:"id"`
	}
	if _, js, ok := strings.Cut(string(out), "{"); !ok || json.Unmarshal([]byte("{"+js), &created) != nil || len(created.ID) != 16 {
		t.Fatalf("ztnc controller create printed %q", out)
	}
	nwid2 := created.ID
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
