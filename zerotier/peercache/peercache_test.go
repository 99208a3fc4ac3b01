package peercache

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ztnc/zerotier/identity"
)

func testIdentity(t testing.TB) *identity.Identity {
	t.Helper()
	b, err := os.ReadFile("testdata/identities.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Identities []struct{ Public string } }
	if err := json.Unmarshal(b, &f); err != nil || len(f.Identities) == 0 {
		t.Fatalf("identities.json: %v", err)
	}
	id, err := identity.Parse(f.Identities[0].Public)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestLayout builds a record byte by byte from the layout 1.14 writes
// (Peer::serializeForCache) and checks both directions.
func TestLayout(t *testing.T) {
	id := testIdentity(t)
	idBin, _ := id.MarshalBinary()
	want := append([]byte{2}, idBin...)
	want = append(want, 0, 12, 0, 1, 0, 14, 0, 1)   // proto 12, 1.14.1
	want = append(want, 0, 2)                       // two paths
	want = append(want, 4, 10, 0, 0, 7, 0x26, 0xf1) // 10.0.0.7/9969
	v6, _ := hex.DecodeString("20010db8000000000000000000000001")
	want = append(want, 6)
	want = append(want, v6...)
	want = append(want, 0x27, 0x09) // [2001:db8::1]/9993
	e := &Entry{Identity: id, Proto: 12, Major: 1, Minor: 14, Revision: 1,
		Paths: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.7:9969"), netip.MustParseAddrPort("[2001:db8::1]:9993")}}
	got, err := e.MarshalBinary()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("MarshalBinary:\n got %x\nwant %x (%v)", got, want, err)
	}
	p, err := Parse(append(want, 0xee)) // trailing bytes ignored, as 1.14
	if err != nil {
		t.Fatal(err)
	}
	if !p.Identity.Equal(id) || p.Proto != 12 || p.Major != 1 || p.Minor != 14 || p.Revision != 1 || len(p.Paths) != 2 || p.Paths[1] != e.Paths[1] {
		t.Fatalf("Parse: %+v", p)
	}
	for name, b := range map[string][]byte{
		"empty": nil, "version 1": append([]byte{1}, want[1:]...), "no versions": want[:1+len(idBin)+4],
		"truncated path": want[:len(want)-1], "too many paths": append(append([]byte(nil), want[:1+len(idBin)+8]...), 0, 17),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDirSaveLoadClean(t *testing.T) {
	id := testIdentity(t)
	d := Dir(filepath.Join(t.TempDir(), DirName))
	if e, err := d.Load(id.Address); e != nil || err != nil {
		t.Fatalf("missing record: %v %v", e, err)
	}
	if err := d.Clean(time.Now()); err != nil {
		t.Fatalf("clean of a missing dir: %v", err)
	}
	e := &Entry{Identity: id, Proto: 12, Paths: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:9993")}}
	if err := d.Save(e); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(string(d), id.Address.String()+".peer")
	if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("record file: %v", err)
	}
	got, err := d.Load(id.Address)
	if err != nil || got == nil || !got.Identity.Equal(id) || len(got.Paths) != 1 {
		t.Fatalf("Load: %+v %v", got, err)
	}
	// A record under another address's name is refused.
	b, _ := os.ReadFile(f)
	os.WriteFile(filepath.Join(string(d), "0102030405.peer"), b, 0o644)
	if _, err := d.Load(0x0102030405); err == nil {
		t.Fatal("record for another address accepted")
	}
	old := time.Now().Add(-MaxAge - time.Hour)
	os.Chtimes(f, old, old)
	if err := d.Clean(time.Now().Add(-MaxAge)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("old record not cleaned")
	}
	if _, err := os.Stat(filepath.Join(string(d), "0102030405.peer")); err != nil {
		t.Fatal("fresh record cleaned")
	}
}

func FuzzParse(f *testing.F) {
	id := testIdentity(f)
	e := &Entry{Identity: id, Proto: 12, Major: 1, Minor: 14, Revision: 1,
		Paths: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.7:9969"), netip.MustParseAddrPort("[2001:db8::1]:9993")}}
	b, _ := e.MarshalBinary()
	f.Add(b)
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			return
		}
		// What parses re-encodes to a record that parses the same.
		out, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		e2, err := Parse(out)
		if err != nil || !e2.Identity.Equal(e.Identity) || len(e2.Paths) != len(e.Paths) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
