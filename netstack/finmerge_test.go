package netstack

import (
	"bytes"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// wireSeg is a segment as it goes out: full checksums, the given sequence
// and acknowledgement numbers.
func wireSeg(v6 bool, seq, ack uint32, flags header.TCPFlags, payload []byte) []byte {
	f := gsoFrame(v6, []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3}, payload, flags)
	p, _ := parseTCPFrame(f)
	th := header.TCP(f[p.l4:])
	th.SetSequenceNumber(seq)
	th.SetAckNumber(ack)
	th.SetChecksum(0)
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, p.src, p.dst, uint16(len(f)-p.l4))
	th.SetChecksum(^checksum.Checksum(f[p.l4:], sum))
	return f
}

// A FIN is folded only into the data segment right before it whose bytes
// it follows; everything else goes out as it was.
func TestMergeFins(t *testing.T) {
	const ack = header.TCPFlagAck
	data := []byte("HTTP/1.1 200 OK\r\n\r\nhello\n")
	for _, v6 := range []bool{false, true} {
		d := wireSeg(v6, 1000, 5, ack|header.TCPFlagPsh, data)
		fin := wireSeg(v6, 1000+uint32(len(data)), 6, ack|header.TCPFlagFin, nil)
		pure := wireSeg(v6, 1000+uint32(len(data)), 6, ack, nil)
		for _, c := range []struct {
			name   string
			frames [][]byte
			want   int // frames out
			merged bool
		}{
			{"data+fin", [][]byte{d, fin}, 1, true},
			{"ack+data+fin", [][]byte{pure, d, fin}, 2, true},
			{"fin first", [][]byte{fin, d}, 2, false},
			{"ack between", [][]byte{d, pure, fin}, 3, false},
			{"gap", [][]byte{d, wireSeg(v6, 1001+uint32(len(data)), 6, ack|header.TCPFlagFin, nil)}, 2, false},
			{"fin with data", [][]byte{d, wireSeg(v6, 1000+uint32(len(data)), 6, ack|header.TCPFlagFin, []byte("x"))}, 2, false},
			{"other version", [][]byte{d, wireSeg(!v6, 1000+uint32(len(data)), 6, ack|header.TCPFlagFin, nil)}, 2, false},
		} {
			frames := make([][]byte, len(c.frames))
			for i, f := range c.frames {
				frames[i] = append([]byte(nil), f...)
			}
			out := mergeFins(frames)
			if len(out) != c.want {
				t.Fatalf("v6=%v %s: %d frames out, want %d", v6, c.name, len(out), c.want)
			}
			var m []byte
			for _, f := range out {
				if err := checkWire(f, 9000); err != nil {
					t.Fatalf("v6=%v %s: %v", v6, c.name, err)
				}
				p, _ := parseTCPFrame(f)
				if th := header.TCP(f[p.l4:]); th.Flags()&header.TCPFlagFin != 0 && th.SequenceNumber() == 1000 {
					m = f
				}
			}
			if (m != nil) != c.merged {
				t.Fatalf("v6=%v %s: merged %v, want %v", v6, c.name, m != nil, c.merged)
			}
			if m == nil {
				continue
			}
			p, _ := parseTCPFrame(m)
			th := header.TCP(m[p.l4:])
			if th.SequenceNumber() != 1000 || th.AckNumber() != 6 || th.Flags() != ack|header.TCPFlagFin|header.TCPFlagPsh ||
				!bytes.Equal(m[p.data:], data) {
				t.Fatalf("v6=%v %s: merged seq %d ack %d flags %v payload %q", v6, c.name, th.SequenceNumber(), th.AckNumber(), th.Flags(), m[p.data:])
			}
		}
	}
}

func FuzzMergeFins(f *testing.F) {
	data := []byte("hello\n")
	f.Add(wireSeg(false, 7, 1, header.TCPFlagAck|header.TCPFlagPsh, data), wireSeg(false, 13, 1, header.TCPFlagAck|header.TCPFlagFin, nil))
	f.Add(wireSeg(true, 7, 1, header.TCPFlagAck, data), wireSeg(true, 13, 2, header.TCPFlagAck|header.TCPFlagFin, nil))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		a0 := append([]byte(nil), a...)
		out := mergeFins([][]byte{a, b})
		if len(out) == 2 {
			if !bytes.Equal(a, a0) {
				t.Fatal("a frame not merged was changed")
			}
			return
		}
		// Merged: same size, the same bytes carried, with a FIN and a valid
		// TCP checksum.
		if len(out) != 1 || len(out[0]) != len(a0) {
			t.Fatalf("%d frames out, the first of %d bytes for %d", len(out), len(out[0]), len(a0))
		}
		p, ok := parseTCPFrame(out[0])
		if !ok || !bytes.Equal(out[0][:p.l4], a0[:p.l4]) || !bytes.Equal(out[0][p.data:], a0[p.data:]) {
			t.Fatal("the merged segment's IP header or payload changed")
		}
		th := header.TCP(out[0][p.l4:])
		sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, p.src, p.dst, uint16(len(out[0])-p.l4))
		if th.Flags()&header.TCPFlagFin == 0 || checksum.Checksum(out[0][p.l4:], sum) != 0xffff {
			t.Fatalf("merged flags %v, checksum valid %v", th.Flags(), checksum.Checksum(out[0][p.l4:], sum) == 0xffff)
		}
	})
}
