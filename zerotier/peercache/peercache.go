// Package peercache is ZeroTier One's peer cache, peers.d/<10 hex>.peer:
// what a node remembers of a peer it forgot for inactivity — identity,
// version and the physical addresses it last used — so it can contact the
// peer again without a WHOIS (Peer::serializeForCache, VL1.md appendix A).
package peercache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/inetaddr"
)

// Version is the record format 1.14 writes and reads.
const Version = 2

// MaxPaths bounds the addresses in a record (ZT_MAX_PEER_NETWORK_PATHS).
const MaxPaths = 16

// DirName is the cache directory inside a node's home.
const DirName = "peers.d"

// MaxAge is how long 1.14 keeps a record (cleaned hourly, 30 days).
const MaxAge = 30 * 24 * time.Hour

// ErrMalformed is wrapped by Parse for records it cannot read.
var ErrMalformed = errors.New("peercache: malformed record")

// Entry is one cached peer.
type Entry struct {
	Identity                      *identity.Identity // public part
	Proto, Major, Minor, Revision uint16
	Paths                         []netip.AddrPort
}

// MarshalBinary is the record: version byte 2, the public identity, the
// four version numbers as BE uint16, a BE uint16 path count and the paths
// as InetAddresses.
func (e *Entry) MarshalBinary() ([]byte, error) {
	if len(e.Paths) > MaxPaths {
		return nil, fmt.Errorf("peercache: %d paths exceed %d", len(e.Paths), MaxPaths)
	}
	b := []byte{Version}
	b, err := e.Identity.AppendBinary(b, false)
	if err != nil {
		return nil, fmt.Errorf("peercache: %w", err)
	}
	for _, v := range []uint16{e.Proto, e.Major, e.Minor, e.Revision, uint16(len(e.Paths))} {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	for _, p := range e.Paths {
		b = inetaddr.Append(b, p)
	}
	return b, nil
}

// Parse reads a record. Like 1.14, trailing bytes are ignored; unlike it,
// an address that does not decode is an error rather than where reading
// stops.
func Parse(b []byte) (*Entry, error) {
	if len(b) < 1 || b[0] != Version {
		return nil, fmt.Errorf("%w: not a version %d record", ErrMalformed, Version)
	}
	id, n, err := identity.Decode(b[1:], false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r := b[1+n:]
	if len(r) < 10 {
		return nil, fmt.Errorf("%w: truncated after the identity", ErrMalformed)
	}
	e := &Entry{Identity: id,
		Proto: binary.BigEndian.Uint16(r), Major: binary.BigEndian.Uint16(r[2:]),
		Minor: binary.BigEndian.Uint16(r[4:]), Revision: binary.BigEndian.Uint16(r[6:])}
	count := int(binary.BigEndian.Uint16(r[8:]))
	if count > MaxPaths {
		return nil, fmt.Errorf("%w: %d paths", ErrMalformed, count)
	}
	r = r[10:]
	for range count {
		ap, n, err := inetaddr.Decode(r)
		if err != nil {
			return nil, fmt.Errorf("%w: path: %v", ErrMalformed, err)
		}
		if ap.IsValid() {
			e.Paths = append(e.Paths, ap)
		}
		r = r[n:]
	}
	return e, nil
}

// Dir is a peers.d directory.
type Dir string

func (d Dir) file(a address.Address) string { return filepath.Join(string(d), a.String()+".peer") }

// Save writes e (mode 0644 as 1.14's state files other than the secret),
// creating the directory if needed.
func (d Dir) Save(e *Entry) error {
	b, err := e.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return fmt.Errorf("peercache: %w", err)
	}
	tmp := d.file(e.Identity.Address) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("peercache: %w", err)
	}
	if err := os.Rename(tmp, d.file(e.Identity.Address)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("peercache: %w", err)
	}
	return nil
}

// Load reads the record for a. A missing record is (nil, nil); a record
// naming another address is an error.
func (d Dir) Load(a address.Address) (*Entry, error) {
	b, err := os.ReadFile(d.file(a))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("peercache: %w", err)
	}
	e, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("peercache: %s: %w", d.file(a), err)
	}
	if e.Identity.Address != a {
		return nil, fmt.Errorf("peercache: %s holds %s", d.file(a), e.Identity.Address)
	}
	return e, nil
}

// Clean removes records last written before cutoff (OSUtils::cleanDirectory).
func (d Dir) Clean(cutoff time.Time) error {
	ents, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("peercache: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(string(d), e.Name()))
		}
	}
	return nil
}
