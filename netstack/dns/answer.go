// Package dns answers the supervised programs' DNS queries. A responder on
// the virtual stack listens on the nameserver addresses of the host's
// /etc/resolv.conf (which the programs read and cannot be shown another),
// so every resolver code path (glibc's sendmmsg, Go's, musl's, TCP) reaches
// it. Names in a network's pushed DNS domain go to that network's servers
// over the virtual network; other names go to the host's resolvers when the
// user allowed it, and otherwise get NXDOMAIN at once.
package dns

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// Zone is a DNS domain and the servers that answer for it (a network's
// pushed DNS settings). An empty domain means every name.
type Zone struct {
	Domain  string
	Servers []netip.Addr
}

// Exchanger sends query to server and returns its answer; tcp asks for DNS
// over TCP (RFC 1035 length-prefixed).
type Exchanger func(ctx context.Context, server netip.AddrPort, query []byte, tcp bool) ([]byte, error)

// Answerer decides where each query goes.
type Answerer struct {
	Virtual Exchanger        // queries to network servers, over the virtual network
	Host    Exchanger        // nil: names outside the zones fail at once (NXDOMAIN)
	HostNS  []netip.AddrPort // the host's nameservers, for Host

	mu    sync.Mutex
	zones map[string]Zone // by owner (a network id, "local")
}

// SetZone records (or, with no servers, removes) the zone of owner.
func (a *Answerer) SetZone(owner string, z Zone) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.zones == nil {
		a.zones = map[string]Zone{}
	}
	z.Domain = canonical(z.Domain)
	if len(z.Servers) == 0 {
		delete(a.zones, owner)
		return
	}
	a.zones[owner] = z
}

// route returns the servers for name: the zone with the longest matching
// domain, an empty domain matching last.
func (a *Answerer) route(name string) []netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	best, bestLen := []netip.Addr(nil), -1
	for _, z := range a.zones {
		if (z.Domain == "" || name == z.Domain || strings.HasSuffix(name, "."+z.Domain)) && len(z.Domain) > bestLen {
			best, bestLen = z.Servers, len(z.Domain)
		}
	}
	return best
}

// canonical lowercases a domain name and drops its trailing dot.
func canonical(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

var errNoAnswer = errors.New("no server answered")

// Answer returns the response to query (nil: drop it, it was not a query).
// tcp says the query came over TCP; then the answer may be of any size.
func (a *Answerer) Answer(ctx context.Context, query []byte, tcp bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil
	}
	q, err := p.Question()
	if err != nil || h.OpCode != 0 {
		rc := dnsmessage.RCodeFormatError
		if err == nil {
			rc = dnsmessage.RCodeNotImplemented
		}
		return reply(h, nil, rc)
	}
	name := canonical(q.Name.String())
	if servers := a.route(name); len(servers) > 0 {
		return a.forward(ctx, a.Virtual, port53(servers), h, q, query, tcp)
	}
	if name != "" && !strings.Contains(name, ".") {
		if r := a.search(ctx, q, query, tcp); r != nil {
			return r
		}
	}
	if a.Host != nil && len(a.HostNS) > 0 {
		return a.forward(ctx, a.Host, a.HostNS, h, q, query, tcp)
	}
	return reply(h, &q, dnsmessage.RCodeNameError)
}

func port53(servers []netip.Addr) []netip.AddrPort {
	var ns []netip.AddrPort
	for _, s := range servers {
		ns = append(ns, netip.AddrPortFrom(s, 53))
	}
	return ns
}

// forward asks each server in turn and returns the first answer whose id
// and question match; SERVFAIL when none does.
func (a *Answerer) forward(ctx context.Context, ex Exchanger, servers []netip.AddrPort, h dnsmessage.Header, q dnsmessage.Question, query []byte, tcp bool) []byte {
	if r := ask(ctx, ex, servers, h.ID, q, query, tcp); r != nil {
		return r
	}
	return reply(h, &q, dnsmessage.RCodeServerFailure)
}

// ask returns the first matching answer of servers; nil when none answers.
func ask(ctx context.Context, ex Exchanger, servers []netip.AddrPort, id uint16, q dnsmessage.Question, query []byte, tcp bool) []byte {
	if ex == nil {
		return nil
	}
	for _, s := range servers {
		r, err := ex(ctx, s, query, tcp)
		if err == nil && matches(r, id, q) {
			return r
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil
}

// search completes a single-label name with each pushed domain, as a host
// given the network's search domain would (ZeroTier One sets it on the
// interface; the programs here read the host's resolv.conf instead). The
// first domain whose servers know the name answers, the records renamed back
// to the name asked. nil: no domain knows it.
func (a *Answerer) search(ctx context.Context, q dnsmessage.Question, query []byte, tcp bool) []byte {
	a.mu.Lock()
	var zones []Zone
	for _, z := range a.zones {
		if z.Domain != "" {
			zones = append(zones, z)
		}
	}
	a.mu.Unlock()
	sort.Slice(zones, func(i, j int) bool { return zones[i].Domain < zones[j].Domain })
	var m dnsmessage.Message
	if m.Unpack(query) != nil || len(m.Questions) == 0 {
		return nil
	}
	for _, z := range zones {
		full, err := dnsmessage.NewName(strings.TrimSuffix(q.Name.String(), ".") + "." + z.Domain + ".")
		if err != nil {
			continue
		}
		m.Questions[0].Name = full
		fq, err := m.Pack()
		if err != nil {
			return nil
		}
		fullQ := q
		fullQ.Name = full
		r := ask(ctx, a.Virtual, port53(z.Servers), m.ID, fullQ, fq, tcp)
		var rm dnsmessage.Message
		if r == nil || rm.Unpack(r) != nil || rm.RCode != dnsmessage.RCodeSuccess || len(rm.Answers) == 0 {
			continue
		}
		rm.Questions[0].Name = q.Name
		for i := range rm.Answers {
			if strings.EqualFold(rm.Answers[i].Header.Name.String(), full.String()) {
				rm.Answers[i].Header.Name = q.Name
			}
		}
		out, err := rm.Pack()
		if err != nil {
			continue
		}
		return out
	}
	return nil
}

// matches reports whether r is a response to the query with id and q.
func matches(r []byte, id uint16, q dnsmessage.Question) bool {
	var p dnsmessage.Parser
	h, err := p.Start(r)
	if err != nil || !h.Response || h.ID != id {
		return false
	}
	rq, err := p.Question()
	if errors.Is(err, dnsmessage.ErrSectionDone) {
		return h.RCode != dnsmessage.RCodeSuccess // errors may omit the question
	}
	return err == nil && rq.Type == q.Type && rq.Class == q.Class && strings.EqualFold(rq.Name.String(), q.Name.String())
}

// reply builds a response with no records: the query's id, flags and (when
// known) question, and rcode.
func reply(qh dnsmessage.Header, q *dnsmessage.Question, rc dnsmessage.RCode) []byte {
	h := dnsmessage.Header{ID: qh.ID, Response: true, OpCode: qh.OpCode, RecursionDesired: qh.RecursionDesired,
		RecursionAvailable: true, RCode: rc}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), h)
	if q != nil {
		if b.StartQuestions() != nil || b.Question(*q) != nil {
			return nil
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
