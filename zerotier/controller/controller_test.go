package controller

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/dictionary"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/netconf"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/rules"
)

type sent struct {
	to      address.Address
	verb    packet.Verb
	inRe    packet.Verb
	code    packet.ErrorCode
	payload []byte
}

type fakeSender struct {
	mu  sync.Mutex
	out []sent
}

func (f *fakeSender) Send(d address.Address, v packet.Verb, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out = append(f.out, sent{to: d, verb: v, payload: p})
	return nil
}
func (f *fakeSender) SendOK(d address.Address, v packet.Verb, id uint64, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out = append(f.out, sent{to: d, verb: packet.VerbOK, inRe: v, payload: p})
	return nil
}
func (f *fakeSender) SendError(d address.Address, v packet.Verb, id uint64, c packet.ErrorCode, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out = append(f.out, sent{to: d, verb: packet.VerbError, inRe: v, code: c, payload: p})
	return nil
}
func (f *fakeSender) take() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.out
	f.out = nil
	return o
}

func testIdentities(t *testing.T) []*identity.Identity {
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
	var out []*identity.Identity
	for _, e := range f.Identities {
		id, err := identity.Parse(e.Secret)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(t *testing.T) (*Controller, *fakeSender, *clock, []*identity.Identity, string) {
	ids := testIdentities(t)
	home := t.TempDir()
	fs := &fakeSender{}
	c, err := New(home, ids[0], fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ck := &clock{time.UnixMilli(1_700_000_000_000)}
	c.now = ck.now
	return c, fs, ck, ids, home
}

func meta() *dictionary.Dict { return netconf.RequestMetadata("linux/x86_64") }

// configOf reassembles and verifies the config in OK chunks.
func configOf(t *testing.T, msgs []sent, ctl *identity.Identity) *netconf.Config {
	t.Helper()
	var a netconf.Assembler
	for _, m := range msgs {
		if m.verb != packet.VerbOK && m.verb != packet.VerbNetworkConfig {
			continue
		}
		ch, err := netconf.ParseChunk(m.payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Verify(ctl); err != nil {
			t.Fatal(err)
		}
		if whole, ok := a.Add(ch); ok {
			c, err := netconf.Parse(whole)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	t.Fatalf("no complete config in %d messages", len(msgs))
	return nil
}

func TestRequestFlow(t *testing.T) {
	c, fs, ck, ids, home := newTest(t)
	ctl, m1, m2 := ids[0], ids[1], ids[2]
	nwid := uint64(ctl.Address)<<24 | 0x123456
	c.HandleRequest(m1.PublicOnly(), 1, nwid, meta())
	if s := fs.take(); len(s) != 1 || s[0].verb != packet.VerbError || s[0].code != packet.ErrorObjNotFound {
		t.Fatalf("missing network: %+v", s)
	}
	// A request for someone else's network is ignored silently.
	c.HandleRequest(m1.PublicOnly(), 1, uint64(m2.Address)<<24|1, meta())
	if s := fs.take(); len(s) != 0 {
		t.Fatalf("foreign network answered: %+v", s)
	}
	rec, err := c.UpdateNetwork(nwid, []byte(`{"name":"n","v4AssignMode":{"zt":true},"v6AssignMode":{"6plane":true},
		"ipAssignmentPools":[{"ipRangeStart":"10.0.0.1","ipRangeEnd":"10.0.0.255"}],
		"routes":[{"target":"10.0.0.0/24","via":null},{"target":"bogus"}],"dns":{"domain":"zt","servers":["10.0.0.53"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Revision != 1 || !rec.Private || rec.MulticastLimit != 32 || rec.MTU != 2800 || len(rec.Routes) != 1 || len(rec.Rules) != 1 {
		t.Fatalf("record %+v", rec)
	}
	b, err := os.ReadFile(filepath.Join(home, "controller.d", "network", fmt.Sprintf("%016x.json", nwid)))
	if err != nil || strings.Contains(string(b), "\n") || !strings.Contains(string(b), `"name":"n"`) {
		t.Fatalf("network file: %v %s", err, b)
	}
	if r2, _ := c.UpdateNetwork(nwid, []byte(`{"name":"n"}`)); r2.Revision != 1 {
		t.Fatal("unchanged record bumped its revision")
	}

	ck.t = ck.t.Add(2 * time.Second)
	c.HandleRequest(m1.PublicOnly(), 2, nwid, meta())
	if s := fs.take(); len(s) != 1 || s[0].code != packet.ErrorNetworkAccessDenied {
		t.Fatalf("unauthorized: %+v", s)
	}
	mr, err := c.Member(nwid, m1.Address)
	if err != nil || mr.Authorized || mr.Identity != m1.PublicOnly().String() {
		t.Fatalf("member record %+v %v", mr, err)
	}
	if _, err := c.UpdateMember(nwid, m1.Address, []byte(`{"authorized":true,"ipAssignments":["192.168.1.1"]}`)); err != nil {
		t.Fatal(err)
	}
	c.HandleRequest(m1.PublicOnly(), 3, nwid, meta()) // within 1 s of the last: ignored
	if s := fs.take(); len(s) != 0 {
		t.Fatalf("rate limit: %+v", s)
	}
	ck.t = ck.t.Add(2 * time.Second)
	c.HandleRequest(m1.PublicOnly(), 4, nwid, meta())
	conf := configOf(t, fs.take(), ctl)
	if conf.IssuedTo != m1.Address || conf.NetworkID != nwid || conf.Name != "n" || conf.MulticastLimit != 32 || !conf.Broadcast() ||
		conf.Flags&netconf.FlagEnableNDPEmulation == 0 || conf.DNS.Domain != "zt" || len(conf.DNS.Servers) != 1 {
		t.Fatalf("config %+v", conf)
	}
	if !conf.COM.AgreesWith(conf.COM, m1) || conf.COM.Verify(ctl) != nil {
		t.Fatal("COM")
	}
	// 6PLANE first, then the pool address (the 192.168.1.1 assignment is
	// outside every route and not sent).
	start := uint32(10<<24 | 1)
	want := start + uint32(uint64(m1.Address))%254
	if want&0xff == 0xff {
		want++
	}
	wantIP := netip.AddrFrom4([4]byte{byte(want >> 24), byte(want >> 16), byte(want >> 8), byte(want)})
	if len(conf.StaticIPs) != 2 || conf.StaticIPs[0] != netconf.SixPlane(nwid, m1.Address) || conf.StaticIPs[1] != netip.PrefixFrom(wantIP, 24) {
		t.Fatalf("IPs %v, want 6PLANE and %s", conf.StaticIPs, wantIP)
	}
	if len(conf.COOs) != 1 || !conf.COOs[0].Owns(credential.IPThing(wantIP)) {
		t.Fatal("COO")
	}
	mr, _ = c.Member(nwid, m1.Address)
	if len(mr.IPAssignments) != 2 || mr.IPAssignments[1] != wantIP.String() || mr.VMinor != 14 || mr.LastAuthorizedCredentialType == nil || *mr.LastAuthorizedCredentialType != "api" {
		t.Fatalf("member after config %+v", mr)
	}
	// Members that do not speak rules revision 1 get a single ACCEPT.
	old := dictionary.Parse([]byte("v=0000000000000007"))
	ck.t = ck.t.Add(2 * time.Second)
	c.HandleRequest(m1.PublicOnly(), 5, nwid, old)
	if conf := configOf(t, fs.take(), ctl); len(conf.Rules) != 1 || conf.Rules[0].T != rules.ActionAccept {
		t.Fatalf("rules %+v", conf.Rules)
	}
	// A network change is pushed to the online member as NETWORK_CONFIG.
	if _, err := c.UpdateNetwork(nwid, []byte(`{"mtu":1500}`)); err != nil {
		t.Fatal(err)
	}
	s := fs.take()
	if conf := configOf(t, s, ctl); conf.MTU != 1500 || s[0].verb != packet.VerbNetworkConfig {
		t.Fatalf("push %+v", s)
	}
	// An impostor with m1's address is refused.
	ck.t = ck.t.Add(2 * time.Second)
	impostor := identity.New(m1.Address, m2.Public, nil)
	c.HandleRequest(impostor, 6, nwid, meta())
	if s := fs.take(); len(s) != 1 || s[0].code != packet.ErrorNetworkAccessDenied {
		t.Fatalf("impostor: %+v", s)
	}
	// Deauthorizing sends a COM revocation to online members.
	if _, err := c.UpdateMember(nwid, m1.Address, []byte(`{"authorized":false}`)); err != nil {
		t.Fatal(err)
	}
	s = fs.take()
	if len(s) != 1 || s[0].verb != packet.VerbNetworkCredentials {
		t.Fatalf("revocation: %+v", s)
	}
	bu, err := credential.ParseBundle(s[0].payload)
	if err != nil || len(bu.Revocations) != 1 || bu.Revocations[0].Target != m1.Address || bu.Revocations[0].Verify(ctl) != nil {
		t.Fatalf("revocation bundle %+v %v", bu, err)
	}
	if !c.RecentlyConfigured(nwid, m1.Address) || c.RecentlyConfigured(nwid, m2.Address) {
		t.Fatal("RecentlyConfigured")
	}
	// Reload from disk.
	c2, err := New(home, ctl, fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ids := c2.NetworkIDs(); len(ids) != 1 {
		t.Fatalf("reloaded %v", ids)
	}
	if m, err := c2.Member(nwid, m1.Address); err != nil || m.Authorized {
		t.Fatalf("reloaded member %+v %v", m, err)
	}
}

func TestAPI(t *testing.T) {
	c, _, _, ids, _ := newTest(t)
	srv := httptest.NewServer(c.Handler())
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
	if code, v := do("GET", "/controller", ""); code != 200 || v.(map[string]any)["apiVersion"].(float64) != 4 {
		t.Fatal(code, v)
	}
	if code, _ := do("POST", "/controller/network/0000000001______", "{}"); code != 400 {
		t.Fatalf("foreign prefix: %d", code)
	}
	code, v := do("POST", "/controller/network/"+ids[0].Address.String()+"______", `{"name":"x","private":false}`)
	nw, _ := v.(map[string]any)
	if code != 200 || nw["name"] != "x" || nw["private"] != false || !strings.HasPrefix(nw["id"].(string), ids[0].Address.String()) {
		t.Fatal(code, v)
	}
	id := nw["id"].(string)
	if code, v := do("GET", "/controller/network", ""); code != 200 || len(v.([]any)) != 1 {
		t.Fatal(code, v)
	}
	if code, v := do("POST", "/controller/network/"+id+"/member/"+ids[1].Address.String(), `{"authorized":true,"name":"m"}`); code != 200 || v.(map[string]any)["authorized"] != true {
		t.Fatal(code, v)
	}
	if code, v := do("GET", "/controller/network/"+id+"/member", ""); code != 200 || v.(map[string]any)[ids[1].Address.String()] == nil {
		t.Fatal(code, v)
	}
	if code, v := do("GET", "/unstable/controller/network", ""); code != 200 || v.(map[string]any)["meta"].(map[string]any)["networkCount"].(float64) != 1 {
		t.Fatal(code, v)
	}
	if code, _ := do("POST", "/controller/network/"+id+"/member/"+ids[1].Address.String(), `{"authorized":"nope"}`); code != 400 {
		t.Fatalf("bad type: %d", code)
	}
	if code, _ := do("DELETE", "/controller/network/"+id+"/member/"+ids[2].Address.String(), ""); code != 404 {
		t.Fatal(code)
	}
	if code, _ := do("DELETE", "/controller/network/"+id, ""); code != 200 {
		t.Fatal(code)
	}
	if code, _ := do("GET", "/controller/network/"+id, ""); code != 404 {
		t.Fatal(code)
	}
	if code, _ := do("POST", "/controller/network/"+id+"/member/"+ids[1].Address.String(), `{}`); code != 404 {
		t.Fatalf("member of a deleted network: %d", code)
	}
}
