package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ztnc/zerotier/servicetest"
)

// TestNetworksCLI: `ztnc controller` creates a network with a pool and
// route on one service; another joins it (ACCESS_DENIED until authorized),
// gets an IP, shows it in listnetworks, keeps the network across a restart
// (networks.d) and leaves it.
func TestNetworksCLI(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	_, planet := servicetest.Root(t, ids[0])
	ctlHome, memHome := t.TempDir(), t.TempDir()
	for i, h := range []string{ctlHome, memHome} {
		if err := ids[i+1].WriteFiles(h); err != nil {
			t.Fatal(err)
		}
	}
	ctl := servicetest.Leaf(t, ctlHome, planet)
	mem := servicetest.Leaf(t, memHome, planet)

	rc, out, errs := runCapture("controller", "create", `{"name":"clinet"}`, "-d", ctlHome)
	var nw map[string]any
	if rc != 0 || json.Unmarshal([]byte(out), &nw) != nil || nw["name"] != "clinet" {
		t.Fatalf("create: %d %q %q", rc, out, errs)
	}
	nwid := nw["id"].(string)
	if !strings.HasPrefix(nwid, ctl.Node.Address().String()) {
		t.Fatalf("nwid %s", nwid)
	}
	if rc, out, _ := runCapture("controller", "pool", nwid, "10.55.0.10", "10.55.0.20", "10.55.0.0/24", "-d", ctlHome); rc != 0 || !strings.Contains(out, `"ipRangeStart": "10.55.0.10"`) {
		t.Fatalf("pool: %d %q", rc, out)
	}
	if _, err := os.Stat(filepath.Join(ctlHome, "controller.d", "network", nwid+".json")); err != nil {
		t.Fatalf("controller.d layout: %v", err)
	}
	if rc, out, _ := runCapture("join", nwid, "-d", memHome); rc != 0 || out != "200 join OK\n" {
		t.Fatalf("join: %d %q", rc, out)
	}
	if rc, out, _ := runCapture("join", "xyz", "-d", memHome); rc == 0 || !strings.HasPrefix(out, "invalid network id") {
		t.Fatalf("bad join: %d %q", rc, out)
	}
	servicetest.WaitFor(t, "ACCESS_DENIED", func() bool {
		_, out, _ := runCapture("listnetworks", "-d", memHome)
		return strings.Contains(out, " ACCESS_DENIED PRIVATE ")
	})
	memAddr := mem.Node.Address().String()
	if _, err := os.Stat(filepath.Join(ctlHome, "controller.d", "network", nwid, "member", memAddr+".json")); err != nil {
		t.Fatalf("member file: %v", err)
	}
	if rc, out, _ := runCapture("controller", "authorize", nwid, memAddr, "-d", ctlHome); rc != 0 || !strings.Contains(out, `"authorized": true`) {
		t.Fatalf("authorize: %d %q", rc, out)
	}
	line := regexp.MustCompile(`^200 listnetworks ` + nwid + ` clinet ([0-9a-f:]{17}) OK PRIVATE  10\.55\.0\.(\d+)/24$`)
	servicetest.WaitFor(t, "OK with an IP", func() bool {
		_, out, _ := runCapture("listnetworks", "-d", memHome)
		ls := strings.Split(strings.TrimSpace(out), "\n")
		return len(ls) == 2 && ls[0] == "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>" && line.MatchString(ls[1])
	})
	rc, out, _ = runCapture("listnetworks", "-j", "-d", memHome)
	var nets []map[string]any
	if rc != 0 || json.Unmarshal([]byte(out), &nets) != nil || len(nets) != 1 || nets[0]["status"] != "OK" || nets[0]["id"] != nwid {
		t.Fatalf("listnetworks -j: %d %q", rc, out)
	}
	rc, out, _ = runCapture("controller", "members", nwid, "-d", ctlHome)
	if rc != 0 || !strings.Contains(out, `"authorizedCount": 1`) {
		t.Fatalf("members: %d %q", rc, out)
	}

	// Restart: the network comes back from networks.d with its config.
	conf := filepath.Join(memHome, "networks.d", nwid+".conf")
	if b, err := os.ReadFile(conf); err != nil || !strings.Contains(string(b), "nwid="+nwid) {
		t.Fatalf("saved config: %v", err)
	}
	mem.Close()
	mem = servicetest.Leaf(t, memHome, planet)
	if n := mem.VL2.Networks(); len(n) != 1 || fmt.Sprintf("%016x", n[0].ID()) != nwid || n[0].Config() == nil {
		t.Fatalf("networks after restart: %v", n)
	}
	if rc, out, _ := runCapture("leave", nwid, "-d", memHome); rc != 0 || out != "200 leave OK\n" {
		t.Fatalf("leave: %d %q", rc, out)
	}
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Fatalf("networks.d entry kept after leave: %v", err)
	}
	if rc, out, _ := runCapture("listnetworks", "-d", memHome); rc != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("listnetworks after leave: %q", out)
	}
}
