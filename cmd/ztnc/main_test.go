package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"ztnc/zerotier/servicetest"
)

func runCapture(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

// TestCLIAgainstService runs `ztnc info` and `ztnc peers [-j]` against a
// running leaf service whose root is another service.
func TestCLIAgainstService(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	root, planet := servicetest.Root(t, ids[0])
	home := t.TempDir()
	leaf := servicetest.Leaf(t, home, planet)
	servicetest.WaitFor(t, "leaf online", leaf.Node.Online)
	addr := leaf.Node.Address().String()
	rootAddr := root.Node.Address().String()

	rc, out, errs := runCapture("info", "-d", home)
	if rc != 0 || out != fmt.Sprintf("200 info %s 1.14.1 ONLINE\n", addr) {
		t.Fatalf("info: rc %d, out %q, err %q", rc, out, errs)
	}
	rc, out, _ = runCapture("-D"+home, "status", "-j")
	var st map[string]any
	if rc != 0 || json.Unmarshal([]byte(out), &st) != nil || st["address"] != addr || !strings.HasPrefix(out, "{\n \"address\": ") {
		t.Fatalf("info -j: rc %d, out %q", rc, out)
	}

	servicetest.WaitFor(t, "a preferred path to the root", func() bool {
		_, out, _ := runCapture("peers", "-d", home)
		return strings.Contains(out, "DIRECT")
	})
	// Flags before or after the verb give the same result.
	for _, args := range [][]string{{"-d", home, "peers", "-j"}, {"peers", "-j", "-d", home}, {"-j", "peers", "--home=" + home}} {
		rc, out, errs := runCapture(args...)
		var ps []map[string]any
		if rc != 0 || json.Unmarshal([]byte(out), &ps) != nil {
			t.Fatalf("%v: rc %d out %q err %q", args, rc, out, errs)
		}
		found := false
		for _, p := range ps {
			if p["address"] == rootAddr {
				found = true
				if p["role"] != "PLANET" || p["version"] != "1.14.1" {
					t.Errorf("%v: root entry %v", args, p)
				}
				paths, _ := p["paths"].([]any)
				if len(paths) == 0 || paths[0].(map[string]any)["address"] != fmt.Sprintf("127.0.0.1/%d", root.Port) {
					t.Errorf("%v: root paths %v", args, paths)
				}
			}
		}
		if !found {
			t.Fatalf("%v: root %s missing from %s", args, rootAddr, out)
		}
	}

	rc, out, _ = runCapture("peers", "-d", home)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if rc != 0 || len(lines) < 3 || lines[0] != "200 peers" || lines[1] != "<ztaddr>   <ver>  <role> <lat> <link>   <lastTX> <lastRX> <path>" {
		t.Fatalf("peers: rc %d out %q", rc, out)
	}
	row := regexp.MustCompile(`^` + rootAddr + ` 1\.14\.1 PLANET +-?\d+ DIRECT   -?\d+ +-?\d+ +127\.0\.0\.1/` + fmt.Sprint(root.Port) + `$`)
	if !row.MatchString(lines[2]) {
		t.Fatalf("peers row %q does not match %v", lines[2], row)
	}
	rc, out, _ = runCapture("listpeers", "-d", home)
	if rc != 0 || !regexp.MustCompile(`(?m)^200 listpeers `+rootAddr+` 127\.0\.0\.1/\d+;-?\d+;-?\d+ -?\d+ 1\.14\.1 PLANET$`).MatchString(out) {
		t.Fatalf("listpeers: rc %d out %q", rc, out)
	}

	// A wrong token gives zerotier-cli's "<code> <command> <body>" and exit 1.
	rc, out, _ = runCapture("info", "-d", home, "-T", "nope")
	if rc != 1 || out != "401 info {}\n" {
		t.Fatalf("bad token: rc %d out %q", rc, out)
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{}, {"--bogus", "peers"}, {"peers", "-x"}, {"frobnicate"}, {"peers", "--port", "70000"},
		{"peers", "--planet", "f"}, {"service", "-j"}, {"peers", "-d"}, {"info", "extra"}, {"-j=1", "peers"},
	} {
		rc, out, errs := runCapture(args...)
		if rc != 2 || out != "" || !strings.HasPrefix(errs, "ztnc: ") || !strings.Contains(errs, "usage:") {
			t.Errorf("%q: rc %d, stdout %q, stderr %q", args, rc, out, errs)
		}
	}
	if rc, _, errs := runCapture("peers", "-d", t.TempDir()); rc != 2 || !strings.Contains(errs, "zerotier-one.port not found") {
		t.Errorf("peers without a service: rc %d, %q", rc, errs)
	}
	if rc, out, _ := runCapture("version"); rc != 0 || !strings.HasPrefix(out, "ztnc ") {
		t.Errorf("version: %d %q", rc, out)
	}
}

// TestIdtoolVerb: `ztnc idtool` reaches the idtool (whose own tests cover
// the commands) with its positional arguments and exit codes.
func TestIdtoolVerb(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	sec, _ := ids[0].SecretString()
	if rc, out, _ := runCapture("idtool", "getpublic", sec); rc != 0 || out != ids[0].String() {
		t.Fatalf("idtool getpublic: rc %d %q", rc, out)
	}
	if rc, out, errs := runCapture("idtool", "validate"); rc != 2 || out != "" || !strings.Contains(errs, "usage: ztnc idtool") {
		t.Fatalf("idtool validate without an identity: rc %d %q %q", rc, out, errs)
	}
}
