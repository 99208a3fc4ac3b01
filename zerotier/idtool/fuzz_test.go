package idtool

import (
	"os"
	"testing"
)

// FuzzWorldJSON: any world description either builds a world that
// serializes and verifies with its own key, or is refused with an error.
func FuzzWorldJSON(f *testing.F) {
	if b, err := os.ReadFile("testdata/planet-lab.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"id":"1","worldType":"moon","roots":[{"identity":"x","stableEndpoints":["1.2.3.4/5"]}]}`))
	f.Add([]byte(`{"id":"7e57","worldType":"planet","signingKey":"00","roots":null,"timestamp":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := ParseWorldJSON(b)
		if err != nil {
			return
		}
		w, err := MakeWorld(j, 1)
		if err != nil {
			return
		}
		if _, err := w.MarshalBinary(); err != nil {
			t.Fatalf("built world does not serialize: %v", err)
		}
		if j.SigningKey == j.UpdatesMustBeSignedBy && w.VerifySelf() != nil {
			t.Fatal("self-signed world does not verify")
		}
	})
}

// FuzzArgs: endpoint, signature and identity-argument parsing never panic.
func FuzzArgs(f *testing.F) {
	f.Add("172.30.1.1/9993")
	f.Add("fe80::1%eth0/1")
	f.Add("e296d23398:0:f9cf")
	f.Fuzz(func(t *testing.T, s string) {
		if ap, err := ParseEndpoint(s); err == nil && (!ap.IsValid() || ap.Port() == 0) {
			t.Fatalf("accepted %q as %v", s, ap)
		}
		if sig, err := DecodeSignature(s); err == nil && len(sig) != 96 {
			t.Fatalf("signature of %d bytes", len(sig))
		}
		if len(s) > 32 && s[10] == ':' {
			IdentityFromArg(s)
		}
	})
}
