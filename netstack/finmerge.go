package netstack

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// tcpFrame is where the parts of an Ethernet frame carrying a TCP segment
// (IPv4 without fragmentation, or IPv6 without extension headers) are.
type tcpFrame struct {
	v4       bool
	l4       int // offset of the TCP header
	data     int // offset of the payload
	src, dst tcpip.Address
}

// parseTCPFrame finds f's parts; false when f is not a whole TCP segment
// whose IP length matches the frame.
func parseTCPFrame(f []byte) (tcpFrame, bool) {
	const eth = header.EthernetMinimumSize
	if len(f) < eth+header.IPv4MinimumSize {
		return tcpFrame{}, false
	}
	var p tcpFrame
	switch binary.BigEndian.Uint16(f[12:]) {
	case uint16(header.IPv4ProtocolNumber):
		ip := header.IPv4(f[eth:])
		hl := int(ip.HeaderLength())
		if ip[0]>>4 != 4 || hl < header.IPv4MinimumSize || len(ip) < hl || int(ip.TotalLength()) != len(ip) ||
			ip.Protocol() != uint8(header.TCPProtocolNumber) || ip.FragmentOffset() != 0 || ip.More() {
			return tcpFrame{}, false
		}
		p = tcpFrame{v4: true, l4: eth + hl, src: ip.SourceAddress(), dst: ip.DestinationAddress()}
	case uint16(header.IPv6ProtocolNumber):
		if len(f) < eth+header.IPv6MinimumSize {
			return tcpFrame{}, false
		}
		ip := header.IPv6(f[eth:])
		if ip[0]>>4 != 6 || ip.NextHeader() != uint8(header.TCPProtocolNumber) ||
			int(ip.PayloadLength())+header.IPv6MinimumSize != len(ip) {
			return tcpFrame{}, false
		}
		p = tcpFrame{l4: eth + header.IPv6MinimumSize, src: ip.SourceAddress(), dst: ip.DestinationAddress()}
	default:
		return tcpFrame{}, false
	}
	if len(f) < p.l4+header.TCPMinimumSize {
		return tcpFrame{}, false
	}
	off := int(header.TCP(f[p.l4:]).DataOffset())
	if off < header.TCPMinimumSize || len(f) < p.l4+off {
		return tcpFrame{}, false
	}
	p.data = p.l4 + off
	return p, true
}

// flowOut is the sending endpoint's id of an outgoing frame's flow.
func flowOut(f []byte) (stack.TransportEndpointID, bool) {
	p, ok := parseTCPFrame(f)
	if !ok {
		return stack.TransportEndpointID{}, false
	}
	t := header.TCP(f[p.l4:])
	return stack.TransportEndpointID{LocalAddress: p.src, LocalPort: t.SourcePort(), RemoteAddress: p.dst, RemotePort: t.DestinationPort()}, true
}

// mergeFins folds each bare FIN that directly follows the data segment it
// closes into that segment, in place: frames keeps its order, minus the
// FINs folded. gVisor never puts a FIN on a data segment, so a server that
// writes its answer and closes costs two datagrams and the peer's two ACKs;
// one segment carrying both is what Linux sends, and the peer answers it
// with one ACK, which acknowledges both for gVisor too.
//
// The data segment keeps its IP header (length unchanged) and takes the
// FIN's TCP header (the later acknowledgement, window and timestamp) with
// its own sequence number; so both TCP headers must be of the same length.
func mergeFins(frames [][]byte) [][]byte {
	out := frames[:0]
	for i := 0; i < len(frames); i++ {
		if i+1 < len(frames) && foldFin(frames[i], frames[i+1]) {
			out = append(out, frames[i])
			i++
			continue
		}
		out = append(out, frames[i])
	}
	return out
}

// foldFin makes data carry fin's FIN if fin is a bare FIN ending data's
// flow right after data's bytes; false (data untouched) if not.
func foldFin(data, fin []byte) bool {
	d, ok := parseTCPFrame(data)
	if !ok || d.data == len(data) {
		return false
	}
	f, ok := parseTCPFrame(fin)
	if !ok || f.data != len(fin) || f.v4 != d.v4 || f.data-f.l4 != d.data-d.l4 || f.src != d.src || f.dst != d.dst {
		return false
	}
	dt, ft := header.TCP(data[d.l4:d.data]), header.TCP(fin[f.l4:])
	if dt.Flags()&^header.TCPFlagPsh != header.TCPFlagAck || ft.Flags() != header.TCPFlagAck|header.TCPFlagFin ||
		dt.SourcePort() != ft.SourcePort() || dt.DestinationPort() != ft.DestinationPort() ||
		dt.SequenceNumber()+uint32(len(data)-d.data) != ft.SequenceNumber() {
		return false
	}
	seq, psh := dt.SequenceNumber(), dt.Flags()&header.TCPFlagPsh
	copy(dt, ft)
	dt.SetSequenceNumber(seq)
	dt.SetFlags(uint8(header.TCPFlagAck | header.TCPFlagFin | psh))
	dt.SetChecksum(0)
	n := len(data) - d.l4
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, d.src, d.dst, uint16(n))
	dt.SetChecksum(^checksum.Checksum(data[d.l4:], sum))
	return true
}
