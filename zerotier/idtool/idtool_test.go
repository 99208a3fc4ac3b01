package idtool

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/world"
)

func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := Run(args, Env{Stdout: &out, Stderr: &errb, Dir: dir, Now: func() uint64 { return 1700000000000 }})
	return rc, out.String(), errb.String()
}

type labPlanet struct {
	WorldID   string `json:"world_id"`
	Timestamp uint64 `json:"timestamp_ms"`
	SignPub   string `json:"signing_key_public"`
	SignSec   string `json:"signing_key_secret"`
	Updates   string `json:"updates_must_be_signed_by"`
	Roots     []struct {
		Public    string   `json:"identity_public"`
		Endpoints []string `json:"stable_endpoints"`
	} `json:"roots"`
}

// labJSON turns the lab planet's description plus its root's identity.secret
// into mkplanet input (the genmoon JSON the lab used, with its timestamp).
func labJSON(t *testing.T) *WorldJSON {
	t.Helper()
	b, err := os.ReadFile("testdata/planet-lab.json")
	if err != nil {
		t.Fatal(err)
	}
	var l labPlanet
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	root, err := identity.ReadFile("testdata/planet-lab-root.secret")
	if err != nil {
		t.Fatal(err)
	}
	ts := l.Timestamp
	return &WorldJSON{
		ID: l.WorldID, ObjType: "world", WorldType: "planet", Timestamp: &ts,
		SigningKey: l.SignPub, SigningKeySecret: l.SignSec, UpdatesMustBeSignedBy: l.Updates,
		Roots: []RootJSON{{Identity: root.String(), StableEndpoints: l.Roots[0].Endpoints}},
	}
}

func TestMkplanetReproducesLabPlanet(t *testing.T) {
	wantHex, err := os.ReadFile("testdata/planet-lab.hex")
	if err != nil {
		t.Fatal(err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(wantHex)))
	if err != nil {
		t.Fatal(err)
	}
	j := labJSON(t)
	got, err := MkPlanet(j, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("mkplanet differs from planet-lab.hex:\n got %x\nwant %x", got, want)
	}

	// The same through the command, writing a named file.
	dir := t.TempDir()
	jb, err := MarshalWorldJSON(j)
	if err != nil {
		t.Fatal(err)
	}
	jf := filepath.Join(dir, "planet.json")
	os.WriteFile(jf, jb, 0o600)
	rc, out, errs := run(t, dir, "mkplanet", jf)
	if rc != 0 || out != "wrote planet (signed world with timestamp 1795902334103)\n" {
		t.Fatalf("mkplanet: rc %d out %q err %q", rc, out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "planet")); !bytes.Equal(b, want) {
		t.Fatal("mkplanet's planet file differs from planet-lab.hex")
	}

	// Without a timestamp the clock is used, and the result still verifies.
	j.Timestamp = nil
	got, err = MkPlanet(j, 1234)
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.Parse(got)
	if err != nil || w.Timestamp != 1234 || w.VerifySelf() != nil {
		t.Fatalf("clock planet: %v ts %d", err, w.Timestamp)
	}
	j.WorldType = "moon"
	if _, err := MkPlanet(j, 1); err == nil {
		t.Fatal("MkPlanet accepted a moon description")
	}
}

func TestSignaturesMatchIdtool(t *testing.T) {
	b, err := os.ReadFile("testdata/signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Signatures []struct {
			Public     string `json:"identity_public"`
			Sec        string `json:"identity_secret"`
			MessageHex string `json:"message_hex"`
			Signature  string `json:"signature"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Signatures) == 0 {
		t.Fatal("no signatures in the vectors")
	}
	dir := t.TempDir()
	for i, s := range f.Signatures {
		msg, _ := hex.DecodeString(s.MessageHex)
		mf := filepath.Join(dir, "msg"+strconv.Itoa(i))
		sf := filepath.Join(dir, "id"+strconv.Itoa(i)+".secret")
		pf := filepath.Join(dir, "id"+strconv.Itoa(i)+".public")
		os.WriteFile(mf, msg, 0o600)
		os.WriteFile(sf, []byte(s.Sec), 0o600)
		os.WriteFile(pf, []byte(s.Public), 0o600)
		rc, out, errs := run(t, dir, "sign", sf, mf)
		if rc != 0 || out != s.Signature {
			t.Fatalf("sign %d: rc %d %q %q\nwant %q", i, rc, out, errs, s.Signature)
		}
		rc, out, _ = run(t, dir, "verify", pf, mf, s.Signature)
		if rc != 0 || out != mf+" signature valid\n" {
			t.Fatalf("verify %d: rc %d %q", i, rc, out)
		}
		// The signature may also be a file holding the hex (with a newline).
		sigf := filepath.Join(dir, "sig"+strconv.Itoa(i))
		os.WriteFile(sigf, []byte(s.Signature+"\n"), 0o600)
		if rc, _, errs := run(t, dir, "verify", s.Public, mf, sigf); rc != 0 {
			t.Fatalf("verify with a signature file: %q", errs)
		}
		bad := []byte(s.Signature)
		bad[10] ^= 1
		if bad[10] == 'a'^1 || bad[10] > 'f' {
			bad[10] = '0'
		}
		rc, out, errs = run(t, dir, "verify", pf, mf, string(bad))
		if rc != 1 || out != "" || errs != mf+" signature check FAILED\n" {
			t.Fatalf("tampered signature: rc %d %q %q", rc, out, errs)
		}
		if rc, _, _ := run(t, dir, "sign", pf, mf); rc != 1 {
			t.Fatal("signed with a public identity")
		}
	}
}

func TestValidateGetpublic(t *testing.T) {
	b, err := os.ReadFile("testdata/identities.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Identities []struct{ Address, Public, Secret string } `json:"identities"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, e := range f.Identities[:2] {
		sf := filepath.Join(dir, "s"+strconv.Itoa(i))
		os.WriteFile(sf, []byte(e.Secret), 0o600)
		if rc, out, _ := run(t, dir, "validate", sf); rc != 0 || out != sf+" is a valid identity\n" {
			t.Fatalf("validate %s: %d %q", e.Address, rc, out)
		}
		if rc, out, _ := run(t, dir, "validate", e.Public); rc != 0 || out != e.Public+" is a valid identity\n" {
			t.Fatalf("validate literal %s: %d %q", e.Address, rc, out)
		}
		if rc, out, _ := run(t, dir, "getpublic", sf); rc != 0 || out != e.Public {
			t.Fatalf("getpublic %s: %d %q", e.Address, rc, out)
		}
		// A different public key under the same address fails the proof of work.
		forged := []byte(e.Public)
		forged[20] = "01"[(forged[20]&1)^1]
		if rc, _, errs := run(t, dir, "validate", string(forged)); rc != 1 || !strings.Contains(errs, "FAILED validation") {
			t.Fatalf("forged identity: %d %q", rc, errs)
		}
	}
}

func TestGenerateFiles(t *testing.T) {
	dir := t.TempDir()
	sf, pf := filepath.Join(dir, "identity.secret"), filepath.Join(dir, "identity.public")
	os.WriteFile(sf, []byte("old"), 0o644) // an existing wide-open file is tightened
	rc, out, errs := run(t, dir, "generate", sf, pf)
	if rc != 0 || out != sf+" written\n"+pf+" written\n" {
		t.Fatalf("generate: %d %q %q", rc, out, errs)
	}
	st, err := os.Stat(sf)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity.secret mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	id, err := identity.ReadFile(sf)
	if err != nil || Validate(id) != nil {
		t.Fatalf("generated identity: %v", err)
	}
	pub, _ := os.ReadFile(pf)
	if string(pub) != id.String() {
		t.Fatalf("identity.public %q, want %q", pub, id.String())
	}
	rc, out, _ = run(t, dir, "generate")
	if g, err := identity.Parse(out); rc != 0 || err != nil || !g.HasPrivate() || strings.HasSuffix(out, "\n") {
		t.Fatalf("generate to stdout: %d %q %v", rc, out, err)
	}
}

func TestInitmoonGenmoon(t *testing.T) {
	dir := t.TempDir()
	ids, _ := os.ReadFile("testdata/identities.json")
	var f struct{ Identities []struct{ Public string } }
	json.Unmarshal(ids, &f)
	rc, out, errs := run(t, dir, "initmoon", f.Identities[0].Public)
	if rc != 0 {
		t.Fatalf("initmoon: %q", errs)
	}
	// Key order and indentation are nlohmann's dump(1).
	keys := regexp.MustCompile(`(?m)^ "([a-zA-Z_]+)"`).FindAllStringSubmatch(out, -1)
	var names []string
	for _, k := range keys {
		names = append(names, k[1])
	}
	if strings.Join(names, ",") != "id,objtype,roots,signingKey,signingKey_SECRET,updatesMustBeSignedBy,worldType" ||
		!strings.Contains(out, "\n  {\n   \"identity\": \"") || !strings.HasSuffix(out, "\n}\n") {
		t.Fatalf("initmoon output:\n%s", out)
	}
	j, err := ParseWorldJSON([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	j.Roots[0].StableEndpoints = []string{"10.0.0.2/9993", "fd00::1/9993", "1.0.0.3/9994", "10.0.0.1/9993"}
	jb, _ := MarshalWorldJSON(j)
	jf := filepath.Join(dir, "moon.json")
	os.WriteFile(jf, jb, 0o600)
	rc, out, errs = run(t, dir, "genmoon", jf)
	name := "000000" + j.ID + ".moon"
	if rc != 0 || out != "wrote "+name+" (signed world with timestamp 1700000000000)\n" {
		t.Fatalf("genmoon: %d %q %q", rc, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.Parse(b)
	if err != nil || w.Type != world.TypeMoon || w.VerifySelf() != nil || w.Roots[0].Identity.String() != f.Identities[0].Public {
		t.Fatalf("moon: %v %+v", err, w)
	}
	// InetAddress order: IPv4 first; ports and IPv4 addresses as
	// little-endian integers of network-order bytes.
	var eps []string
	for _, ep := range w.Roots[0].StableEndpoints {
		eps = append(eps, ep.String())
	}
	if got := strings.Join(eps, " "); got != "10.0.0.1:9993 10.0.0.2:9993 1.0.0.3:9994 [fd00::1]:9993" {
		t.Fatalf("endpoint order %s", got)
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte(`{"id":"zz","worldType":"moon"}`), 0o600)
	cases := []struct {
		args []string
		rc   int
		msg  string
	}{
		{nil, 2, "no command"},
		{[]string{"frob"}, 2, "unknown command"},
		{[]string{"validate"}, 2, "arguments"},
		{[]string{"sign", "x"}, 2, "arguments"},
		{[]string{"generate", "a", "b", "zz"}, 2, "vanity"},
		{[]string{"validate", filepath.Join(dir, "none")}, 1, "Identity argument invalid or file unreadable"},
		{[]string{"getpublic", "not-an-identity-but-long-enough-to-be-a-literal"}, 1, "Identity argument invalid"},
		{[]string{"initmoon", junk}, 1, "is not a valid identity"},
		{[]string{"genmoon", filepath.Join(dir, "none")}, 1, "cannot read"},
		{[]string{"genmoon", junk}, 1, "invalid id"},
		{[]string{"mkplanet", junk}, 1, "is not \"planet\""},
	}
	for _, c := range cases {
		rc, out, errs := run(t, dir, c.args...)
		if rc != c.rc || out != "" || !strings.Contains(errs, c.msg) {
			t.Errorf("%q: rc %d (want %d), stdout %q, stderr %q", c.args, rc, c.rc, out, errs)
		}
	}
}

// TestAgainstReference runs the reference zerotier-idtool when ZT_REF_BIN
// names zerotier-one: it validates our identity, verifies our signature, and
// its genmoon of our initmoon JSON equals ours at the same timestamp.
func TestAgainstReference(t *testing.T) {
	ref := os.Getenv("ZT_REF_BIN")
	if ref == "" {
		return // the known-answer tests above cover the reference's outputs
	}
	dir := t.TempDir()
	tool := filepath.Join(dir, "zerotier-idtool")
	if err := os.Symlink(ref, tool); err != nil {
		t.Fatal(err)
	}
	refRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zerotier-idtool %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	sf, pf, mf := filepath.Join(dir, "s"), filepath.Join(dir, "p"), filepath.Join(dir, "m")
	if rc, _, errs := run(t, dir, "generate", sf, pf); rc != 0 {
		t.Fatal(errs)
	}
	refRun("validate", sf)
	os.WriteFile(mf, []byte("ztnc"), 0o600)
	_, sig, _ := run(t, dir, "sign", sf, mf)
	refRun("verify", pf, mf, sig)

	_, mj, _ := run(t, dir, "initmoon", pf)
	j, err := ParseWorldJSON([]byte(mj))
	if err != nil {
		t.Fatal(err)
	}
	j.Roots[0].StableEndpoints = []string{"10.0.0.2/9993", "fd00::1/9993", "1.0.0.3/9994", "10.0.0.1/9993", "192.168.1.1/1"}
	jb, _ := MarshalWorldJSON(j)
	os.WriteFile(filepath.Join(dir, "moon.json"), jb, 0o600)
	out := refRun("genmoon", "moon.json")
	m := regexp.MustCompile(`wrote (\S+) \(signed world with timestamp (\d+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("reference genmoon said %q", out)
	}
	refMoon, _ := os.ReadFile(filepath.Join(dir, m[1]))
	ts, _ := strconv.ParseUint(m[2], 10, 64)
	w, err := MakeWorld(j, ts)
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := w.MarshalBinary()
	if !bytes.Equal(ours, refMoon) {
		t.Fatalf("genmoon differs from the reference:\n ours %x\n  ref %x", ours, refMoon)
	}
}
