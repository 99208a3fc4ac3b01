package rules

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"

	"ztnc/zerotier/internal/vl2kat"
)

var kat = vl2kat.Vector

func TestKAT(t *testing.T) {
	acc, _ := hex.DecodeString(kat(t, "rules_default_accept")["hex"].(string))
	if got := Append(nil, []Rule{{T: ActionAccept}}); !bytes.Equal(got, acc) {
		t.Fatalf("accept %x", got)
	}
	v := kat(t, "rules_drop_non_ip")
	want, _ := hex.DecodeString(v["hex"].(string))
	var rs []Rule
	for _, j := range v["json"].([]any) {
		r, ok := FromJSON(j.(map[string]any))
		if !ok {
			t.Fatalf("rule %v refused", j)
		}
		rs = append(rs, r)
	}
	if got := Append(nil, rs); !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
	parsed, err := Parse(want, MaxNetworkRules)
	if err != nil || len(parsed) != 5 {
		t.Fatalf("parse: %v %d", err, len(parsed))
	}
	for i, r := range parsed {
		back, ok := FromJSON(roundTrip(t, ToJSON(r)))
		if !ok || back.T != r.T || !bytes.Equal(back.Value, r.Value) {
			t.Fatalf("rule %d JSON round trip: %+v -> %+v", i, r, back)
		}
	}
}

func roundTrip(t *testing.T, m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJSONAllTypes(t *testing.T) {
	objs := []string{
		`{"type":"ACTION_TEE","address":"0123456789","flags":1,"length":64}`,
		`{"type":"ACTION_REDIRECT","address":"0123456789","flags":0}`,
		`{"type":"MATCH_SOURCE_ZEROTIER_ADDRESS","zt":"0123456789","not":true}`,
		`{"type":"MATCH_MAC_DEST","mac":"aa:bb:cc:dd:ee:ff","or":true}`,
		`{"type":"MATCH_IPV4_SOURCE","ip":"10.0.0.0/8"}`,
		`{"type":"MATCH_IPV6_DEST","ip":"fd00::/8"}`,
		`{"type":"MATCH_IP_TOS","mask":252,"start":0,"end":10}`,
		`{"type":"MATCH_ICMP","icmpType":8,"icmpCode":null}`,
		`{"type":"MATCH_ICMP","icmpType":8,"icmpCode":0}`,
		`{"type":"MATCH_IP_DEST_PORT_RANGE","start":22,"end":22}`,
		`{"type":"MATCH_CHARACTERISTICS","mask":"0000000000000002"}`,
		`{"type":"MATCH_RANDOM","probability":4294967295}`,
		`{"type":"MATCH_TAGS_EQUAL","id":1,"value":2}`,
		`{"type":"MATCH_VLAN_ID","vlanId":5}`,
		`{"type":"ACTION_BREAK"}`,
	}
	for _, s := range objs {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		r, ok := FromJSON(m)
		if !ok {
			t.Fatalf("%s refused", s)
		}
		back, ok := FromJSON(roundTrip(t, ToJSON(r)))
		if !ok || back.T != r.T || !bytes.Equal(back.Value, r.Value) {
			t.Fatalf("%s: round trip %+v -> %+v", s, r, back)
		}
	}
	for _, s := range []string{`{"type":"INTEGER_RANGE"}`, `{"type":"NOPE"}`, `{"type":"MATCH_IPV4_SOURCE","ip":"fd00::/8"}`} {
		var m map[string]any
		_ = json.Unmarshal([]byte(s), &m)
		if _, ok := FromJSON(m); ok {
			t.Fatalf("%s accepted", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{0xa5, 2, 8, 0, 1, 0})
	f.Add([]byte{0x3f, 3, 1, 2, 3, 0x21, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := Parse(b, MaxNetworkRules)
		if err != nil {
			return
		}
		again, err := Parse(Append(nil, rs), MaxNetworkRules)
		if err != nil || len(again) != len(rs) {
			t.Fatalf("re-parse: %v", err)
		}
		for _, r := range rs {
			ToJSON(r)
		}
	})
}
