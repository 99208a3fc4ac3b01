package c25519

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type kpVector struct {
	Pub1, Priv1, Pub2, Priv2, Agreement, Sig1, Sig2 string
}

// TestSelftestVectors runs all 32 C25519 vectors from ZeroTier's selftest:
// public-key derivation, 64-byte agreement in both directions, and both full
// 96-byte signatures of the agreement value.
func TestSelftestVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/vl1-kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var kat struct {
		C25519 struct {
			Vectors []kpVector `json:"vectors"`
		} `json:"c25519"`
	}
	if err := json.Unmarshal(raw, &kat); err != nil {
		t.Fatal(err)
	}
	if len(kat.C25519.Vectors) != 32 {
		t.Fatalf("want 32 vectors, got %d", len(kat.C25519.Vectors))
	}
	for i, v := range kat.C25519.Vectors {
		var pub1, pub2 PublicKey
		var priv1, priv2 PrivateKey
		copy(pub1[:], unhex(t, v.Pub1))
		copy(pub2[:], unhex(t, v.Pub2))
		copy(priv1[:], unhex(t, v.Priv1))
		copy(priv2[:], unhex(t, v.Priv2))
		for _, kp := range []struct {
			pub  PublicKey
			priv PrivateKey
		}{{pub1, priv1}, {pub2, priv2}} {
			got, err := kp.priv.Public()
			if err != nil || got != kp.pub {
				t.Errorf("vector %d: derived public %x (err %v), want %x", i, got, err, kp.pub)
			}
		}
		agr := unhex(t, v.Agreement)
		a := make([]byte, 64)
		b := make([]byte, 64)
		if err := Agree(&priv1, &pub2, a); err != nil {
			t.Fatal(err)
		}
		if err := Agree(&priv2, &pub1, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, agr) || !bytes.Equal(b, agr) {
			t.Errorf("vector %d: agreement %x / %x, want %x", i, a, b, agr)
		}
		for j, s := range []struct {
			priv *PrivateKey
			pub  *PublicKey
			want string
		}{{&priv1, &pub1, v.Sig1}, {&priv2, &pub2, v.Sig2}} {
			sig := Sign(s.priv, agr)
			if hex.EncodeToString(sig[:]) != s.want {
				t.Errorf("vector %d sig%d: got %x want %s", i, j+1, sig, s.want)
			}
			if err := Verify(s.pub, agr, sig[:]); err != nil {
				t.Errorf("vector %d sig%d: verify: %v", i, j+1, err)
			}
		}
	}
}

// TestIdtoolSignatures checks signatures made by zerotier-idtool 1.14.1,
// including its negative cases.
func TestIdtoolSignatures(t *testing.T) {
	raw, err := os.ReadFile("testdata/signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Signatures []struct {
			IdentityPublic string `json:"identity_public"`
			IdentitySecret string `json:"identity_secret"`
			MessageHex     string `json:"message_hex"`
			Signature      string `json:"signature"`
			Verify         bool   `json:"verify"`
		} `json:"signatures"`
		Negative []struct {
			Case           string `json:"case"`
			IdentityPublic string `json:"identity_public"`
			MessageHex     string `json:"message_hex"`
			Signature      string `json:"signature"`
			Verify         bool   `json:"verify"`
		} `json:"negative"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Signatures) != 3 || len(f.Negative) != 2 {
		t.Fatalf("unexpected vector counts %d/%d", len(f.Signatures), len(f.Negative))
	}
	pubOf := func(s string) PublicKey {
		var p PublicKey
		copy(p[:], unhex(t, strings.Split(s, ":")[2]))
		return p
	}
	for i, s := range f.Signatures {
		pub := pubOf(s.IdentityPublic)
		var priv PrivateKey
		copy(priv[:], unhex(t, strings.Split(s.IdentitySecret, ":")[3]))
		msg := unhex(t, s.MessageHex)
		sig := Sign(&priv, msg)
		if hex.EncodeToString(sig[:]) != s.Signature {
			t.Errorf("signature %d: got %x want %s", i, sig, s.Signature)
		}
		if err := Verify(&pub, msg, unhex(t, s.Signature)); (err == nil) != s.Verify {
			t.Errorf("signature %d: verify err=%v, want ok=%v", i, err, s.Verify)
		}
	}
	for _, n := range f.Negative {
		pub := pubOf(n.IdentityPublic)
		err := Verify(&pub, unhex(t, n.MessageHex), unhex(t, n.Signature))
		if err == nil || n.Verify {
			t.Errorf("%s: accepted", n.Case)
		} else if !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: error %v does not wrap ErrBadSignature", n.Case, err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	pub, priv, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("world update")
	sig := Sign(&priv, msg)
	if err := Verify(&pub, msg, sig[:]); err != nil {
		t.Fatalf("fresh signature rejected: %v", err)
	}
	if err := Verify(&pub, msg, sig[:95]); !errors.Is(err, ErrBadSignature) {
		t.Errorf("short signature: %v", err)
	}
	bad := sig
	bad[10] ^= 1
	if err := Verify(&pub, msg, bad[:]); !errors.Is(err, ErrBadSignature) {
		t.Errorf("flipped R: %v", err)
	}
	bad = sig
	bad[80] ^= 1
	if err := Verify(&pub, msg, bad[:]); !errors.Is(err, ErrBadSignature) {
		t.Errorf("flipped digest: %v", err)
	}
}

func TestAgreeLowOrder(t *testing.T) {
	_, priv, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	var zero PublicKey // u = 0 is a low-order point
	if err := Agree(&priv, &zero, make([]byte, 48)); !errors.Is(err, ErrLowOrderKey) {
		t.Fatalf("want ErrLowOrderKey, got %v", err)
	}
}
