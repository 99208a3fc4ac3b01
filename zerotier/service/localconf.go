package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ztnc/zerotier/node"
)

// LocalConfFile is ZeroTier One's local settings file in HOME.
const LocalConfFile = "local.conf"

// maxLocalConf bounds what is read of local.conf.
const maxLocalConf = 1 << 20

// LocalConf is the part of local.conf this service uses: the "physical"
// object, network ("ip/bits") → {"trustedPathId": N, "mtu": N}
// (OneService::readLocalSettings). Other keys are ignored.
type LocalConf struct {
	Physical []node.PhysicalPath
}

// ReadLocalConf reads HOME/local.conf; a missing or empty file is no settings.
// Invalid JSON is an error, as it makes ZeroTier One exit.
func ReadLocalConf(home string) (*LocalConf, error) {
	b, err := os.ReadFile(filepath.Join(home, LocalConfFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &LocalConf{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("local.conf: %w", err)
	}
	c, err := ParseLocalConf(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(home, LocalConfFile), err)
	}
	return c, nil
}

// ParseLocalConf parses local.conf. Values are read as OSUtils::jsonInt
// does (a number, a decimal string, or a boolean as 0/1); an entry with
// neither a trusted path ID nor an MTU configures nothing. Unlike ZeroTier
// One, a key that is not "ip/bits" is an error instead of a network that
// silently matches every address (bits 0) or none.
func ParseLocalConf(b []byte) (*LocalConf, error) {
	c := &LocalConf{}
	if len(bytes.TrimSpace(b)) == 0 {
		return c, nil
	}
	if len(b) > maxLocalConf {
		return nil, fmt.Errorf("%d bytes exceeds %d", len(b), maxLocalConf)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("invalid JSON (want an object): %w", err)
	}
	raw, ok := top["physical"]
	if !ok {
		return c, nil
	}
	var phys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &phys); err != nil {
		return c, nil // not an object: 1.14 ignores it
	}
	for key, v := range phys {
		var entry map[string]json.RawMessage
		if json.Unmarshal(v, &entry) != nil {
			continue // not an object: ignored as 1.14 does
		}
		net, err := parseNetwork(key)
		if err != nil {
			return nil, fmt.Errorf("physical %q: %w", key, err)
		}
		id, err := jsonInt(entry["trustedPathId"])
		if err != nil {
			return nil, fmt.Errorf("physical %q: trustedPathId: %w", key, err)
		}
		mtu, err := jsonInt(entry["mtu"])
		if err != nil || mtu > 1<<20 {
			return nil, fmt.Errorf("physical %q: mtu: bad value", key)
		}
		c.Physical = append(c.Physical, node.PhysicalPath{Network: net, TrustedPathID: id, MTU: int(mtu)})
	}
	return c, nil
}

// parseNetwork reads ZeroTier's "ip/bits" network form.
func parseNetwork(s string) (netip.Prefix, error) {
	ip, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, errors.New("want ip/bits")
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("bad IP address")
	}
	a = a.Unmap()
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 || n > a.BitLen() {
		return netip.Prefix{}, fmt.Errorf("bad prefix length %q", bits)
	}
	return netip.PrefixFrom(a, n), nil
}

// jsonInt is OSUtils::jsonInt: absent or null is 0.
func jsonInt(v json.RawMessage) (uint64, error) {
	s := strings.TrimSpace(string(v))
	switch {
	case s == "" || s == "null" || s == "false":
		return 0, nil
	case s == "true":
		return 1, nil
	case strings.HasPrefix(s, `"`):
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return 0, err
		}
		return strconv.ParseUint(strings.TrimSpace(str), 10, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}
