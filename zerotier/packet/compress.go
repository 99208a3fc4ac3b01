package packet

import (
	"fmt"

	"github.com/pierrec/lz4/v4"
)

// minCompressSize: ZeroTier only tries to compress packets longer than the
// header plus 64 bytes; smaller ones cannot gain enough to matter.
const minCompressSize = HeaderSize + 64

// Compress LZ4-compresses the payload (bytes 28..end, raw block format) if the
// packet is long enough and the result is strictly smaller, setting the verb's
// compressed flag; otherwise it clears the flag. Call before Armor. It returns
// the packet to use, which may share p's storage.
func (p Packet) Compress() Packet {
	p[IndexVerb] &^= VerbFlagCompressed
	if len(p) <= minCompressSize {
		return p
	}
	buf := make([]byte, lz4.CompressBlockBound(len(p)-HeaderSize))
	n, err := lz4.CompressBlock(p[HeaderSize:], buf, nil)
	if err != nil || n == 0 || HeaderSize+n >= len(p) {
		return p
	}
	out := make(Packet, HeaderSize+n)
	copy(out, p[:HeaderSize])
	copy(out[HeaderSize:], buf[:n])
	out[IndexVerb] |= VerbFlagCompressed
	return out
}

// Decompress reverses Compress after Dearmor. Uncompressed packets are
// returned as they are. The result must fit ZeroTier's 10,024-byte buffer.
func (p Packet) Decompress() (Packet, error) {
	if len(p) < HeaderSize {
		return nil, fmt.Errorf("%w: packet too short", ErrMalformed)
	}
	if !p.Compressed() {
		return p, nil
	}
	if len(p) == HeaderSize {
		return nil, fmt.Errorf("%w: compressed flag set on an empty payload", ErrMalformed)
	}
	out := make(Packet, MaxPacketSize)
	n, err := lz4.UncompressBlock(p[HeaderSize:], out[HeaderSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: LZ4 payload: %v", ErrMalformed, err)
	}
	copy(out, p[:HeaderSize])
	out[IndexVerb] &^= VerbFlagCompressed
	return out[:HeaderSize+n], nil
}
