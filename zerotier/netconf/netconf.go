// Package netconf is the VL2 network configuration (node/NetworkConfig.*):
// the config model with every key a 1.14 controller writes, its Dictionary
// form, the config-request metadata, signed config chunks and their
// reassembly, and the address derivations members use (MAC, RFC4193,
// 6PLANE, multicast groups). VL2.md sections 1–4.
package netconf

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/dictionary"
	"ztnc/zerotier/inetaddr"
	"ztnc/zerotier/internal/wire"
	"ztnc/zerotier/rules"
)

// ErrMalformed is wrapped by config decoding errors.
var ErrMalformed = errors.New("malformed network config")

// Version is the config format 1.14 writes; members reject < 6.
const (
	Version    = 7
	MinVersion = 6
)

// Config flags (f).
const (
	FlagEnableBroadcast       = 0x02
	FlagEnableNDPEmulation    = 0x04
	FlagRulesResultUnsupMatch = 0x08
	FlagDisableCompression    = 0x10
)

// Network types (t).
const (
	TypePrivate = 0
	TypePublic  = 1
)

// MTU bounds and limits (node/Constants.hpp).
const (
	DefaultMTU       = 2800
	MinMTU           = 1280
	MaxMTU           = 10000
	MaxStaticIPs     = 32
	MaxRoutes        = 128
	MaxSpecialists   = 256
	MaxCOOs          = 4
	MaxCapabilities  = 128
	MaxTags          = 128
	MaxNameLength    = 127
	DNSDomainSize    = 128
	DNSMaxServers    = 4
	DictCapacity     = 484520 // helper's estimate of ZT_NETWORKCONFIG_DICT_CAPACITY (VL2.md 11)
	MetadataCapacity = 1024
)

// Specialist role bits (upper bits of an S entry).
const (
	SpecialistActiveBridge = 0x0000020000000000
	SpecialistAnchor       = 0x0000040000000000
	SpecialistReplicator   = 0x0000080000000000
)

// Route is one managed route.
type Route struct {
	Target netip.Prefix
	Via    netip.Addr // invalid when none
	Flags  uint16
	Metric uint16
}

// DNS is the network's DNS settings.
type DNS struct {
	Domain  string
	Servers []netip.Addr
}

// Config is a network configuration as issued to one member.
type Config struct {
	Version        uint64
	NetworkID      uint64
	Timestamp      int64
	MaxDelta       int64 // ctmd, ms
	Revision       uint64
	IssuedTo       address.Address
	TraceTarget    address.Address
	TraceLevel     uint64
	Flags          uint64
	MulticastLimit uint64
	Type           uint64
	Name           string
	MTU            uint64
	COM            *credential.COM
	Capabilities   []*credential.Capability
	Tags           []*credential.Tag
	COOs           []*credential.COO
	Specialists    []uint64
	Routes         []Route
	StaticIPs      []netip.Prefix
	Rules          []rules.Rule
	DNS            DNS

	SSOVersion  uint64
	SSOEnabled  bool
	AuthURL     string
	AuthExpiry  uint64
	IssuerURL   string
	CentralURL  string
	SSONonce    string
	SSOState    string
	SSOClientID string
	SSOProvider string
}

// IsPrivate reports whether members need a COM.
func (c *Config) IsPrivate() bool { return c.Type == TypePrivate }

// Broadcast reports flag 0x02.
func (c *Config) Broadcast() bool { return c.Flags&FlagEnableBroadcast != 0 }

// Anchors lists specialists with the anchor or multicast-replicator role
// (they get LIKEs and GATHERs like the controller and roots).
func (c *Config) Anchors() []address.Address {
	var out []address.Address
	for _, s := range c.Specialists {
		if s&(SpecialistAnchor|SpecialistReplicator) != 0 {
			out = append(out, address.Address(s&0xffffffffff))
		}
	}
	return out
}

// ActiveBridges lists specialists with the active-bridge role.
func (c *Config) ActiveBridges() []address.Address {
	var out []address.Address
	for _, s := range c.Specialists {
		if s&SpecialistActiveBridge != 0 {
			out = append(out, address.Address(s&0xffffffffff))
		}
	}
	return out
}

// Dict renders the config in the key order of NetworkConfig::toDictionary.
func (c *Config) Dict() *dictionary.Dict {
	d := &dictionary.Dict{}
	v := c.Version
	if v == 0 {
		v = Version
	}
	d.SetUint("v", v)
	d.SetUint("nwid", c.NetworkID)
	d.SetInt("ts", c.Timestamp)
	d.SetInt("ctmd", c.MaxDelta)
	d.SetUint("r", c.Revision)
	d.SetAddress("id", uint64(c.IssuedTo))
	d.SetAddress("tt", uint64(c.TraceTarget))
	d.SetUint("tl", c.TraceLevel)
	d.SetUint("f", c.Flags)
	d.SetUint("ml", c.MulticastLimit)
	d.SetUint("t", c.Type)
	d.SetString("n", c.Name)
	d.SetUint("mtu", c.MTU)
	if c.COM != nil {
		d.Set("C", c.COM.Append(nil))
	}
	if len(c.Capabilities) > 0 {
		var b []byte
		for _, x := range c.Capabilities {
			b = x.Append(b)
		}
		d.Set("CAP", b)
	}
	if len(c.Tags) > 0 {
		var b []byte
		for _, x := range c.Tags {
			b = x.Append(b)
		}
		d.Set("TAG", b)
	}
	if len(c.COOs) > 0 {
		var b []byte
		for _, x := range c.COOs {
			b = x.Append(b)
		}
		d.Set("COO", b)
	}
	if len(c.Specialists) > 0 {
		var b []byte
		for _, s := range c.Specialists {
			b = wire.AppendU64(b, s)
		}
		d.Set("S", b)
	}
	if len(c.Routes) > 0 {
		d.Set("RT", AppendRoutes(nil, c.Routes))
	}
	if len(c.StaticIPs) > 0 {
		var b []byte
		for _, p := range c.StaticIPs {
			b = inetaddr.Append(b, netip.AddrPortFrom(p.Addr(), uint16(p.Bits())))
		}
		d.Set("I", b)
	}
	if len(c.Rules) > 0 {
		d.Set("R", rules.Append(nil, c.Rules))
	}
	d.Set("DNS", c.DNS.Append(nil))
	d.SetUint("ssov", c.SSOVersion)
	d.SetBool("ssoe", c.SSOEnabled)
	if c.SSOEnabled {
		if c.SSOVersion == 0 {
			if c.AuthURL != "" {
				d.SetString("aurl", c.AuthURL)
			}
			d.SetUint("aexpt", c.AuthExpiry)
		} else {
			d.SetString("iurl", c.IssuerURL)
			d.SetString("ssoce", c.CentralURL)
			d.SetString("sson", c.SSONonce)
			d.SetString("ssos", c.SSOState)
			d.SetString("ssocid", c.SSOClientID)
			d.SetString("ssop", c.SSOProvider)
		}
	}
	return d
}

// Bytes is the serialized dictionary (no trailing NUL).
func (c *Config) Bytes() []byte { return c.Dict().Bytes() }

// AppendRoutes serializes RT entries.
func AppendRoutes(b []byte, rs []Route) []byte {
	for _, r := range rs {
		b = inetaddr.Append(b, netip.AddrPortFrom(r.Target.Addr(), uint16(r.Target.Bits())))
		if r.Via.IsValid() {
			b = inetaddr.Append(b, netip.AddrPortFrom(r.Via, 0))
		} else {
			b = append(b, 0)
		}
		b = wire.AppendU16(b, r.Flags)
		b = wire.AppendU16(b, r.Metric)
	}
	return b
}

// Append serializes the DNS blob: 128-byte domain, then 4 addresses.
func (d DNS) Append(b []byte) []byte {
	dom := make([]byte, DNSDomainSize)
	copy(dom[:DNSDomainSize-1], d.Domain)
	b = append(b, dom...)
	for i := 0; i < DNSMaxServers; i++ {
		if i < len(d.Servers) && d.Servers[i].IsValid() {
			b = inetaddr.Append(b, netip.AddrPortFrom(d.Servers[i], 53))
		} else {
			b = append(b, 0)
		}
	}
	return b
}

func parseDNS(b []byte) (DNS, error) {
	var d DNS
	if len(b) < DNSDomainSize {
		return d, fmt.Errorf("%w: DNS blob of %d bytes", ErrMalformed, len(b))
	}
	dom := b[:DNSDomainSize-1] // the last byte is forced to 0 on read
	for i, c := range dom {
		if c == 0 {
			dom = dom[:i]
			break
		}
	}
	d.Domain = string(dom)
	b = b[DNSDomainSize:]
	for i := 0; i < DNSMaxServers && len(b) > 0; i++ {
		ap, n, err := inetaddr.Decode(b)
		if err != nil {
			return d, fmt.Errorf("%w: DNS server %d: %v", ErrMalformed, i, err)
		}
		if ap.Addr().IsValid() {
			d.Servers = append(d.Servers, ap.Addr())
		}
		b = b[n:]
	}
	return d, nil
}

// Parse reads a serialized config dictionary (NetworkConfig::fromDictionary).
func Parse(b []byte) (*Config, error) {
	if len(b) > DictCapacity {
		return nil, fmt.Errorf("%w: %d bytes exceed %d", ErrMalformed, len(b), DictCapacity)
	}
	return FromDict(dictionary.Parse(b))
}

// FromDict decodes a parsed dictionary.
func FromDict(d *dictionary.Dict) (*Config, error) {
	c := &Config{
		Version:        d.Uint("v", 0),
		NetworkID:      d.Uint("nwid", 0),
		Timestamp:      d.Int("ts", 0),
		MaxDelta:       d.Int("ctmd", 0),
		Revision:       d.Uint("r", 0),
		IssuedTo:       address.Address(d.Uint("id", 0) & 0xffffffffff),
		TraceTarget:    address.Address(d.Uint("tt", 0) & 0xffffffffff),
		TraceLevel:     d.Uint("tl", 0),
		Flags:          d.Uint("f", 0),
		MulticastLimit: d.Uint("ml", 0),
		Type:           d.Uint("t", TypePrivate),
		Name:           d.String("n"),
		MTU:            d.Uint("mtu", DefaultMTU),
		SSOVersion:     d.Uint("ssov", 0),
		SSOEnabled:     d.Bool("ssoe", false),
		AuthURL:        d.String("aurl"),
		AuthExpiry:     d.Uint("aexpt", 0),
		IssuerURL:      d.String("iurl"),
		CentralURL:     d.String("ssoce"),
		SSONonce:       d.String("sson"),
		SSOState:       d.String("ssos"),
		SSOClientID:    d.String("ssocid"),
		SSOProvider:    d.String("ssop"),
	}
	switch {
	case c.Version < MinVersion:
		return nil, fmt.Errorf("%w: format version %d (legacy configs are not accepted)", ErrMalformed, c.Version)
	case c.NetworkID == 0:
		return nil, fmt.Errorf("%w: no network ID", ErrMalformed)
	case c.IssuedTo == 0:
		return nil, fmt.Errorf("%w: no issued-to address", ErrMalformed)
	}
	if len(c.Name) > MaxNameLength {
		c.Name = c.Name[:MaxNameLength]
	}
	c.MTU = min(max(c.MTU, MinMTU), MaxMTU)
	if v, ok := d.Get("C"); ok && len(v) > 0 {
		com, _, err := credential.ParseCOM(v)
		if err != nil {
			return nil, fmt.Errorf("network config key C: %w", err)
		}
		c.COM = com
	}
	// CAP, TAG, COO: a malformed entry silently ends the list (as 1.14).
	if v, ok := d.Get("CAP"); ok {
		for len(v) > 0 && len(c.Capabilities) < MaxCapabilities {
			x, n, err := credential.ParseCapability(v)
			if err != nil {
				break
			}
			c.Capabilities, v = append(c.Capabilities, x), v[n:]
		}
		sort.SliceStable(c.Capabilities, func(i, j int) bool { return c.Capabilities[i].ID < c.Capabilities[j].ID })
	}
	if v, ok := d.Get("TAG"); ok {
		for len(v) > 0 && len(c.Tags) < MaxTags {
			x, n, err := credential.ParseTag(v)
			if err != nil {
				break
			}
			c.Tags, v = append(c.Tags, x), v[n:]
		}
		sort.SliceStable(c.Tags, func(i, j int) bool { return c.Tags[i].ID < c.Tags[j].ID })
	}
	if v, ok := d.Get("COO"); ok {
		for len(v) > 0 {
			x, n, err := credential.ParseCOO(v)
			if err != nil {
				break
			}
			if len(c.COOs) < MaxCOOs {
				c.COOs = append(c.COOs, x)
			}
			v = v[n:]
		}
	}
	if v, ok := d.Get("S"); ok {
		for len(v) >= 8 && len(c.Specialists) < MaxSpecialists {
			c.Specialists = append(c.Specialists, wire.NewReader(v).U64("specialist"))
			v = v[8:]
		}
	}
	if v, ok := d.Get("RT"); ok {
		rs, err := ParseRoutes(v)
		if err != nil {
			return nil, err
		}
		c.Routes = rs
	}
	if v, ok := d.Get("I"); ok {
		for n := 0; len(v) > 0 && n < MaxStaticIPs; n++ {
			ap, k, err := inetaddr.Decode(v)
			if err != nil {
				return nil, fmt.Errorf("network config key I: %w", err)
			}
			v = v[k:]
			if p, ok := prefixOf(ap); ok {
				c.StaticIPs = append(c.StaticIPs, p)
			}
		}
	}
	if v, ok := d.Get("R"); ok {
		rs, err := rules.Parse(v, rules.MaxNetworkRules)
		if err != nil {
			return nil, fmt.Errorf("network config key R: %w", err)
		}
		c.Rules = rs
	}
	if v, ok := d.Get("DNS"); ok && len(v) > 0 {
		dns, err := parseDNS(v)
		if err != nil {
			return nil, err
		}
		c.DNS = dns
	}
	return c, nil
}

func prefixOf(ap netip.AddrPort) (netip.Prefix, bool) {
	a := ap.Addr()
	if !a.IsValid() || int(ap.Port()) > a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, int(ap.Port())), true
}

// ParseRoutes reads RT entries (up to 128).
func ParseRoutes(v []byte) ([]Route, error) {
	var out []Route
	for len(v) > 0 && len(out) < MaxRoutes {
		t, n, err := inetaddr.Decode(v)
		if err != nil {
			return nil, fmt.Errorf("network config key RT target: %w", err)
		}
		v = v[n:]
		via, n, err := inetaddr.Decode(v)
		if err != nil {
			return nil, fmt.Errorf("network config key RT via: %w", err)
		}
		v = v[n:]
		if len(v) < 4 {
			return nil, fmt.Errorf("%w: RT entry truncated", ErrMalformed)
		}
		r := Route{Flags: uint16(v[0])<<8 | uint16(v[1]), Metric: uint16(v[2])<<8 | uint16(v[3]), Via: via.Addr()}
		v = v[4:]
		if p, ok := prefixOf(t); ok {
			r.Target = p
			out = append(out, r)
		}
	}
	return out, nil
}

// Equal compares two configs by their serialized form (how the reference
// decides whether a received config changed anything).
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	return string(c.Bytes()) == string(o.Bytes())
}
