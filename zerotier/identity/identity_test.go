package identity

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type katIdentities struct {
	KnownGood       string `json:"known_good"`
	KnownBad        string `json:"known_bad"`
	KnownGoodDigest string `json:"known_good_memory_hard_digest"`
}

func loadKAT(t testing.TB) katIdentities {
	t.Helper()
	raw, err := os.ReadFile("testdata/vl1-kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var kat struct {
		Identities katIdentities `json:"identities"`
	}
	if err := json.Unmarshal(raw, &kat); err != nil {
		t.Fatal(err)
	}
	return kat.Identities
}

type idtoolFile struct {
	Identities []struct {
		Address  string `json:"address"`
		Public   string `json:"public"`
		Secret   string `json:"secret"`
		Validate bool   `json:"validate"`
	} `json:"identities"`
	Invalid []struct {
		Public   string `json:"public"`
		How      string `json:"how"`
		Validate bool   `json:"validate"`
	} `json:"invalid"`
}

func loadIdtool(t testing.TB) idtoolFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/identities.json")
	if err != nil {
		t.Fatal(err)
	}
	var f idtoolFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Identities) != 5 || len(f.Invalid) != 2 {
		t.Fatalf("unexpected vector counts %d/%d", len(f.Identities), len(f.Invalid))
	}
	return f
}

func TestMemoryHardDigest(t *testing.T) {
	k := loadKAT(t)
	id, err := Parse(k.KnownGood)
	if err != nil {
		t.Fatal(err)
	}
	d := memoryHardHash(&id.Public)
	if hex.EncodeToString(d[:]) != k.KnownGoodDigest {
		t.Fatalf("digest %x\nwant   %s", d, k.KnownGoodDigest)
	}
}

func TestSelftestIdentities(t *testing.T) {
	k := loadKAT(t)
	good, err := Parse(k.KnownGood)
	if err != nil {
		t.Fatal(err)
	}
	if err := good.LocallyValidate(); err != nil {
		t.Errorf("known good: %v", err)
	}
	if err := good.CheckPrivate(); err != nil {
		t.Errorf("known good private: %v", err)
	}
	if s, _ := good.SecretString(); s != k.KnownGood {
		t.Errorf("SecretString round trip:\n%s\n%s", s, k.KnownGood)
	}
	bad, err := Parse(k.KnownBad)
	if err != nil {
		t.Fatalf("known bad must parse: %v", err)
	}
	if err := bad.LocallyValidate(); !errors.Is(err, ErrNotValid) {
		t.Errorf("known bad: got %v, want ErrNotValid", err)
	}
}

// TestIdtoolIdentities uses identities made by zerotier-idtool 1.14.1.
func TestIdtoolIdentities(t *testing.T) {
	f := loadIdtool(t)
	for _, v := range f.Identities {
		sec, err := Parse(v.Secret)
		if err != nil {
			t.Fatalf("%s: %v", v.Address, err)
		}
		pub, err := Parse(v.Public)
		if err != nil {
			t.Fatalf("%s: %v", v.Address, err)
		}
		if sec.Address.String() != v.Address || !sec.Equal(pub) || pub.HasPrivate() || !sec.HasPrivate() {
			t.Errorf("%s: parsed fields disagree", v.Address)
		}
		if pub.String() != v.Public || sec.String() != v.Public {
			t.Errorf("%s: String() = %s", v.Address, sec.String())
		}
		if s, _ := sec.SecretString(); s != v.Secret {
			t.Errorf("%s: SecretString mismatch", v.Address)
		}
		if err := sec.CheckPrivate(); err != nil {
			t.Errorf("%s: %v", v.Address, err)
		}
		if err := pub.LocallyValidate(); (err == nil) != v.Validate {
			t.Errorf("%s: validate err=%v want ok=%v", v.Address, err, v.Validate)
		}
	}
	for _, v := range f.Invalid {
		id, err := Parse(v.Public)
		if err != nil {
			t.Fatalf("%s: must parse: %v", v.How, err)
		}
		if err := id.LocallyValidate(); !errors.Is(err, ErrNotValid) || v.Validate {
			t.Errorf("%s: got %v, want ErrNotValid", v.How, err)
		}
	}
}

func TestAgreeSymmetric(t *testing.T) {
	f := loadIdtool(t)
	a, _ := Parse(f.Identities[0].Secret)
	b, _ := Parse(f.Identities[1].Secret)
	ka, err := a.Agree(b.PublicOnly())
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.Agree(a.PublicOnly())
	if err != nil {
		t.Fatal(err)
	}
	if ka != kb {
		t.Fatal("keys differ")
	}
	if _, err := a.PublicOnly().Agree(b); !errors.Is(err, ErrNoPrivateKey) {
		t.Fatalf("public-only Agree: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	f := loadIdtool(t)
	id, _ := Parse(f.Identities[2].Secret)
	sig, err := id.Sign([]byte("msg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := id.PublicOnly().Verify([]byte("msg"), sig); err != nil {
		t.Fatal(err)
	}
	if err := id.Verify([]byte("msh"), sig); err == nil {
		t.Fatal("wrong message verified")
	}
}

func TestBinary(t *testing.T) {
	f := loadIdtool(t)
	id, _ := Parse(f.Identities[0].Secret)
	b, err := id.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != PublicBinarySize || b[5] != 0 || b[70] != 0 {
		t.Fatalf("public binary form %x", b)
	}
	wantPrefix, _ := hex.DecodeString(strings.ReplaceAll(f.Identities[0].Public[:10]+"00"+f.Identities[0].Public[13:], ":", ""))
	if !bytes.Equal(b[:70], wantPrefix) {
		t.Fatalf("layout: %x\nwant    %x", b[:70], wantPrefix)
	}
	var back Identity
	if err := back.UnmarshalBinary(b); err != nil || !back.Equal(id) || back.HasPrivate() {
		t.Fatalf("round trip: %v", err)
	}
	full, err := id.AppendBinary(nil, true)
	if err != nil || len(full) != SecretBinarySize || full[70] != 64 {
		t.Fatalf("secret binary: %d %v", len(full), err)
	}
	got, n, err := Decode(append(full, 0xaa), false)
	if err != nil || n != SecretBinarySize || got.HasPrivate() || !got.Equal(id) {
		t.Fatalf("Decode discarding private: n=%d err=%v", n, err)
	}
	got, _, _ = Decode(full, true)
	if p, err := got.Private(); err != nil || p != *id.private {
		t.Fatal("Decode keeping private lost the key")
	}
	for name, bad := range map[string][]byte{
		"short":      b[:70],
		"type 1":     append(append(append([]byte{}, b[:5]...), 1), b[6:]...),
		"privlen 32": append(append([]byte{}, b[:70]...), 32),
		"trunc priv": full[:100],
	} {
		if _, _, err := Decode(bad, true); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if err := back.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrInvalid) {
		t.Errorf("trailing byte accepted: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	f := loadIdtool(t)
	pub := f.Identities[0].Public
	hexKey := pub[13:]
	cases := map[string]string{
		"empty":        "",
		"two fields":   "e296d23398:0",
		"five fields":  f.Identities[0].Secret + ":00",
		"type 1":       "e296d23398:1:" + hexKey,
		"reserved 0":   "0000000000:0:" + hexKey,
		"reserved ff":  "ff96d23398:0:" + hexKey,
		"bad address":  "zz96d23398:0:" + hexKey,
		"long address": "1e296d23398:0:" + hexKey,
		"short key":    "e296d23398:0:" + hexKey[:126],
		"bad hex key":  "e296d23398:0:" + "g" + hexKey[1:],
		"short priv":   pub + ":abcd",
	}
	for name, s := range cases {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	// Accepted leniencies: upper-case hex, trailing newline, empty fields.
	id, err := Parse(strings.ToUpper(pub[:10]) + "::0:" + strings.ToUpper(hexKey) + "\n")
	if err != nil || id.String() != pub {
		t.Fatalf("lenient parse: %v", err)
	}
}

func TestFilesAndGenerate(t *testing.T) {
	dir := t.TempDir()
	// Missing identity.secret: one new identity is generated and written.
	id, created, err := LoadOrGenerate(dir)
	if err != nil || !created {
		t.Fatalf("LoadOrGenerate: created=%v err=%v", created, err)
	}
	if err := id.LocallyValidate(); err != nil {
		t.Fatalf("generated identity: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, SecretFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity.secret mode %v err %v", st.Mode(), err)
	}
	sec, _ := os.ReadFile(filepath.Join(dir, SecretFileName))
	pub, _ := os.ReadFile(filepath.Join(dir, PublicFileName))
	want, _ := id.SecretString()
	if string(sec) != want || string(pub) != id.String() {
		t.Fatalf("file contents:\n%q\n%q", sec, pub)
	}
	// Second start: same identity; a deleted identity.public is rewritten.
	os.Remove(filepath.Join(dir, PublicFileName))
	again, created, err := LoadOrGenerate(dir)
	if err != nil || created || !again.Equal(id) {
		t.Fatalf("reload: created=%v err=%v", created, err)
	}
	if pub2, _ := os.ReadFile(filepath.Join(dir, PublicFileName)); string(pub2) != id.String() {
		t.Fatal("identity.public not rewritten")
	}
	// An idtool-written secret with a trailing newline loads.
	f := loadIdtool(t)
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, SecretFileName), []byte(f.Identities[3].Secret+"\n"), 0o600)
	got, created, err := LoadOrGenerate(dir2)
	if err != nil || created || got.Address.String() != f.Identities[3].Address {
		t.Fatalf("idtool file: %v", err)
	}
	// A broken or non-validating secret is refused, never replaced.
	dir3 := t.TempDir()
	os.WriteFile(filepath.Join(dir3, SecretFileName), []byte(loadKAT(t).KnownBad), 0o600)
	if _, _, err := LoadOrGenerate(dir3); !errors.Is(err, ErrNotValid) {
		t.Fatalf("known-bad secret: %v", err)
	}
	os.WriteFile(filepath.Join(dir3, SecretFileName), []byte("garbage"), 0o600)
	if _, _, err := LoadOrGenerate(dir3); !errors.Is(err, ErrInvalid) {
		t.Fatalf("garbage secret: %v", err)
	}
	os.WriteFile(filepath.Join(dir3, SecretFileName), []byte(f.Identities[3].Public), 0o600)
	if _, _, err := LoadOrGenerate(dir3); !errors.Is(err, ErrNoPrivateKey) {
		t.Fatalf("public-only secret: %v", err)
	}
}

func BenchmarkMemoryHardHash(b *testing.B) {
	id, _ := Parse(loadKAT(b).KnownGood)
	for b.Loop() {
		memoryHardHash(&id.Public)
	}
}

// TestThresholdBoundary: an identity whose work digest starts with exactly 17
// (found with this package's hash; its address bytes do match) must be
// rejected, since 1.x accepts only digest[0] < 17. The known-good selftest
// identity (digest[0] = 16) covers the other side of the boundary.
func TestThresholdBoundary(t *testing.T) {
	id, err := Parse("30d4ae9108:0:4ba2fb4187e9f7ae836a83696918eba45ff85a69a3f55326db324ee22f4b90129018e86a7d3f207b7dfb05a8f1477b3d074f4ea349294cb4d20843584075b1a8")
	if err != nil {
		t.Fatal(err)
	}
	d := memoryHardHash(&id.Public)
	if d[0] != 17 || hex.EncodeToString(d[59:]) != "30d4ae9108" {
		t.Fatalf("vector broken: digest %x", d)
	}
	if err := id.LocallyValidate(); !errors.Is(err, ErrNotValid) {
		t.Fatalf("digest[0] = 17 accepted: %v", err)
	}
}
