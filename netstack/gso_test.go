package netstack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// gsoFrame builds an offloaded segment as gVisor hands it over: one big TCP
// segment whose checksum field holds only the pseudo-header sum.
func gsoFrame(v6 bool, opts []byte, payload []byte, flags header.TCPFlags) []byte {
	tcpLen := header.TCPMinimumSize + len(opts)
	f := make([]byte, header.EthernetMinimumSize)
	header.Ethernet(f).Encode(&header.EthernetFields{SrcAddr: "\x02\x00\x00\x00\x00\x01", DstAddr: "\x02\x00\x00\x00\x00\x02", Type: header.IPv4ProtocolNumber})
	src4, dst4 := tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), tcpip.AddrFrom4([4]byte{10, 0, 0, 2})
	src6 := tcpip.AddrFrom16([16]byte{0: 0xfd, 15: 1})
	dst6 := tcpip.AddrFrom16([16]byte{0: 0xfd, 15: 2})
	src, dst := src4, dst4
	if v6 {
		src, dst = src6, dst6
		binary.BigEndian.PutUint16(f[12:], uint16(header.IPv6ProtocolNumber))
		ip := make([]byte, header.IPv6MinimumSize)
		header.IPv6(ip).Encode(&header.IPv6Fields{PayloadLength: uint16(tcpLen + len(payload)), TransportProtocol: header.TCPProtocolNumber, HopLimit: 64, SrcAddr: src, DstAddr: dst})
		f = append(f, ip...)
	} else {
		ip := make([]byte, header.IPv4MinimumSize)
		header.IPv4(ip).Encode(&header.IPv4Fields{TotalLength: uint16(header.IPv4MinimumSize + tcpLen + len(payload)), ID: 0xfffe, Flags: header.IPv4FlagDontFragment, TTL: 64, Protocol: uint8(header.TCPProtocolNumber), SrcAddr: src, DstAddr: dst})
		header.IPv4(ip).SetChecksum(^header.IPv4(ip).CalculateChecksum())
		f = append(f, ip...)
	}
	t := make([]byte, tcpLen)
	header.TCP(t).Encode(&header.TCPFields{SrcPort: 5201, DstPort: 40000, SeqNum: 0xffffff00, AckNum: 77, DataOffset: uint8(tcpLen), Flags: flags, WindowSize: 1000})
	copy(t[header.TCPMinimumSize:], opts)
	header.TCP(t).SetChecksum(header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(tcpLen+len(payload))))
	f = append(f, t...)
	return append(f, payload...)
}

// checkSegments parses each segment with gVisor's parsers and checks what
// a receiver relies on; it returns the payload reassembled.
func checkSegments(t *testing.T, orig []byte, segs [][]byte, mss int) []byte {
	t.Helper()
	const eth = header.EthernetMinimumSize
	var out []byte
	var wantSeq uint32
	var wantID uint16
	origFlags := header.TCP(orig[eth+ipHdrLen(orig):]).Flags()
	for i, s := range segs {
		if !bytes.Equal(s[:eth], orig[:eth]) {
			t.Fatalf("segment %d: Ethernet header changed", i)
		}
		var tcp header.TCP
		var src, dst tcpip.Address
		if binary.BigEndian.Uint16(s[12:]) == uint16(header.IPv4ProtocolNumber) {
			ip := header.IPv4(s[eth:])
			if !ip.IsValid(len(s)-eth) || int(ip.TotalLength()) != len(s)-eth {
				t.Fatalf("segment %d: bad IPv4 header or length %d for %d bytes", i, ip.TotalLength(), len(s)-eth)
			}
			if !ip.IsChecksumValid() {
				t.Fatalf("segment %d: bad IPv4 header checksum", i)
			}
			if i > 0 && ip.ID() != wantID {
				t.Fatalf("segment %d: IPv4 ID %d, want %d", i, ip.ID(), wantID)
			}
			wantID = ip.ID() + 1
			tcp, src, dst = header.TCP(ip.Payload()), ip.SourceAddress(), ip.DestinationAddress()
		} else {
			ip := header.IPv6(s[eth:])
			if !ip.IsValid(len(s)-eth) || int(ip.PayloadLength())+header.IPv6MinimumSize != len(s)-eth {
				t.Fatalf("segment %d: bad IPv6 header or payload length %d for %d bytes", i, ip.PayloadLength(), len(s)-eth)
			}
			tcp, src, dst = header.TCP(ip.Payload()), ip.SourceAddress(), ip.DestinationAddress()
		}
		payload := tcp.Payload()
		if !tcp.IsChecksumValid(src, dst, checksum.Checksum(payload, 0), uint16(len(payload))) {
			t.Fatalf("segment %d: bad TCP checksum", i)
		}
		if len(payload) > mss || (i < len(segs)-1 && len(payload) != mss) {
			t.Fatalf("segment %d: %d payload bytes with MSS %d", i, len(payload), mss)
		}
		if i > 0 && tcp.SequenceNumber() != wantSeq {
			t.Fatalf("segment %d: seq %#x, want %#x", i, tcp.SequenceNumber(), wantSeq)
		}
		wantSeq = tcp.SequenceNumber() + uint32(len(payload))
		last := i == len(segs)-1
		f := tcp.Flags()
		if f.Contains(header.TCPFlagFin) != (last && origFlags.Contains(header.TCPFlagFin)) ||
			f.Contains(header.TCPFlagPsh) != (last && origFlags.Contains(header.TCPFlagPsh)) ||
			f.Contains(header.TCPFlagCwr) != (i == 0 && origFlags.Contains(header.TCPFlagCwr)) ||
			!f.Contains(header.TCPFlagAck) {
			t.Fatalf("segment %d of %d: flags %v from %v", i, len(segs), f, origFlags)
		}
		out = append(out, payload...)
	}
	return out
}

func ipHdrLen(frame []byte) int {
	if binary.BigEndian.Uint16(frame[12:]) == uint16(header.IPv6ProtocolNumber) {
		return header.IPv6MinimumSize
	}
	return int(header.IPv4(frame[header.EthernetMinimumSize:]).HeaderLength())
}

func TestSegmentTCP(t *testing.T) {
	tsOpts := []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2} // NOP NOP timestamps
	for _, v6 := range []bool{false, true} {
		for _, opts := range [][]byte{nil, tsOpts} {
			for _, size := range []int{0, 1, 1000, 2748, 2749, 3*2748 + 17, 23 * 2748, 65000} {
				name := fmt.Sprintf("v6=%v/opts=%d/size=%d", v6, len(opts), size)
				t.Run(name, func(t *testing.T) {
					payload := make([]byte, size)
					for i := range payload {
						payload[i] = byte(i * 7)
					}
					flags := header.TCPFlagAck | header.TCPFlagPsh | header.TCPFlagFin | header.TCPFlagCwr
					orig := gsoFrame(v6, opts, payload, flags)
					const mss = 2748
					_, segs, err := segmentTCP(nil, nil, orig, mss)
					if err != nil {
						t.Fatal(err)
					}
					if want := max(1, (size+mss-1)/mss); len(segs) != want {
						t.Fatalf("%d segments, want %d", len(segs), want)
					}
					if got := checkSegments(t, orig, segs, mss); !bytes.Equal(got, payload) {
						t.Fatalf("payload reassembled to %d bytes, not the %d sent", len(got), size)
					}
				})
			}
		}
	}
}

func TestSegmentTCPRefusesOthers(t *testing.T) {
	udp := gsoFrame(false, nil, make([]byte, 100), header.TCPFlagAck)
	header.IPv4(udp[header.EthernetMinimumSize:]).SetChecksum(0)
	udp[header.EthernetMinimumSize+9] = uint8(header.UDPProtocolNumber)
	arp := append([]byte(nil), udp...)
	binary.BigEndian.PutUint16(arp[12:], uint16(header.ARPProtocolNumber))
	for name, f := range map[string][]byte{"udp": udp, "arp": arp, "short": udp[:30], "empty": nil} {
		if _, _, err := segmentTCP(nil, nil, f, 1000); err == nil {
			t.Errorf("%s: segmented", name)
		}
	}
}

// FuzzSegmentTCP: any frame is either refused or cut into valid segments
// carrying its payload.
func FuzzSegmentTCP(f *testing.F) {
	// Small seeds: from multi-kilobyte ones the fuzzer made almost no
	// progress (a few hundred executions, then none).
	f.Add(gsoFrame(false, nil, make([]byte, 300), header.TCPFlagAck|header.TCPFlagFin), uint16(100))
	f.Add(gsoFrame(true, []byte{1, 1, 1, 1}, make([]byte, 500), header.TCPFlagAck), uint16(40))
	f.Fuzz(func(t *testing.T, frame []byte, mss uint16) {
		if len(frame) > 70000 {
			return
		}
		// An MSS of a few bytes makes tens of thousands of segments per
		// input and stalls the fuzzer; any real one is hundreds of bytes.
		m := 200 + int(mss)%9000
		_, segs, err := segmentTCP(nil, nil, frame, m)
		if err != nil {
			return
		}
		// Only lengths, IDs and checksums are ours to make valid; the
		// rest of the headers is whatever the input said.
		const eth = header.EthernetMinimumSize
		hl := ipHdrLen(frame)
		tl := int(header.TCP(frame[eth+hl:]).DataOffset())
		var got []byte
		for i, s := range segs {
			ipl := len(s) - eth
			var src, dst tcpip.Address
			if hl == header.IPv6MinimumSize && binary.BigEndian.Uint16(s[12:]) == uint16(header.IPv6ProtocolNumber) {
				ip := header.IPv6(s[eth:])
				if int(ip.PayloadLength()) != ipl-hl {
					t.Fatalf("segment %d: IPv6 payload length %d for %d bytes", i, ip.PayloadLength(), ipl-hl)
				}
				src, dst = ip.SourceAddress(), ip.DestinationAddress()
			} else {
				ip := header.IPv4(s[eth:])
				if int(ip.TotalLength()) != ipl || !ip.IsChecksumValid() {
					t.Fatalf("segment %d: IPv4 total length %d for %d bytes or bad checksum", i, ip.TotalLength(), ipl)
				}
				src, dst = ip.SourceAddress(), ip.DestinationAddress()
			}
			tcp := s[eth+hl:]
			if checksum.Checksum(tcp, header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(tcp)))) != 0xffff {
				t.Fatalf("segment %d: bad TCP checksum", i)
			}
			if len(tcp)-tl > m {
				t.Fatalf("segment %d: %d payload bytes, MSS %d", i, len(tcp)-tl, m)
			}
			got = append(got, tcp[tl:]...)
		}
		if !bytes.Equal(got, frame[eth+hl+tl:]) {
			t.Fatalf("payload reassembled to %d bytes, not the %d given", len(got), len(frame)-eth-hl-tl)
		}
	})
}
