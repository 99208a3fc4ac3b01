package packet

import (
	"errors"
	"testing"
)

// FuzzReceive runs a datagram through the receive path: classify, parse,
// dearmor with a fixed key, decompress; fragments go through the assembler.
// Nothing may panic, and errors must be the package's wrapped kinds.
func FuzzReceive(f *testing.F) {
	c := loadCapture(f)
	for _, p := range c.Packets {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 13))
	fr := make([]byte, 30)
	fr[13], fr[14] = 0xff, 0x21
	f.Add(fr)
	keys := c.keys(f)
	var asm Assembler
	f.Fuzz(func(t *testing.T, b []byte) {
		switch Classify(b) {
		case KindFragment:
			fg, err := ParseFragment(b)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatal(err)
				}
				return
			}
			asm.AddFragment(fg)
		case KindHead:
			p, err := Parse(b)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatal(err)
				}
				return
			}
			if p.Fragmented() {
				asm.AddHead(p)
			}
			if err := p.Dearmor(keys); err != nil {
				if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrTrustedPath) {
					t.Fatal(err)
				}
				return
			}
			if _, err := p.Decompress(); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
		}
	})
}

// FuzzDecompress feeds arbitrary LZ4 payloads (an authenticated peer could send them).
func FuzzDecompress(f *testing.F) {
	p := New(1, 2, 3, VerbUserMessage, make([]byte, 300)).Compress()
	f.Add([]byte(p.Payload()))
	f.Add([]byte{0x1f, 0, 1, 0})
	f.Fuzz(func(t *testing.T, payload []byte) {
		q := New(1, 2, 3, VerbEcho, payload)
		q[IndexVerb] |= VerbFlagCompressed
		out, err := q.Decompress()
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		if len(out) > MaxPacketSize || out.Compressed() {
			t.Fatalf("bad output length %d", len(out))
		}
	})
}
