package controller

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"ztnc/zerotier/rules"
)

// NetworkRecord is controller.d/network/<nwid>.json with the embedded
// controller's field names and defaults (DB::initNetwork).
type NetworkRecord struct {
	ID                           string           `json:"id"`
	NWID                         string           `json:"nwid"`
	Objtype                      string           `json:"objtype"`
	Revision                     uint64           `json:"revision"`
	CreationTime                 int64            `json:"creationTime"`
	Name                         string           `json:"name"`
	Private                      bool             `json:"private"`
	EnableBroadcast              bool             `json:"enableBroadcast"`
	MulticastLimit               int              `json:"multicastLimit"`
	MTU                          int              `json:"mtu"`
	V4AssignMode                 V4AssignMode     `json:"v4AssignMode"`
	V6AssignMode                 V6AssignMode     `json:"v6AssignMode"`
	Routes                       []RouteJSON      `json:"routes"`
	IPAssignmentPools            []PoolJSON       `json:"ipAssignmentPools"`
	Rules                        []map[string]any `json:"rules"`
	Capabilities                 []CapabilityJSON `json:"capabilities"`
	Tags                         []TagJSON        `json:"tags"`
	AuthTokens                   any              `json:"authTokens"`
	DNS                          any              `json:"dns"`
	RemoteTraceTarget            *string          `json:"remoteTraceTarget"`
	RemoteTraceLevel             int              `json:"remoteTraceLevel"`
	RulesSource                  string           `json:"rulesSource"`
	SSOEnabled                   bool             `json:"ssoEnabled"`
	ClientID                     string           `json:"clientId"`
	AuthorizationEndpoint        string           `json:"authorizationEndpoint"`
	CertificateTimeoutWindowSize *int64           `json:"certificateTimeoutWindowSize,omitempty"`
}

// V4AssignMode is {"zt": bool}.
type V4AssignMode struct {
	ZT bool `json:"zt"`
}

// V6AssignMode is {"rfc4193","zt","6plane": bool}.
type V6AssignMode struct {
	RFC4193  bool `json:"rfc4193"`
	ZT       bool `json:"zt"`
	SixPlane bool `json:"6plane"`
}

// RouteJSON is a managed route; Via is null when none.
type RouteJSON struct {
	Target string  `json:"target"`
	Via    *string `json:"via"`
}

// PoolJSON is an IP assignment range.
type PoolJSON struct {
	IPRangeStart string `json:"ipRangeStart"`
	IPRangeEnd   string `json:"ipRangeEnd"`
}

// CapabilityJSON is a network capability definition.
type CapabilityJSON struct {
	ID      uint32           `json:"id"`
	Default bool             `json:"default"`
	Rules   []map[string]any `json:"rules"`
}

// TagJSON is a network tag definition (Default nil: no default).
type TagJSON struct {
	ID      uint32  `json:"id"`
	Default *uint32 `json:"default"`
}

// MemberRecord is controller.d/network/<nwid>/member/<address>.json.
type MemberRecord struct {
	ID                           string     `json:"id"`
	Address                      string     `json:"address"`
	NWID                         string     `json:"nwid"`
	Objtype                      string     `json:"objtype"`
	Identity                     string     `json:"identity,omitempty"`
	Authorized                   bool       `json:"authorized"`
	ActiveBridge                 bool       `json:"activeBridge"`
	NoAutoAssignIPs              bool       `json:"noAutoAssignIps"`
	IPAssignments                []string   `json:"ipAssignments"`
	Tags                         [][]uint32 `json:"tags"`
	Capabilities                 []uint32   `json:"capabilities"`
	Name                         *string    `json:"name,omitempty"`
	RemoteTraceTarget            *string    `json:"remoteTraceTarget"`
	RemoteTraceLevel             int        `json:"remoteTraceLevel"`
	AuthenticationExpiryTime     int64      `json:"authenticationExpiryTime"`
	SSOExempt                    bool       `json:"ssoExempt"`
	CreationTime                 int64      `json:"creationTime"`
	Revision                     uint64     `json:"revision"`
	LastAuthorizedTime           int64      `json:"lastAuthorizedTime"`
	LastDeauthorizedTime         int64      `json:"lastDeauthorizedTime"`
	LastAuthorizedCredentialType *string    `json:"lastAuthorizedCredentialType"`
	LastAuthorizedCredential     *string    `json:"lastAuthorizedCredential"`
	VMajor                       int        `json:"vMajor"`
	VMinor                       int        `json:"vMinor"`
	VRev                         int        `json:"vRev"`
	VProto                       int        `json:"vProto"`
}

func newNetworkRecord(nwid uint64, now int64) *NetworkRecord {
	id := fmt.Sprintf("%016x", nwid)
	return &NetworkRecord{
		ID: id, NWID: id, Objtype: "network", CreationTime: now, Private: true, EnableBroadcast: true,
		MulticastLimit: 32, MTU: 2800, Routes: []RouteJSON{}, IPAssignmentPools: []PoolJSON{},
		Rules:        []map[string]any{{"not": false, "or": false, "type": "ACTION_ACCEPT"}},
		Capabilities: []CapabilityJSON{}, Tags: []TagJSON{}, AuthTokens: []any{map[string]any{}}, DNS: []any{},
	}
}

func newMemberRecord(nwid uint64, addr string, now int64) *MemberRecord {
	return &MemberRecord{
		ID: addr, Address: addr, NWID: fmt.Sprintf("%016x", nwid), Objtype: "member", IPAssignments: []string{},
		Tags: [][]uint32{}, Capabilities: []uint32{}, CreationTime: now, VMajor: -1, VMinor: -1, VRev: -1, VProto: -1,
	}
}

// networkSettable lists the keys a POST may change.
var networkSettable = map[string]bool{
	"name": true, "private": true, "enableBroadcast": true, "multicastLimit": true, "mtu": true,
	"v4AssignMode": true, "v6AssignMode": true, "routes": true, "ipAssignmentPools": true, "rules": true,
	"capabilities": true, "tags": true, "authTokens": true, "dns": true, "remoteTraceTarget": true,
	"remoteTraceLevel": true,
}

var memberSettable = map[string]bool{
	"authorized": true, "activeBridge": true, "noAutoAssignIps": true, "ipAssignments": true, "tags": true,
	"capabilities": true, "name": true, "remoteTraceTarget": true, "remoteTraceLevel": true,
	"authenticationExpiryTime": true,
}

// applyJSON decodes the settable keys of body onto rec.
func applyJSON(rec any, body []byte, settable map[string]bool) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	for k := range m {
		if !settable[k] {
			delete(m, k)
		}
	}
	// Accept the string forms of the assign modes ("zt", "rfc4193,6plane").
	for _, k := range []string{"v4AssignMode", "v6AssignMode"} {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil {
			o := map[string]bool{}
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					o[p] = true
				}
			}
			m[k], _ = json.Marshal(o)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, rec); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// normalize drops entries the reference drops and clamps numbers.
func (n *NetworkRecord) normalize() {
	n.MTU = min(max(n.MTU, 1280), 10000)
	if n.MulticastLimit < 0 {
		n.MulticastLimit = 0
	}
	var rs []RouteJSON
	for _, r := range n.Routes {
		t, err := netip.ParsePrefix(r.Target)
		if err != nil {
			continue
		}
		r.Target = t.Masked().String()
		if r.Via != nil {
			if v, err := netip.ParseAddr(*r.Via); err != nil || v.Is4() != t.Addr().Is4() {
				r.Via = nil
			}
		}
		rs = append(rs, r)
	}
	n.Routes = append([]RouteJSON{}, rs...)
	var ps []PoolJSON
	for _, p := range n.IPAssignmentPools {
		a, err1 := netip.ParseAddr(p.IPRangeStart)
		b, err2 := netip.ParseAddr(p.IPRangeEnd)
		if err1 == nil && err2 == nil && a.Is4() == b.Is4() {
			ps = append(ps, p)
		}
	}
	n.IPAssignmentPools = append([]PoolJSON{}, ps...)
	var rl []map[string]any
	for _, r := range n.Rules {
		if _, ok := rules.FromJSON(r); ok {
			rl = append(rl, r)
		}
	}
	n.Rules = append([]map[string]any{}, rl...)
	if n.Capabilities == nil {
		n.Capabilities = []CapabilityJSON{}
	}
	if n.Tags == nil {
		n.Tags = []TagJSON{}
	}
}

func (m *MemberRecord) normalize() {
	if m.IPAssignments == nil {
		m.IPAssignments = []string{}
	}
	var ips []string
	for _, s := range m.IPAssignments {
		if a, err := netip.ParseAddr(s); err == nil {
			ips = append(ips, a.String())
		}
	}
	m.IPAssignments = append([]string{}, ips...)
	if m.Tags == nil {
		m.Tags = [][]uint32{}
	}
	if m.Capabilities == nil {
		m.Capabilities = []uint32{}
	}
}
