package message

import (
	"encoding/binary"
	"net/netip"

	"ztnc/zerotier/address"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/inetaddr"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/world"
)

// InRe is the common start of OK and ERROR payloads: which request they answer.
type InRe struct {
	Verb packet.Verb // in-re verb
	ID   uint64      // on-wire packet ID of the request
}

const inReSize = 9

func (i InRe) append(b []byte) []byte {
	b = append(b, byte(i.Verb))
	return binary.BigEndian.AppendUint64(b, i.ID)
}

// NewOK builds an unarmored OK packet answering inRe with the given body.
func NewOK(id uint64, dest, src address.Address, inRe InRe, body []byte) packet.Packet {
	return packet.New(id, dest, src, packet.VerbOK, append(inRe.append(make([]byte, 0, inReSize+len(body))), body...))
}

// ParseOK splits an OK packet into its in-re header and verb-specific body.
func ParseOK(p packet.Packet) (InRe, []byte, error) {
	if err := checkVerb(p, packet.VerbOK); err != nil {
		return InRe{}, nil, err
	}
	pl := p.Payload()
	if len(pl) < inReSize {
		return InRe{}, nil, malformed("OK", "payload of %d bytes is shorter than the in-re header", len(pl))
	}
	return InRe{Verb: packet.Verb(pl[0]), ID: binary.BigEndian.Uint64(pl[1:])}, pl[inReSize:], nil
}

// OKHello is the body of OK(HELLO).
//
//	0  8  echoed HELLO timestamp
//	8  1  protocol version, 9 major, 10 minor, 11 2 revision
//	13 …  the physical address the HELLO came from (InetAddress)
//	   2  length L of world updates, then L bytes of serialized worlds
//
// Fields after the revision are optional when receiving.
type OKHello struct {
	Timestamp       uint64
	ProtocolVersion uint8
	Major, Minor    uint8
	Revision        uint16
	HasFrom         bool
	From            netip.AddrPort // where the responder saw the HELLO come from
	Worlds          []*world.World // planet/moon updates offered
}

// AppendBody appends the OK(HELLO) body.
func (o *OKHello) AppendBody(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint64(b, o.Timestamp)
	b = append(b, o.ProtocolVersion, o.Major, o.Minor)
	b = binary.BigEndian.AppendUint16(b, o.Revision)
	b = inetaddr.Append(b, o.From)
	lenAt := len(b)
	b = append(b, 0, 0)
	for _, w := range o.Worlds {
		var err error
		if b, err = w.AppendBinary(b); err != nil {
			return nil, err
		}
	}
	n := len(b) - lenAt - 2
	if n > 0xffff {
		return nil, malformed("OK(HELLO)", "world updates of %d bytes", n)
	}
	binary.BigEndian.PutUint16(b[lenAt:], uint16(n))
	return b, nil
}

// ParseOKHello decodes an OK(HELLO) body (from ParseOK).
func ParseOKHello(body []byte) (*OKHello, error) {
	r := &reader{b: body, ctx: "OK(HELLO)"}
	o := &OKHello{}
	o.Timestamp = r.u64("timestamp")
	o.ProtocolVersion = r.u8("protocol version")
	o.Major = r.u8("major")
	o.Minor = r.u8("minor")
	o.Revision = r.u16("revision")
	if r.err != nil {
		return nil, r.err
	}
	if r.remaining() > 0 {
		ap, n, err := inetaddr.Decode(r.b[r.off:])
		if err != nil {
			return nil, malformed("OK(HELLO)", "address: %v", err)
		}
		r.off += n
		o.HasFrom, o.From = true, ap
	}
	if r.remaining() >= 2 {
		wl := int(r.u16("world length"))
		wb := r.take(wl, "worlds")
		if r.err != nil {
			return nil, r.err
		}
		for len(wb) > 0 {
			w, n, err := world.Decode(wb)
			if err != nil {
				return nil, malformed("OK(HELLO)", "world update: %v", err)
			}
			o.Worlds = append(o.Worlds, w)
			wb = wb[n:]
		}
	}
	return o, nil
}

// AppendOKWhois appends public identities for an OK(WHOIS) body.
func AppendOKWhois(b []byte, ids ...*identity.Identity) ([]byte, error) {
	for _, id := range ids {
		var err error
		if b, err = id.AppendBinary(b, false); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// ParseOKWhois decodes the identities in an OK(WHOIS) body. (1.14 uses only
// the first, and only from an upstream; it does not re-validate them.)
func ParseOKWhois(body []byte) ([]*identity.Identity, error) {
	var ids []*identity.Identity
	for len(body) > 0 {
		id, n, err := identity.Decode(body, false)
		if err != nil {
			return nil, malformed("OK(WHOIS)", "identity %d: %v", len(ids), err)
		}
		ids = append(ids, id)
		body = body[n:]
	}
	if len(ids) == 0 {
		return nil, malformed("OK(WHOIS)", "no identity")
	}
	return ids, nil
}
