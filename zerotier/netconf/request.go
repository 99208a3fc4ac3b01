package netconf

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"

	"ztnc/zerotier/dictionary"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/internal/wire"
)

// Request metadata values a 1.14.1 node sends (VL2.md 2.2).
const (
	MetaProtocolVersion = 12
	MetaMajor           = 1
	MetaMinor           = 14
	MetaRevision        = 1
	RulesEngineRevision = 1
)

// TargetName is ZT_TARGET_NAME for this build ("linux/x86_64" style).
func TargetName() string {
	arch := map[string]string{"amd64": "x86_64", "386": "x86", "arm64": "arm64", "arm": "arm",
		"loong64": "loongarch", "mips": "mips", "mipsle": "mips", "mips64": "mips", "mips64le": "mips",
		"riscv64": "riscv", "ppc64": "powerpc", "ppc64le": "powerpc", "s390x": "s390"}[runtime.GOARCH]
	if arch == "" {
		arch = "unknown"
	}
	osn := map[string]string{"linux": "linux", "windows": "windows", "android": "android", "darwin": "macos",
		"freebsd": "bsd", "openbsd": "bsd", "netbsd": "bsd", "solaris": "solaris", "aix": "aix"}[runtime.GOOS]
	if osn == "" {
		osn = "unknown"
	}
	return osn + "/" + arch
}

// RequestMetadata is the dictionary a 1.14.1 member sends, in its order.
func RequestMetadata(target string) *dictionary.Dict {
	d := &dictionary.Dict{}
	d.SetUint("v", Version)
	d.SetUint("vend", 1)
	d.SetUint("pv", MetaProtocolVersion)
	d.SetUint("majv", MetaMajor)
	d.SetUint("minv", MetaMinor)
	d.SetUint("revv", MetaRevision)
	d.SetUint("mr", 1024)
	d.SetUint("mc", 128)
	d.SetUint("mcr", 64)
	d.SetUint("mt", 128)
	d.SetUint("f", 0)
	d.SetUint("revr", RulesEngineRevision)
	d.SetString("o", target)
	return d
}

// Request is a NETWORK_CONFIG_REQUEST payload.
type Request struct {
	NetworkID uint64
	Metadata  []byte
	Revision  uint64 // of the config held, or 0
	Timestamp int64  // of the config held, or 0
}

// Append serializes the request (always with revision and timestamp).
func (r *Request) Append(b []byte) []byte {
	b = wire.AppendU64(b, r.NetworkID)
	b = wire.AppendU16(b, uint16(len(r.Metadata)))
	b = append(b, r.Metadata...)
	b = wire.AppendU64(b, r.Revision)
	return wire.AppendU64(b, uint64(r.Timestamp))
}

// ParseRequest reads a request; revision and timestamp are optional.
func ParseRequest(b []byte) (*Request, error) {
	rd := wire.NewReader(b)
	r := &Request{NetworkID: rd.U64("network ID")}
	n := int(rd.U16("metadata length"))
	r.Metadata = append([]byte(nil), rd.Take(n, "metadata")...)
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("%w: NETWORK_CONFIG_REQUEST: %v", ErrMalformed, err)
	}
	if rd.Left() >= 16 {
		r.Revision = rd.U64("revision")
		r.Timestamp = int64(rd.U64("timestamp"))
	}
	return r, nil
}

// Chunk is one signed piece of a serialized config (VL2.md 3.2).
type Chunk struct {
	NetworkID uint64
	Data      []byte
	Flags     uint8 // 0x01 fast propagate
	UpdateID  uint64
	Total     uint32
	Index     uint32
	Signature []byte // nil for the legacy unsigned form
}

// MaxChunkData is the controller's chunk size (10024 − (28 + 256)).
const MaxChunkData = 9740

// ChunkFlagFastPropagate asks receivers to flood the chunk to members.
const ChunkFlagFastPropagate = 0x01

func (c *Chunk) signed() []byte {
	b := wire.AppendU64(nil, c.NetworkID)
	b = wire.AppendU16(b, uint16(len(c.Data)))
	b = append(b, c.Data...)
	b = append(b, c.Flags)
	b = wire.AppendU64(b, c.UpdateID)
	b = wire.AppendU32(b, c.Total)
	return wire.AppendU32(b, c.Index)
}

// Append serializes a signed chunk.
func (c *Chunk) Append(b []byte) []byte {
	if c.Signature == nil {
		b = wire.AppendU64(b, c.NetworkID)
		b = wire.AppendU16(b, uint16(len(c.Data)))
		return append(b, c.Data...)
	}
	b = append(b, c.signed()...)
	b = append(b, 1)
	b = wire.AppendU16(b, 96)
	return append(b, c.Signature...)
}

// Sign (re)signs the chunk, e.g. after setting Flags.
func (c *Chunk) Sign(signer *identity.Identity) error {
	sig, err := signer.Sign(c.signed())
	if err != nil {
		return fmt.Errorf("config chunk: sign: %w", err)
	}
	c.Signature = sig
	return nil
}

// Verify checks the controller's signature over the signed region.
func (c *Chunk) Verify(controller *identity.Identity) error {
	if c.Signature == nil {
		return fmt.Errorf("config chunk unsigned")
	}
	if err := controller.Verify(c.signed(), c.Signature); err != nil {
		return fmt.Errorf("config chunk from %s: %w", controller.Address, err)
	}
	return nil
}

// ParseChunk reads a chunk (signed, or the legacy unsigned form that ends
// right after the data).
func ParseChunk(b []byte) (*Chunk, error) {
	r := wire.NewReader(b)
	c := &Chunk{NetworkID: r.U64("network ID")}
	n := int(r.U16("chunk length"))
	c.Data = append([]byte(nil), r.Take(n, "chunk")...)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: config chunk: %v", ErrMalformed, err)
	}
	if r.Left() == 0 {
		c.Total = uint32(n)
		return c, nil
	}
	c.Flags = r.U8("flags")
	c.UpdateID = r.U64("update ID")
	c.Total = r.U32("total length")
	c.Index = r.U32("index")
	st := r.U8("signature type")
	sl := r.U16("signature length")
	if r.Err() == nil && (st != 1 || sl != 96) {
		return nil, fmt.Errorf("%w: config chunk signature type %d length %d", ErrMalformed, st, sl)
	}
	c.Signature = append([]byte(nil), r.Take(96, "signature")...)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: config chunk: %v", ErrMalformed, err)
	}
	if uint64(c.Index)+uint64(len(c.Data)) > uint64(c.Total) || c.Total >= DictCapacity {
		return nil, fmt.Errorf("%w: config chunk index %d + %d beyond total %d", ErrMalformed, c.Index, len(c.Data), c.Total)
	}
	return c, nil
}

// MakeChunks splits and signs a serialized config with a random update ID.
func MakeChunks(nwid uint64, dict []byte, signer *identity.Identity) ([]*Chunk, error) {
	var rb [8]byte
	var uid uint64
	for uid == 0 {
		if _, err := rand.Read(rb[:]); err != nil {
			return nil, fmt.Errorf("config chunks: %w", err)
		}
		uid = binary.BigEndian.Uint64(rb[:])
	}
	var out []*Chunk
	for off := 0; off < len(dict) || off == 0; {
		n := min(len(dict)-off, MaxChunkData)
		c := &Chunk{NetworkID: nwid, Data: dict[off : off+n], UpdateID: uid, Total: uint32(len(dict)), Index: uint32(off)}
		sig, err := signer.Sign(c.signed())
		if err != nil {
			return nil, fmt.Errorf("config chunks: sign: %w", err)
		}
		c.Signature = sig
		out = append(out, c)
		off += n
		if n == 0 {
			break
		}
	}
	return out, nil
}

// Assembler reassembles signed chunks (Network::handleConfigChunk): three
// slots keyed by update ID, least recently used replaced, duplicates
// dropped by their signature-derived chunk ID.
type Assembler struct {
	slots [3]slot
	clock uint64
}

type slot struct {
	updateID uint64
	used     uint64
	buf      []byte
	got      int
	seen     map[uint64]bool
}

// Seen reports whether a signed chunk was already added to its pending
// update (duplicates are not forwarded again).
func (a *Assembler) Seen(c *Chunk) bool {
	id := chunkID(c.Signature)
	for i := range a.slots {
		if a.slots[i].updateID == c.UpdateID && a.slots[i].buf != nil && a.slots[i].seen[id] {
			return true
		}
	}
	return false
}

// chunkID folds the first 16 signature bytes into 8 (the reference's local
// chunk ID).
func chunkID(sig []byte) uint64 {
	var id uint64
	for i := 0; i < 16 && i < len(sig); i++ {
		id ^= uint64(sig[i]) << (8 * (i % 8))
	}
	return id
}

// Add stores a verified chunk; it returns the whole dictionary once all
// bytes of an update have arrived.
func (a *Assembler) Add(c *Chunk) ([]byte, bool) {
	if c.Signature == nil {
		return c.Data, true
	}
	a.clock++
	var s *slot
	for i := range a.slots {
		if a.slots[i].updateID == c.UpdateID && a.slots[i].buf != nil {
			s = &a.slots[i]
		}
	}
	if s == nil {
		s = &a.slots[0]
		for i := range a.slots {
			if a.slots[i].used < s.used {
				s = &a.slots[i]
			}
		}
		*s = slot{updateID: c.UpdateID, buf: make([]byte, c.Total), seen: map[uint64]bool{}}
	}
	s.used = a.clock
	if int(c.Total) != len(s.buf) || int(c.Index)+len(c.Data) > len(s.buf) {
		return nil, false
	}
	id := chunkID(c.Signature)
	if s.seen[id] {
		return nil, false
	}
	s.seen[id] = true
	copy(s.buf[c.Index:], c.Data)
	s.got += len(c.Data)
	if s.got < len(s.buf) {
		return nil, false
	}
	// The slot stays (complete) so duplicates of its chunks are recognized.
	return append([]byte(nil), s.buf...), true
}
