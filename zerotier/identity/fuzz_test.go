package identity

import (
	"errors"
	"testing"
)

// FuzzParse: the text parser must never panic and must only fail with ErrInvalid;
// anything it accepts must print back to a string that parses to the same identity.
func FuzzParse(f *testing.F) {
	f.Add("8e4df28b72:0:00")
	for _, v := range loadIdtoolF(f) {
		f.Add(v)
	}
	f.Add("ffffffffff:0:00")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		back, err := Parse(id.String())
		if err != nil || !back.Equal(id) {
			t.Fatalf("re-parse of %q: %v", id.String(), err)
		}
	})
}

// FuzzDecode: binary decoding (identities arrive in HELLO and OK(WHOIS)).
func FuzzDecode(f *testing.F) {
	for _, v := range loadIdtoolF(f) {
		if id, err := Parse(v); err == nil {
			b, _ := id.AppendBinary(nil, id.HasPrivate())
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, n, err := Decode(b, true)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		if n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		out, err := id.AppendBinary(nil, id.HasPrivate())
		if err != nil || string(out) != string(b[:n]) {
			t.Fatalf("re-encode mismatch")
		}
	})
}

func loadIdtoolF(f *testing.F) []string {
	var out []string
	for _, i := range loadIdtool(f).Identities {
		out = append(out, i.Public, i.Secret)
	}
	return out
}
