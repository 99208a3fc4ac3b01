// Package selfaware is a node's view of its own external addresses as peers
// report them (HELLO's destination and OK(HELLO)'s from-address fields), and
// the rule that a changed report from a trusted peer (an upstream) means our
// network surface moved, so paths in that scope must be re-probed
// (SelfAwareness.cpp, VL1.md 7.10).
package selfaware

import (
	"net/netip"
	"slices"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/path"
)

// EntryTimeout is how long a report counts (ZT_SELFAWARENESS_ENTRY_TIMEOUT).
const EntryTimeout = 10 * time.Minute

// key is 1.14's PhySurfaceKey.
type key struct {
	reporter     address.Address
	local        int
	reporterAddr netip.AddrPort
	scope        path.Scope
}

type entry struct {
	mine    netip.AddrPort
	at      time.Time
	trusted bool
}

// Table holds the reports. It is not synchronized; the node guards it.
type Table struct {
	m map[key]entry
}

// Reset names the paths to re-probe after a trusted surface change: those
// whose remote address has this scope and family.
type Reset struct {
	Scope path.Scope
	IPv6  bool
}

// Matches reports whether a path's remote address is in the reset's scope
// and family.
func (r Reset) Matches(remote netip.AddrPort) bool {
	a := remote.Addr().Unmap()
	return a.Is6() == r.IPv6 && path.ScopeOf(a) == r.Scope
}

// IAm records that reporter, heard on local socket local from reporterAddr,
// sees us as mine (SelfAwareness::iam). Reports whose scope differs from the
// reporter's, or is none, loopback or multicast, are ignored. If a trusted
// reporter's report within the last 10 minutes named another IP (the port
// does not count), the other reporters' entries in that scope are dropped
// and a Reset is returned.
func (t *Table) IAm(reporter address.Address, local int, reporterAddr, mine netip.AddrPort, trusted bool, now time.Time) (Reset, bool) {
	reporterAddr, mine = path.Unmap(reporterAddr), path.Unmap(mine)
	scope := path.ScopeOf(mine.Addr())
	if scope != path.ScopeOf(reporterAddr.Addr()) || scope == path.ScopeNone || scope == path.ScopeLoopback || scope == path.ScopeMulticast {
		return Reset{}, false
	}
	if t.m == nil {
		t.m = map[key]entry{}
	}
	k := key{reporter, local, reporterAddr, scope}
	old, had := t.m[k]
	t.m[k] = entry{mine: mine, at: now, trusted: trusted}
	if !trusted || !had || now.Sub(old.at) >= EntryTimeout || old.mine.Addr() == mine.Addr() {
		return Reset{}, false
	}
	// Other reporters' (older) views of this scope would flip it back.
	for ok := range t.m {
		if ok.reporterAddr != reporterAddr && ok.scope == scope {
			delete(t.m, ok)
		}
	}
	return Reset{Scope: scope, IPv6: mine.Addr().Is6()}, true
}

// Surface lists the distinct reported addresses (SelfAwareness::whoami),
// sorted.
func (t *Table) Surface() []netip.AddrPort {
	var out []netip.AddrPort
	for _, e := range t.m {
		if !slices.Contains(out, e.mine) {
			out = append(out, e.mine)
		}
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

// Clean drops reports older than EntryTimeout.
func (t *Table) Clean(now time.Time) {
	for k, e := range t.m {
		if now.Sub(e.at) >= EntryTimeout {
			delete(t.m, k)
		}
	}
}
