package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/idtool"
	"ztnc/zerotier/servicetest"
)

// TestMoonsCLI: a moon made with `idtool initmoon`/`genmoon` for service m,
// which takes it from moons.d via `ztnc orbit`; leaf l orbits it with m as
// the seed, receives it, lists it and sees m as MOON; deorbit undoes it.
func TestMoonsCLI(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	_, planet := servicetest.Root(t, ids[0])
	homeM, homeL := t.TempDir(), t.TempDir()
	if err := ids[1].WriteFiles(homeM); err != nil {
		t.Fatal(err)
	}
	m := servicetest.Leaf(t, homeM, planet)
	l := servicetest.Leaf(t, homeL, planet)
	servicetest.WaitFor(t, "both online", func() bool { return m.Node.Online() && l.Node.Online() })

	// The moon, as an operator makes it with zerotier-idtool.
	var out, errb bytes.Buffer
	moonsD := filepath.Join(homeM, "moons.d")
	os.MkdirAll(moonsD, 0o755)
	env := idtool.Env{Stdout: &out, Stderr: &errb, Dir: moonsD}
	if rc := idtool.Run([]string{"initmoon", filepath.Join(homeM, identity.PublicFileName)}, env); rc != 0 {
		t.Fatalf("initmoon: %s", errb.String())
	}
	var j map[string]any
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	j["roots"].([]any)[0].(map[string]any)["stableEndpoints"] = []string{fmt.Sprintf("127.0.0.1/%d", m.Port)}
	spec, _ := json.Marshal(j)
	specFile := filepath.Join(t.TempDir(), "moon.json")
	os.WriteFile(specFile, spec, 0o600)
	if rc := idtool.Run([]string{"genmoon", specFile}, env); rc != 0 {
		t.Fatalf("genmoon: %s", errb.String())
	}
	moonFile := fmt.Sprintf("%016x", uint64(ids[1].Address))
	moonID := ids[1].Address.String() // the 10-digit form 1.14's API routes
	if _, err := os.Stat(filepath.Join(moonsD, moonFile+".moon")); err != nil {
		t.Fatal(err)
	}
	seed := ids[1].Address.String()

	rc, stdout, stderr := runCapture("orbit", moonID, seed, "-d", homeM)
	if rc != 0 || stdout != "200 orbit OK\n" {
		t.Fatalf("orbit on the moon root: rc %d %q %q", rc, stdout, stderr)
	}
	if !m.Node.AmRoot() {
		t.Fatal("m does not serve as a root of its moon")
	}

	rc, stdout, stderr = runCapture("-D"+homeL, "orbit", moonID, seed)
	if rc != 0 || stdout != "200 orbit OK\n" {
		t.Fatalf("orbit: rc %d %q %q", rc, stdout, stderr)
	}
	var moons []map[string]any
	servicetest.WaitFor(t, "the moon at l", func() bool {
		rc, stdout, _ := runCapture("listmoons", "-d", homeL)
		moons = nil
		return rc == 0 && json.Unmarshal([]byte(stdout), &moons) == nil && len(moons) == 1
	})
	if moons[0]["id"] != moonFile || moons[0]["waiting"] != false {
		t.Fatalf("listmoons: %v", moons)
	}
	roots, _ := moons[0]["roots"].([]any)
	if len(roots) != 1 || !strings.HasPrefix(roots[0].(map[string]any)["identity"].(string), seed+":0:") {
		t.Fatalf("moon roots: %v", roots)
	}
	if _, err := os.Stat(filepath.Join(homeL, "moons.d", moonFile+".moon")); err != nil {
		t.Fatalf("moon not saved at l: %v", err)
	}
	servicetest.WaitFor(t, "m listed as MOON by ztnc peers", func() bool {
		_, stdout, _ := runCapture("peers", "-d", homeL)
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(line, seed+" ") && strings.Contains(line, " MOON ") {
				return true
			}
		}
		return false
	})

	// As with 1.14, the 16-digit form is not routed.
	if rc, stdout, _ = runCapture("deorbit", moonFile, "-d", homeL); rc != 1 || stdout != "404 deorbit {}\n" {
		t.Fatalf("deorbit with 16 digits: rc %d %q", rc, stdout)
	}
	rc, stdout, _ = runCapture("deorbit", moonID, "-d", homeL)
	if rc != 0 || stdout != "200 deorbit OK\n" {
		t.Fatalf("deorbit: rc %d %q", rc, stdout)
	}
	if rc, stdout, _ = runCapture("listmoons", "-d", homeL); rc != 0 || stdout != "[]\n" {
		t.Fatalf("listmoons after deorbit: rc %d %q", rc, stdout)
	}
	if _, err := os.Stat(filepath.Join(homeL, "moons.d", moonFile+".moon")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("moon file kept after deorbit: %v", err)
	}

	// Bad arguments: message and exit 2, nothing sent.
	for _, args := range [][]string{{"orbit", moonID}, {"orbit", "xyz", seed}, {"orbit", moonID, "12345678901"}, {"deorbit"}, {"listmoons", "x"}} {
		rc, stdout, stderr := runCapture(append(args, "-d", homeL)...)
		if rc != 2 || stdout != "" || !strings.HasPrefix(stderr, "ztnc: ") {
			t.Errorf("%q: rc %d, stdout %q, stderr %q", args, rc, stdout, stderr)
		}
	}
}
