package dictionary

import (
	"bytes"
	"testing"

	"ztnc/zerotier/internal/vl2kat"
)

var kat = vl2kat.Vector

var unhex = vl2kat.Unhex

func TestEscapeKAT(t *testing.T) {
	v := kat(t, "dictionary_escape")
	d := &Dict{}
	d.Set(v["key"].(string), unhex(t, v["value_hex"]))
	if got, want := d.Bytes(), unhex(t, v["encoded_line_hex"]); !bytes.Equal(got, want) {
		t.Fatalf("encoded %q, want %q", got, want)
	}
	p := Parse(d.Bytes())
	if got, _ := p.Get("K"); !bytes.Equal(got, unhex(t, v["value_hex"])) {
		t.Fatalf("decoded %x", got)
	}
}

func TestRequestMetadataKAT(t *testing.T) {
	v := kat(t, "netconf_request_metadata_1.14.1_linux_x64")
	d := &Dict{}
	for _, kv := range []struct {
		k string
		v uint64
	}{{"v", 7}, {"vend", 1}, {"pv", 12}, {"majv", 1}, {"minv", 14}, {"revv", 1}, {"mr", 1024}, {"mc", 128}, {"mcr", 64}, {"mt", 128}, {"f", 0}, {"revr", 1}} {
		d.SetUint(kv.k, kv.v)
	}
	d.SetString("o", "linux/x86_64")
	if got := string(d.Bytes()); got != v["text"].(string) {
		t.Fatalf("got\n%s\nwant\n%s", got, v["text"])
	}
	p := Parse(unhex(t, v["hex"]))
	if p.Uint("minv", 0) != 14 || p.String("o") != "linux/x86_64" || p.Uint("mr", 0) != 1024 {
		t.Fatalf("parse: %+v", p.Keys())
	}
}

func TestNumbers(t *testing.T) {
	p := Parse([]byte("a=FF\nb=0x10\nc=-0000000000000005\nd=\ne=T\nf=0\na=1\ng=zz\nh=ffffffffffffffffff"))
	cases := []struct {
		got, want any
	}{
		{p.Uint("a", 9), uint64(255)}, // first key wins
		{p.Uint("b", 9), uint64(16)},
		{p.Int("c", 9), int64(-5)},
		{p.Uint("d", 9), uint64(9)}, // empty counts as absent
		{p.Bool("e", false), true},
		{p.Bool("f", true), false},
		{p.Uint("missing", 7), uint64(7)},
		{p.Uint("g", 7), uint64(0)},
		{p.Uint("h", 0), ^uint64(0)},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %v want %v", i, c.got, c.want)
		}
	}
}

func TestParseEdges(t *testing.T) {
	p := Parse([]byte("noequals\n=novalue\nk=a\\\nx=1\x00y=2\r\nz=3"))
	if got := p.Keys(); len(got) != 2 || got[0] != "k" || got[1] != "x" {
		t.Fatalf("keys %q", got)
	}
	if v, _ := p.Get("k"); string(v) != "a" {
		t.Fatalf("trailing backslash: %q", v)
	}
	if p.Has("y") {
		t.Fatal("content after NUL must be ignored")
	}
	d := &Dict{}
	d.SetInt("n", -5)
	d.SetBool("b", true)
	d.SetAddress("id", 0x87c29dbef6)
	if got := string(d.Bytes()); got != "n=-0000000000000005\nb=1\nid=87c29dbef6" {
		t.Fatal(got)
	}
	if err := d.CheckCapacity(10); err == nil {
		t.Fatal("capacity not enforced")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("K=A\\0\\r\\n\\\\\\eB\nv=0000000000000007"))
	f.Add([]byte("a=\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := Parse(b)
		// Re-encoding what was parsed must parse back to the same entries.
		again := Parse(d.Bytes())
		if len(again.Entries) != len(d.Entries) {
			t.Fatalf("round trip changed entry count %d -> %d", len(d.Entries), len(again.Entries))
		}
		for i := range d.Entries {
			if again.Entries[i].Key != d.Entries[i].Key || !bytes.Equal(again.Entries[i].Value, d.Entries[i].Value) {
				t.Fatalf("entry %d changed", i)
			}
		}
	})
}
