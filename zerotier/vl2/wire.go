package vl2

import (
	"errors"
	"fmt"

	"ztnc/zerotier/address"
	"ztnc/zerotier/credential"
	"ztnc/zerotier/internal/wire"
	"ztnc/zerotier/netconf"
)

// ErrMalformed is wrapped by frame/multicast decoding errors.
var ErrMalformed = errors.New("malformed VL2 message")

// Payload flags.
const (
	ExtFrameFlagCOM    = 0x01
	ExtFrameFlagWantOK = 0x10
	ExtFrameTeeOut     = 0x02
	ExtFrameRedirOut   = 0x04
	ExtFrameTeeIn      = 0x08
	ExtFrameRedirIn    = 0x0a

	GatherFlagCOM = 0x01

	MulticastFlagCOM         = 0x01
	MulticastFlagGatherLimit = 0x02
	MulticastFlagSourceMAC   = 0x04
	MulticastFlagReplicate   = 0x08

	MaxMulticastPayload = 10000
)

// Frame is a FRAME payload.
type Frame struct {
	NetworkID uint64
	EtherType uint16
	Data      []byte
}

// Append serializes a FRAME payload.
func (f *Frame) Append(b []byte) []byte {
	b = wire.AppendU64(b, f.NetworkID)
	b = wire.AppendU16(b, f.EtherType)
	return append(b, f.Data...)
}

// ParseFrame reads a FRAME payload.
func ParseFrame(b []byte) (*Frame, error) {
	f := new(Frame)
	if err := parseFrame(b, f); err != nil {
		return nil, err
	}
	return f, nil
}

// parseFrame is ParseFrame into f (the receive path keeps it on the stack).
func parseFrame(b []byte, f *Frame) error {
	r := wire.NewReader(b)
	*f = Frame{NetworkID: r.U64("network ID"), EtherType: r.U16("ethertype")}
	f.Data = r.Rest()
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: FRAME: %v", ErrMalformed, err)
	}
	return nil
}

// ExtFrame is an EXT_FRAME payload.
type ExtFrame struct {
	NetworkID uint64
	Flags     uint8
	COM       *credential.COM
	Dest, Src [6]byte
	EtherType uint16
	Data      []byte
}

// Append serializes an EXT_FRAME payload.
func (f *ExtFrame) Append(b []byte) []byte {
	b = wire.AppendU64(b, f.NetworkID)
	flags := f.Flags &^ ExtFrameFlagCOM
	if f.COM != nil {
		flags |= ExtFrameFlagCOM
	}
	b = append(b, flags)
	if f.COM != nil {
		b = f.COM.Append(b)
	}
	b = append(b, f.Dest[:]...)
	b = append(b, f.Src[:]...)
	b = wire.AppendU16(b, f.EtherType)
	return append(b, f.Data...)
}

// ParseExtFrame reads an EXT_FRAME payload.
func ParseExtFrame(b []byte) (*ExtFrame, error) {
	r := wire.NewReader(b)
	f := &ExtFrame{NetworkID: r.U64("network ID"), Flags: r.U8("flags")}
	if r.Err() == nil && f.Flags&ExtFrameFlagCOM != 0 {
		c, n, err := credential.ParseCOM(r.B[r.Off:])
		if err != nil {
			return nil, fmt.Errorf("EXT_FRAME: %w", err)
		}
		f.COM = c
		r.Off += n
	}
	copy(f.Dest[:], r.Take(6, "destination MAC"))
	copy(f.Src[:], r.Take(6, "source MAC"))
	f.EtherType = r.U16("ethertype")
	f.Data = r.Rest()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: EXT_FRAME: %v", ErrMalformed, err)
	}
	return f, nil
}

// Like is one MULTICAST_LIKE tuple.
type Like struct {
	NetworkID uint64
	Group     netconf.MulticastGroup
}

// AppendLikes serializes MULTICAST_LIKE tuples.
func AppendLikes(b []byte, ls []Like) []byte {
	for _, l := range ls {
		b = wire.AppendU64(b, l.NetworkID)
		b = append(b, l.Group.MAC[:]...)
		b = wire.AppendU32(b, l.Group.ADI)
	}
	return b
}

// ParseLikes reads MULTICAST_LIKE tuples (a trailing partial tuple is an
// error).
func ParseLikes(b []byte) ([]Like, error) {
	if len(b)%18 != 0 {
		return nil, fmt.Errorf("%w: MULTICAST_LIKE of %d bytes", ErrMalformed, len(b))
	}
	var out []Like
	for r := wire.NewReader(b); r.Left() > 0; {
		l := Like{NetworkID: r.U64("network ID")}
		copy(l.Group.MAC[:], r.Take(6, "MAC"))
		l.Group.ADI = r.U32("ADI")
		out = append(out, l)
	}
	return out, nil
}

// Gather is a MULTICAST_GATHER payload.
type Gather struct {
	NetworkID uint64
	Flags     uint8
	Group     netconf.MulticastGroup
	Limit     uint32
	COM       *credential.COM
}

// Append serializes a MULTICAST_GATHER payload.
func (g *Gather) Append(b []byte) []byte {
	b = wire.AppendU64(b, g.NetworkID)
	flags := g.Flags &^ GatherFlagCOM
	if g.COM != nil {
		flags |= GatherFlagCOM
	}
	b = append(b, flags)
	b = append(b, g.Group.MAC[:]...)
	b = wire.AppendU32(b, g.Group.ADI)
	b = wire.AppendU32(b, g.Limit)
	if g.COM != nil {
		b = g.COM.Append(b)
	}
	return b
}

// ParseGather reads a MULTICAST_GATHER payload.
func ParseGather(b []byte) (*Gather, error) {
	r := wire.NewReader(b)
	g := &Gather{NetworkID: r.U64("network ID"), Flags: r.U8("flags")}
	copy(g.Group.MAC[:], r.Take(6, "MAC"))
	g.Group.ADI = r.U32("ADI")
	g.Limit = r.U32("limit")
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: MULTICAST_GATHER: %v", ErrMalformed, err)
	}
	if g.Flags&GatherFlagCOM != 0 && r.Left() > 0 {
		c, _, err := credential.ParseCOM(r.Rest())
		if err != nil {
			return nil, fmt.Errorf("MULTICAST_GATHER: %w", err)
		}
		g.COM = c
	}
	return g, nil
}

// GatherResult is the subscriber list of OK(MULTICAST_GATHER) and
// OK(MULTICAST_FRAME).
type GatherResult struct {
	NetworkID uint64
	Group     netconf.MulticastGroup
	Total     uint32
	Members   []address.Address
}

// AppendOKGather serializes OK(MULTICAST_GATHER)'s body (after in-re).
func (g *GatherResult) AppendOKGather(b []byte) []byte {
	b = wire.AppendU64(b, g.NetworkID)
	b = append(b, g.Group.MAC[:]...)
	b = wire.AppendU32(b, g.Group.ADI)
	return g.appendList(b)
}

func (g *GatherResult) appendList(b []byte) []byte {
	b = wire.AppendU32(b, g.Total)
	b = wire.AppendU16(b, uint16(len(g.Members)))
	for _, a := range g.Members {
		b = wire.AppendU40(b, uint64(a))
	}
	return b
}

// AppendOKMulticastFrame serializes OK(MULTICAST_FRAME)'s body.
func (g *GatherResult) AppendOKMulticastFrame(b []byte) []byte {
	b = wire.AppendU64(b, g.NetworkID)
	b = append(b, g.Group.MAC[:]...)
	b = wire.AppendU32(b, g.Group.ADI)
	b = append(b, 0x02)
	return g.appendList(b)
}

// ParseGatherResult reads either OK body (frame=true for MULTICAST_FRAME's,
// which has a flags byte and maybe a COM before the list).
func ParseGatherResult(b []byte, frame bool) (*GatherResult, error) {
	r := wire.NewReader(b)
	g := &GatherResult{NetworkID: r.U64("network ID")}
	copy(g.Group.MAC[:], r.Take(6, "MAC"))
	g.Group.ADI = r.U32("ADI")
	if frame {
		flags := r.U8("flags")
		if r.Err() == nil && flags&0x01 != 0 {
			_, n, err := credential.ParseCOM(r.B[r.Off:])
			if err != nil {
				return nil, fmt.Errorf("OK(MULTICAST_FRAME): %w", err)
			}
			r.Off += n
		}
		if flags&0x02 == 0 {
			if err := r.Err(); err != nil {
				return nil, fmt.Errorf("%w: OK(MULTICAST_FRAME): %v", ErrMalformed, err)
			}
			return g, nil
		}
	}
	g.Total = r.U32("total")
	n := int(r.U16("count"))
	for i := 0; i < n && r.Err() == nil; i++ {
		g.Members = append(g.Members, address.Address(r.U40("member")))
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: gather result: %v", ErrMalformed, err)
	}
	return g, nil
}

// MulticastFrame is a MULTICAST_FRAME payload.
type MulticastFrame struct {
	NetworkID   uint64
	Flags       uint8
	COM         *credential.COM
	GatherLimit uint32 // sent when Flags has 0x02
	Src         [6]byte
	HasSrc      bool
	Group       netconf.MulticastGroup
	EtherType   uint16
	Data        []byte
}

// Append serializes a MULTICAST_FRAME payload.
func (m *MulticastFrame) Append(b []byte) []byte {
	b = wire.AppendU64(b, m.NetworkID)
	flags := m.Flags &^ (MulticastFlagCOM | MulticastFlagSourceMAC)
	if m.COM != nil {
		flags |= MulticastFlagCOM
	}
	if m.HasSrc {
		flags |= MulticastFlagSourceMAC
	}
	b = append(b, flags)
	if m.COM != nil {
		b = m.COM.Append(b)
	}
	if flags&MulticastFlagGatherLimit != 0 {
		b = wire.AppendU32(b, m.GatherLimit)
	}
	if m.HasSrc {
		b = append(b, m.Src[:]...)
	}
	b = append(b, m.Group.MAC[:]...)
	b = wire.AppendU32(b, m.Group.ADI)
	b = wire.AppendU16(b, m.EtherType)
	return append(b, m.Data...)
}

// ParseMulticastFrame reads a MULTICAST_FRAME payload.
func ParseMulticastFrame(b []byte) (*MulticastFrame, error) {
	r := wire.NewReader(b)
	m := &MulticastFrame{NetworkID: r.U64("network ID"), Flags: r.U8("flags")}
	if r.Err() == nil && m.Flags&MulticastFlagCOM != 0 {
		c, n, err := credential.ParseCOM(r.B[r.Off:])
		if err != nil {
			return nil, fmt.Errorf("MULTICAST_FRAME: %w", err)
		}
		m.COM = c
		r.Off += n
	}
	if m.Flags&MulticastFlagGatherLimit != 0 {
		m.GatherLimit = r.U32("gather limit")
	}
	if m.Flags&MulticastFlagSourceMAC != 0 {
		copy(m.Src[:], r.Take(6, "source MAC"))
		m.HasSrc = true
	}
	copy(m.Group.MAC[:], r.Take(6, "group MAC"))
	m.Group.ADI = r.U32("ADI")
	m.EtherType = r.U16("ethertype")
	m.Data = r.Rest()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: MULTICAST_FRAME: %v", ErrMalformed, err)
	}
	return m, nil
}
