package netapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ztnc/zerotier/address"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/vl2"
)

type fakeNode struct{ me *identity.Identity }

func (f *fakeNode) Identity() *identity.Identity                    { return f.me }
func (f *fakeNode) Send(address.Address, packet.Verb, []byte) error { return nil }
func (f *fakeNode) IdentityOf(address.Address) *identity.Identity   { return nil }
func (f *fakeNode) UpstreamAddresses() []address.Address            { return nil }
func (f *fakeNode) AmRoot() bool                                    { return false }

func TestHandler(t *testing.T) {
	b, err := os.ReadFile("testdata/identities.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Identities []struct{ Secret string } `json:"identities"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	me, err := identity.Parse(f.Identities[1].Secret)
	if err != nil {
		t.Fatal(err)
	}
	l := vl2.New(vl2.Options{})
	l.Attach(&fakeNode{me})
	dir := filepath.Join(t.TempDir(), "networks.d")
	h := &Handler{Layer: l, Store: &Store{Dir: dir}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, path, body string) (int, any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	nwid := "8056c2e21c000001"
	code, v := do("POST", "/network/"+nwid, `{"allowDNS":true}`)
	n, _ := v.(map[string]any)
	if code != 200 || n["id"] != nwid || n["nwid"] != nwid || n["status"] != "REQUESTING_CONFIGURATION" || n["type"] != "PRIVATE" ||
		n["mac"] != netconf.MAC(me.Address, 0x8056c2e21c000001).String() || n["allowDNS"] != true || n["allowManaged"] != true {
		t.Fatalf("join: %d %v", code, v)
	}
	for _, k := range []string{"name", "mtu", "dhcp", "bridge", "broadcastEnabled", "portError", "netconfRevision", "portDeviceName",
		"allowGlobal", "allowDefault", "assignedAddresses", "routes", "multicastSubscriptions", "dns"} {
		if _, ok := n[k]; !ok {
			t.Errorf("network object lacks %q", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, nwid+".conf")); err != nil {
		t.Fatal(err)
	}
	if j, err := h.Store.Joined(); err != nil || len(j) != 1 {
		t.Fatalf("joined %v %v", j, err)
	}
	if code, v := do("GET", "/network", ""); code != 200 || len(v.([]any)) != 1 {
		t.Fatal(code, v)
	}
	if code, _ := do("GET", "/network/0000000000000001", ""); code != 404 {
		t.Fatal(code)
	}
	if code, _ := do("GET", "/network/zz", ""); code != 404 {
		t.Fatal(code)
	}
	if code, v := do("DELETE", "/network/"+nwid, ""); code != 200 || v.(map[string]any)["result"] != true {
		t.Fatal(code, v)
	}
	if code, v := do("DELETE", "/network/"+nwid, ""); code != 200 || len(v.(map[string]any)) != 0 {
		t.Fatal(code, v)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("networks.d after leave: %v", ents)
	}
}
