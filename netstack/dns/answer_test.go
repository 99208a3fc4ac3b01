package dns

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func query(t testing.TB, id uint16, name string, typ dnsmessage.Type) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.StartQuestions()
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// answerA answers q with one A record 192.0.2.1.
func answerA(q []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil
	}
	qq, err := p.Question()
	if err != nil {
		return nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true})
	b.StartQuestions()
	b.Question(qq)
	b.StartAnswers()
	b.AResource(dnsmessage.ResourceHeader{Name: qq.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}})
	out, _ := b.Finish()
	return out
}

func rcode(t *testing.T, r []byte) dnsmessage.RCode {
	t.Helper()
	var p dnsmessage.Parser
	h, err := p.Start(r)
	if err != nil {
		t.Fatalf("answer does not parse: %v", err)
	}
	if !h.Response {
		t.Fatalf("answer is not a response")
	}
	return h.RCode
}

func TestAnswer(t *testing.T) {
	var asked []netip.AddrPort
	a := &Answerer{Virtual: func(_ context.Context, s netip.AddrPort, q []byte, _ bool) ([]byte, error) {
		asked = append(asked, s)
		if s.Addr() == netip.MustParseAddr("10.0.0.9") {
			return nil, errors.New("down")
		}
		return answerA(q), nil
	}}
	ctx := context.Background()
	// Nothing configured: NXDOMAIN, question echoed, same id.
	r := a.Answer(ctx, query(t, 7, "example.com.", dnsmessage.TypeA), false)
	if rc := rcode(t, r); rc != dnsmessage.RCodeNameError {
		t.Fatalf("no zones: rcode %v, want NXDOMAIN", rc)
	}
	a.SetZone("n1", Zone{Domain: "Lab.ZT.", Servers: []netip.Addr{netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("10.0.0.53")}})
	a.SetZone("n2", Zone{Domain: "sub.lab.zt", Servers: []netip.Addr{netip.MustParseAddr("10.1.0.53")}})
	for _, c := range []struct {
		name string
		want []string
		rc   dnsmessage.RCode
	}{
		{"web.lab.zt.", []string{"10.0.0.9:53", "10.0.0.53:53"}, dnsmessage.RCodeSuccess},
		{"LAB.zt.", []string{"10.0.0.9:53", "10.0.0.53:53"}, dnsmessage.RCodeSuccess},
		{"x.sub.lab.zt.", []string{"10.1.0.53:53"}, dnsmessage.RCodeSuccess},
		{"notlab.zt.", nil, dnsmessage.RCodeNameError},
		{"example.com.", nil, dnsmessage.RCodeNameError},
	} {
		asked = nil
		r := a.Answer(ctx, query(t, 9, c.name, dnsmessage.TypeA), false)
		if rc := rcode(t, r); rc != c.rc {
			t.Errorf("%s: rcode %v, want %v", c.name, rc, c.rc)
		}
		if len(asked) != len(c.want) {
			t.Errorf("%s: asked %v, want %v", c.name, asked, c.want)
			continue
		}
		for i := range asked {
			if asked[i].String() != c.want[i] {
				t.Errorf("%s: asked %v, want %v", c.name, asked, c.want)
			}
		}
	}
	// The host's resolvers, when allowed, get what no zone takes.
	var hostAsked int
	a.Host = func(_ context.Context, _ netip.AddrPort, q []byte, _ bool) ([]byte, error) {
		hostAsked++
		return answerA(q), nil
	}
	a.HostNS = []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}
	if rc := rcode(t, a.Answer(ctx, query(t, 3, "example.com.", dnsmessage.TypeA), false)); rc != dnsmessage.RCodeSuccess || hostAsked != 1 {
		t.Errorf("host forwarding: rcode %v, asked %d", rc, hostAsked)
	}
	// A server answering with another id is not believed.
	a.Host = func(_ context.Context, _ netip.AddrPort, q []byte, _ bool) ([]byte, error) {
		r := answerA(q)
		r[0] ^= 0xff
		return r, nil
	}
	if rc := rcode(t, a.Answer(ctx, query(t, 4, "example.com.", dnsmessage.TypeA), false)); rc != dnsmessage.RCodeServerFailure {
		t.Errorf("mismatched id: rcode %v, want SERVFAIL", rc)
	}
	// A single-label name is completed with the pushed domains.
	a.Host = nil
	r = a.Answer(ctx, query(t, 8, "web.", dnsmessage.TypeA), false)
	var m dnsmessage.Message
	if err := m.Unpack(r); err != nil || m.ID != 8 || m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 1 ||
		m.Questions[0].Name.String() != "web." || m.Answers[0].Header.Name.String() != "web." {
		t.Errorf("search: got %+v (%v)", m, err)
	}
	if len(asked) == 0 || asked[len(asked)-1].Addr().String() != "10.0.0.53" {
		t.Errorf("search asked %v", asked)
	}
	// Removing a zone's servers removes the zone.
	a.SetZone("n1", Zone{Domain: "lab.zt"})
	a.Host = nil
	if rc := rcode(t, a.Answer(ctx, query(t, 5, "web.lab.zt.", dnsmessage.TypeA), false)); rc != dnsmessage.RCodeNameError {
		t.Errorf("after removal: rcode %v, want NXDOMAIN", rc)
	}
	// Not a query: dropped. Garbage after a header: FORMERR.
	if r := a.Answer(ctx, answerA(query(t, 6, "x.", dnsmessage.TypeA)), false); r != nil {
		t.Errorf("a response was answered")
	}
	if rc := rcode(t, a.Answer(ctx, append(make([]byte, 4), 0, 1, 0, 0, 0, 0, 0, 0, 9), false)); rc != dnsmessage.RCodeFormatError {
		t.Errorf("truncated question: rcode %v, want FORMERR", rc)
	}
}

func TestNameservers(t *testing.T) {
	got := Nameservers([]byte("# c\nsearch x\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nnameserver 10.0.0.1\nnameserver bogus\n nameserver\n"))
	if len(got) != 2 || got[0].String() != "10.0.0.1" || got[1].String() != "fe80::1" {
		t.Errorf("got %v", got)
	}
	if got := Nameservers(nil); len(got) != 1 || got[0].String() != "127.0.0.1" {
		t.Errorf("empty: got %v", got)
	}
}

// FuzzAnswer: any bytes from a program give no panic, and any answer is a
// response with the query's id.
func FuzzAnswer(f *testing.F) {
	f.Add(query(f, 1, "web.lab.zt.", dnsmessage.TypeA))
	f.Add(query(f, 2, "example.com.", dnsmessage.TypeAAAA))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c})
	a := &Answerer{Virtual: func(_ context.Context, _ netip.AddrPort, q []byte, _ bool) ([]byte, error) {
		return answerA(q), nil
	}}
	a.SetZone("n", Zone{Domain: "lab.zt", Servers: []netip.Addr{netip.MustParseAddr("10.0.0.53")}})
	f.Fuzz(func(t *testing.T, q []byte) {
		r := a.Answer(context.Background(), q, false)
		if r == nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(r)
		if err != nil || !h.Response || len(q) < 2 || h.ID != uint16(q[0])<<8|uint16(q[1]) {
			t.Fatalf("bad answer %x to %x (%v)", r, q, err)
		}
	})
}

func FuzzNameservers(f *testing.F) {
	f.Add([]byte("nameserver 10.0.0.1\nnameserver ::1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, a := range Nameservers(b) {
			if !a.IsValid() || a.Zone() != "" {
				t.Fatalf("bad address %v", a)
			}
		}
	})
}
