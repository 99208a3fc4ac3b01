package service_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ztnc/zerotier/node"
	"ztnc/zerotier/service"
	"ztnc/zerotier/servicetest"
)

func TestParseLocalConf(t *testing.T) {
	c, err := service.ParseLocalConf([]byte(`{
	 "physical": {
	  "10.0.0.0/24": {"trustedPathId": 101, "mtu": 9000},
	  "fd00::/8": {"trustedPathId": "18446744073709551615"},
	  "192.168.0.0/16": {"blacklist": true},
	  "172.16.0.0/12": "not an object"
	 },
	 "settings": {"primaryPort": 9993}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(c.Physical, func(a, b node.PhysicalPath) int { return strings.Compare(a.Network.String(), b.Network.String()) })
	want := []node.PhysicalPath{
		{Network: netip.MustParsePrefix("10.0.0.0/24"), TrustedPathID: 101, MTU: 9000},
		{Network: netip.MustParsePrefix("192.168.0.0/16")},
		{Network: netip.MustParsePrefix("fd00::/8"), TrustedPathID: 1<<64 - 1},
	}
	if !slices.Equal(c.Physical, want) {
		t.Fatalf("got %+v\nwant %+v", c.Physical, want)
	}
	for _, bad := range []string{
		`[1]`, `{"physical":{"10.0.0.1":{"trustedPathId":1}}}`, `{"physical":{"10.0.0.0/33":{}}}`,
		`{"physical":{"10.0.0.0/8":{"trustedPathId":-1}}}`, `{"physical":{"10.0.0.0/8":{"mtu":"x"}}}`, `{`,
	} {
		if _, err := service.ParseLocalConf([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if c, err := service.ParseLocalConf([]byte(" \n")); err != nil || len(c.Physical) != 0 {
		t.Fatalf("empty local.conf: %v %v", c, err)
	}
}

// TestStartRejectsBadLocalConf: like ZeroTier One, the service does not
// start with a local.conf it cannot parse.
func TestStartRejectsBadLocalConf(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	home := t.TempDir()
	if err := ids[1].WriteFiles(home); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, service.LocalConfFile), []byte(`{"physical":{"10.0.0.0/8":{"trustedPathId":"x"}}}`), 0o644)
	if s, err := service.Start(servicetest.Options(home, 0, "")); err == nil {
		s.Close()
		t.Fatal("started with a bad local.conf")
	} else if !strings.Contains(err.Error(), "local.conf") {
		t.Fatalf("error does not name local.conf: %v", err)
	}
}

func FuzzParseLocalConf(f *testing.F) {
	f.Add([]byte(`{"physical":{"10.0.0.0/24":{"trustedPathId":101,"mtu":9000}}}`))
	f.Add([]byte(`{"physical":{"fd00::/8":{"trustedPathId":"1"}},"settings":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := service.ParseLocalConf(b)
		if err != nil {
			return
		}
		for _, pp := range c.Physical {
			if !pp.Network.IsValid() || pp.MTU < 0 {
				t.Fatalf("accepted %+v", pp)
			}
		}
	})
}
