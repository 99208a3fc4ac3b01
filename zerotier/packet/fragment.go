package packet

import (
	"encoding/binary"
	"fmt"
	"sync"

	"ztnc/zerotier/address"
)

// Fragment layout (node/Packet.hpp Packet::Fragment):
//
//	0   8  packet ID of the whole packet (the on-wire, armored ID)
//	8   5  destination address
//	13  1  0xff fragment indicator
//	14  1  high nibble: total fragments including the head; low nibble: this number (head = 0)
//	15  1  hop count (low 3 bits)
//	16  …  data
const (
	FragmentHeaderSize = 16
	FragmentIndicator  = 0xff
	// MaxFragments is the most pieces (head included) a 1.14 receiver accepts;
	// the 4-bit wire field would allow 16.
	MaxFragments = 7
	// ReassemblyRingSize is the number of partially received packets kept.
	ReassemblyRingSize = 32
)

// Fragment is one non-head piece of a fragmented packet; it aliases the
// datagram it was parsed from.
type Fragment []byte

// ParseFragment checks a datagram that Classify called KindFragment: header
// present, at least one data byte, and a fragment number/total a 1.14
// receiver accepts (1 < total <= 7, 1 <= number < total).
func ParseFragment(b []byte) (Fragment, error) {
	if len(b) <= FragmentHeaderSize {
		return nil, fmt.Errorf("%w: fragment of %d bytes has no data", ErrMalformed, len(b))
	}
	if b[13] != FragmentIndicator {
		return nil, fmt.Errorf("%w: byte 13 is %#x, not the fragment indicator", ErrMalformed, b[13])
	}
	f := Fragment(b)
	if t, n := f.Total(), f.Number(); t <= 1 || t > MaxFragments || n < 1 || n >= t {
		return nil, fmt.Errorf("%w: fragment %d of %d not acceptable", ErrMalformed, n, t)
	}
	return f, nil
}

func (f Fragment) PacketID() uint64      { return binary.BigEndian.Uint64(f[0:]) }
func (f Fragment) Dest() address.Address { a, _ := address.FromBytes(f[8:]); return a }
func (f Fragment) Total() int            { return int(f[14] >> 4) }
func (f Fragment) Number() int           { return int(f[14] & 0x0f) }
func (f Fragment) Hops() int             { return int(f[15] & flagHopsMask) }
func (f Fragment) Data() []byte          { return f[FragmentHeaderSize:] }

// IncrementHops bumps the fragment's own hop byte for relaying; false once
// the relay limit is reached.
func (f Fragment) IncrementHops() bool {
	h := f.Hops()
	if h >= RelayMaxHops {
		return false
	}
	f[15] = byte(h + 1)
	return true
}

// NeedsFragmenting reports whether a packet of this size must be split at
// mtu. Call SetFragmented(NeedsFragmenting(...)) before Armor.
func NeedsFragmenting(size, mtu int) bool { return size > mtu }

// Split cuts an armored packet into datagrams for a path with the given MTU:
// the head (first mtu bytes) then fragments of at most mtu-16 data bytes.
// Like 1.14 it does not enforce the 7-piece receive limit; with the default
// MTU any packet up to MaxPacketSize fits.
func Split(p Packet, mtu int) ([][]byte, error) {
	if mtu <= FragmentHeaderSize || mtu < HeaderSize {
		return nil, fmt.Errorf("packet: MTU %d too small", mtu)
	}
	if len(p) <= mtu {
		return [][]byte{p}, nil
	}
	if !p.Fragmented() {
		return nil, fmt.Errorf("packet: %d-byte packet exceeds MTU %d but FRAGMENTED was not set before armoring", len(p), mtu)
	}
	per := mtu - FragmentHeaderSize
	rest := p[mtu:]
	n := (len(rest) + per - 1) / per
	total := n + 1
	if total > 15 {
		return nil, fmt.Errorf("packet: %d fragments exceed the 4-bit field", total)
	}
	out := [][]byte{p[:mtu]}
	for i := 1; i <= n; i++ {
		chunk := rest[:min(per, len(rest))]
		rest = rest[len(chunk):]
		f := make([]byte, FragmentHeaderSize+len(chunk))
		copy(f[0:13], p[0:13]) // packet ID and destination
		f[13] = FragmentIndicator
		f[14] = byte(total<<4 | i)
		copy(f[FragmentHeaderSize:], chunk)
		out = append(out, f)
	}
	return out, nil
}

// Assembler reassembles fragmented packets like 1.14's Switch: a ring of 32
// entries keyed by packet ID; a new ID takes the next slot and overwrites it
// unconditionally (there is no timer; stale sets vanish as the ring wraps).
// It is safe for concurrent use.
type Assembler struct {
	mu   sync.Mutex
	ring [ReassemblyRingSize]assembly
	next int
}

type assembly struct {
	live   bool
	id     uint64
	total  int    // from the latest fragment; 0 until one arrives
	have   uint32 // bit i = piece i received (bit 0 = head)
	pieces [MaxFragments][]byte
}

func (a *Assembler) slot(id uint64) *assembly {
	for i := range a.ring {
		if a.ring[i].live && a.ring[i].id == id {
			return &a.ring[i]
		}
	}
	e := &a.ring[a.next]
	a.next = (a.next + 1) % ReassemblyRingSize
	*e = assembly{live: true, id: id}
	return e
}

// complete assembles and frees the entry once every piece is present.
func (e *assembly) complete() (Packet, bool) {
	// Require exactly pieces 0..total-1 (1.14 counts pieces; with a total
	// that changed between fragments that could assemble a gap).
	if e.total == 0 || e.have != (uint32(1)<<e.total)-1 {
		return nil, false
	}
	size := 0
	for i := 0; i < e.total; i++ {
		size += len(e.pieces[i])
	}
	p := make(Packet, 0, size)
	for i := 0; i < e.total; i++ {
		p = append(p, e.pieces[i]...)
	}
	*e = assembly{}
	return p, true
}

// AddHead records the head of a fragmented packet (a Packet with the
// FRAGMENTED flag, addressed to us) and returns the whole packet if this
// completed it. The bytes are copied.
func (a *Assembler) AddHead(p Packet) (Packet, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.slot(p.ID())
	if e.have&1 == 0 {
		e.pieces[0] = append([]byte(nil), p...)
		e.have |= 1
	}
	return e.complete()
}

// AddFragment records a fragment and returns the whole packet if this
// completed it. Duplicates are ignored. The bytes are copied.
func (a *Assembler) AddFragment(f Fragment) (Packet, bool) {
	n := f.Number()
	if n < 1 || n >= MaxFragments || f.Total() > MaxFragments {
		return nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.slot(f.PacketID())
	e.total = f.Total()
	if e.have&(1<<n) == 0 {
		e.pieces[n] = append([]byte(nil), f.Data()...)
		e.have |= 1 << n
	}
	return e.complete()
}
