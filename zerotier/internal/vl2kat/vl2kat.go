// Package vl2kat gives the VL2 packages' tests the known-answer vectors of
// vl2-kat.json (from ../shared/zerotier/vectors), kept here once.
package vl2kat

import (
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"testing"
)

//go:embed vl2-kat.json
var raw []byte

// Vector returns the vector called name, failing the test if it is missing.
func Vector(t testing.TB, name string) map[string]any {
	t.Helper()
	var f struct{ Vectors []map[string]any }
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Vectors {
		if v["name"] == name {
			return v
		}
	}
	t.Fatalf("vector %s missing", name)
	return nil
}

// Unhex decodes a hex string field of a vector.
func Unhex(t testing.TB, s any) []byte {
	t.Helper()
	str, ok := s.(string)
	if !ok {
		t.Fatalf("vector field %v is not a hex string", s)
	}
	b, err := hex.DecodeString(str)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Hex returns the decoded "hex" field of the vector called name.
func Hex(t testing.TB, name string) []byte {
	t.Helper()
	return Unhex(t, Vector(t, name)["hex"])
}
