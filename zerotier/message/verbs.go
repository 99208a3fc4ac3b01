package message

import (
	"encoding/binary"
	"net/netip"

	"ztnc/zerotier/address"
	"ztnc/zerotier/packet"
)

// Error is an ERROR payload.
type Error struct {
	InRe    InRe
	Code    packet.ErrorCode
	Payload []byte // code-specific (e.g. an 8-byte network ID)
}

// Append appends the ERROR payload.
func (e *Error) Append(b []byte) []byte {
	b = e.InRe.append(b)
	b = append(b, byte(e.Code))
	return append(b, e.Payload...)
}

// ParseError decodes an ERROR packet.
func ParseError(p packet.Packet) (*Error, error) {
	if err := checkVerb(p, packet.VerbError); err != nil {
		return nil, err
	}
	pl := p.Payload()
	if len(pl) < inReSize+1 {
		return nil, malformed("ERROR", "payload of %d bytes too short", len(pl))
	}
	return &Error{
		InRe:    InRe{Verb: packet.Verb(pl[0]), ID: binary.BigEndian.Uint64(pl[1:])},
		Code:    packet.ErrorCode(pl[9]),
		Payload: pl[10:],
	}, nil
}

// AppendWhois appends WHOIS request addresses (1.14 sends one per request).
func AppendWhois(b []byte, addrs ...address.Address) []byte {
	for _, a := range addrs {
		ab := a.Bytes()
		b = append(b, ab[:]...)
	}
	return b
}

// ParseWhois decodes the addresses of a WHOIS payload. Like 1.14 it reads
// whole 5-byte addresses and ignores a trailing partial one.
func ParseWhois(payload []byte) ([]address.Address, error) {
	if len(payload) < address.Size {
		return nil, malformed("WHOIS", "no address")
	}
	var out []address.Address
	for ; len(payload) >= address.Size; payload = payload[address.Size:] {
		a, _ := address.FromBytes(payload)
		out = append(out, a)
	}
	return out, nil
}

// Rendezvous is a RENDEZVOUS payload: a root telling us where to reach a peer.
//
//	0 1 flags, 1 5 peer address, 6 2 port, 8 1 IP length (4|16), 9 IP
type Rendezvous struct {
	Flags uint8
	With  address.Address
	Addr  netip.AddrPort
}

// Append appends the RENDEZVOUS payload. IPv4-mapped IPv6 is sent as IPv4.
func (r *Rendezvous) Append(b []byte) []byte {
	b = append(b, r.Flags)
	wb := r.With.Bytes()
	b = append(b, wb[:]...)
	b = binary.BigEndian.AppendUint16(b, r.Addr.Port())
	ip := r.Addr.Addr().Unmap()
	if ip.Is4() {
		v := ip.As4()
		b = append(b, 4)
		return append(b, v[:]...)
	}
	v := ip.As16()
	b = append(b, 16)
	return append(b, v[:]...)
}

// ParseRendezvous decodes a RENDEZVOUS payload. (1.14 also ignores one with
// port 0; that is left to the caller, as is the path acceptability check.)
func ParseRendezvous(payload []byte) (*Rendezvous, error) {
	r := &reader{b: payload, ctx: "RENDEZVOUS"}
	rv := &Rendezvous{Flags: r.u8("flags")}
	with := r.take(address.Size, "address")
	port := r.u16("port")
	ipLen := int(r.u8("IP length"))
	if r.err != nil {
		return nil, r.err
	}
	rv.With, _ = address.FromBytes(with)
	switch ipLen {
	case 4:
		ip := r.take(4, "IPv4")
		if r.err != nil {
			return nil, r.err
		}
		rv.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip)), port)
	case 16:
		ip := r.take(16, "IPv6")
		if r.err != nil {
			return nil, r.err
		}
		rv.Addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip)), port)
	default:
		return nil, malformed("RENDEZVOUS", "IP length %d", ipLen)
	}
	return rv, nil
}

// PUSH_DIRECT_PATHS record flags.
const (
	PathFlagForget          = 0x01
	PathFlagClusterRedirect = 0x02
)

// DirectPath is one PUSH_DIRECT_PATHS record.
type DirectPath struct {
	Flags uint8
	Addr  netip.AddrPort
}

// AppendPushDirectPaths appends a PUSH_DIRECT_PATHS payload (no extensions).
func AppendPushDirectPaths(b []byte, paths []DirectPath) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(paths)))
	for _, p := range paths {
		b = append(b, p.Flags, 0, 0) // flags, zero-length extensions
		ip := p.Addr.Addr().Unmap()
		if ip.Is4() {
			v := ip.As4()
			b = append(b, 4, 6)
			b = append(b, v[:]...)
		} else {
			v := ip.As16()
			b = append(b, 6, 18)
			b = append(b, v[:]...)
		}
		b = binary.BigEndian.AppendUint16(b, p.Addr.Port())
	}
	return b
}

// ParsePushDirectPaths decodes the records. Records of other address types
// are skipped as 1.14 does; extension bytes are ignored.
func ParsePushDirectPaths(payload []byte) ([]DirectPath, error) {
	r := &reader{b: payload, ctx: "PUSH_DIRECT_PATHS"}
	n := int(r.u16("count"))
	var out []DirectPath
	for i := 0; i < n && r.err == nil; i++ {
		flags := r.u8("flags")
		r.take(int(r.u16("extension length")), "extensions")
		typ := r.u8("address type")
		addr := r.take(int(r.u8("address length")), "address")
		if r.err != nil {
			break
		}
		switch {
		case typ == 4 && len(addr) == 6:
			out = append(out, DirectPath{flags, netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr)), binary.BigEndian.Uint16(addr[4:]))})
		case typ == 6 && len(addr) == 18:
			out = append(out, DirectPath{flags, netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr)), binary.BigEndian.Uint16(addr[16:]))})
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

// UserMessage is a USER_MESSAGE payload (type IDs <= 65535 are reserved for ZeroTier).
type UserMessage struct {
	Type uint64
	Data []byte
}

// Append appends the USER_MESSAGE payload.
func (u *UserMessage) Append(b []byte) []byte {
	return append(binary.BigEndian.AppendUint64(b, u.Type), u.Data...)
}

// ParseUserMessage decodes a USER_MESSAGE payload (at least 8 bytes).
func ParseUserMessage(payload []byte) (*UserMessage, error) {
	if len(payload) < 8 {
		return nil, malformed("USER_MESSAGE", "payload of %d bytes has no type", len(payload))
	}
	return &UserMessage{Type: binary.BigEndian.Uint64(payload), Data: payload[8:]}, nil
}
