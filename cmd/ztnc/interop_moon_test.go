package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ztnc/zerotier/servicetest"
)

// TestInteropMoons runs ZeroTier One (ZT_REF_BIN, the planet root) and our
// node in two network namespaces, each the root of a moon made by its own
// idtool. Each orbits the other's moon through the other as seed: the
// moon must travel in OK(HELLO) both ways, `zerotier-cli peers` must show
// our node as MOON, and `ztnc listmoons` must print the reference's moon
// exactly as `zerotier-cli listmoons` prints it. Then both deorbit.
func TestInteropMoons(t *testing.T) {
	ref := os.Getenv("ZT_REF_BIN")
	if os.Geteuid() != 0 {
		t.Fatal("ZT_REF_BIN is set but the interop test needs root for network namespaces")
	}
	nsR, nsG, ipR, ipG := netnsPair(t, "m", 78)

	ids := servicetest.Identities(t, "testdata/identities.json")
	refID, ourID := ids[0], ids[1]
	refHome, ourHome := t.TempDir(), t.TempDir()
	for h, id := range map[string]interface{ WriteFiles(string) error }{refHome: refID, ourHome: ourID} {
		if err := id.WriteFiles(h); err != nil {
			t.Fatal(err)
		}
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

	// Each side's moon, made by its own idtool, in its moons.d.
	mkMoon := func(home, ip string, idtool func(dir string, args ...string) []byte) string {
		dir := filepath.Join(home, "moons.d")
		os.MkdirAll(dir, 0o755)
		var j map[string]any
		if err := json.Unmarshal(idtool(dir, "initmoon", filepath.Join(home, "identity.public")), &j); err != nil {
			t.Fatal(err)
		}
		j["roots"].([]any)[0].(map[string]any)["stableEndpoints"] = []string{ip + "/9993"}
		spec, _ := json.Marshal(j)
		f := filepath.Join(t.TempDir(), "moon.json")
		os.WriteFile(f, spec, 0o600)
		idtool(dir, "genmoon", f)
		return j["id"].(string) // 10 hex digits, the form 1.14's API routes
	}
	refMoon := mkMoon(refHome, ipR, func(dir string, args ...string) []byte {
		c := exec.Command(ref, append([]string{"-i"}, args...)...)
		c.Dir = dir
		out, err := c.Output()
		if err != nil {
			t.Fatalf("zerotier-idtool %v: %v", args, err)
		}
		return out
	})
	ourMoon := mkMoon(ourHome, ipG, func(dir string, args ...string) []byte {
		var out, errb strings.Builder
		c := ztncIn(nsG, append([]string{"idtool"}, args...)...)
		c.Dir, c.Stdout, c.Stderr = dir, &out, &errb
		if err := c.Run(); err != nil {
			t.Fatalf("ztnc idtool %v: %v %s", args, err, errb.String())
		}
		return []byte(out.String())
	})

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
	refCLI := func(args ...string) string {
		out, _ := exec.Command("ip", append([]string{"netns", "exec", nsR, ref, "-q", "-D" + refHome}, args...)...).Output()
		return string(out)
	}
	ourCLI := func(args ...string) string {
		out, _ := ztncIn(nsG, append(args, "-d", ourHome)...).Output()
		return string(out)
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\nzerotier-cli listmoons: %s\nztnc listmoons: %s\nzerotier-cli peers:\n%s\nztnc peers:\n%s",
					what, refCLI("listmoons"), ourCLI("listmoons"), refCLI("peers"), ourCLI("peers"))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	waitUntil("both online", func() bool {
		return strings.HasSuffix(refCLI("info"), " ONLINE\n") && strings.HasSuffix(ourCLI("info"), " ONLINE\n")
	})

	if out := ourCLI("orbit", refMoon, refID.Address.String()); out != "200 orbit OK\n" {
		t.Fatalf("ztnc orbit: %q", out)
	}
	if out := refCLI("orbit", ourMoon, ourID.Address.String()); out != "200 orbit OK\n" {
		t.Fatalf("zerotier-cli orbit: %q", out)
	}
	waitUntil("each holding the other's moon", func() bool {
		return strings.Contains(ourCLI("listmoons"), `"id": "000000`+refMoon+`"`) && strings.Contains(refCLI("listmoons"), `"id": "000000`+ourMoon+`"`)
	})
	waitUntil("zerotier-cli peers showing our node as MOON", func() bool {
		for _, l := range strings.Split(refCLI("peers"), "\n") {
			if strings.HasPrefix(l, ourID.Address.String()+" ") && strings.Contains(l, " MOON ") {
				return true
			}
		}
		return false
	})
	// The reference's moon, listed by both sides (each also lists its own).
	pick := func(out, id string) any {
		var ms []map[string]any
		if err := json.Unmarshal([]byte(out), &ms); err != nil {
			t.Fatalf("listmoons: %v in %q", err, out)
		}
		for _, m := range ms {
			if m["id"] == id {
				return m
			}
		}
		t.Fatalf("moon %s not in %s", id, out)
		return nil
	}
	rm, om := pick(refCLI("listmoons"), "000000"+refMoon), pick(ourCLI("listmoons"), "000000"+refMoon)
	if a, b := fmt.Sprint(rm), fmt.Sprint(om); a != b {
		t.Errorf("the reference's moon:\nzerotier-cli listmoons: %s\nztnc listmoons:        %s", a, b)
	}

	if out := ourCLI("deorbit", refMoon); out != "200 deorbit OK\n" {
		t.Fatalf("ztnc deorbit: %q", out)
	}
	if out := refCLI("deorbit", ourMoon); out != "200 deorbit OK\n" {
		t.Fatalf("zerotier-cli deorbit: %q", out)
	}
	if strings.Contains(ourCLI("listmoons"), refMoon) || strings.Contains(refCLI("listmoons"), ourMoon) {
		t.Fatal("a moon is still listed after deorbit")
	}
}
