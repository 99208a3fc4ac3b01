package netstack

import (
	"encoding/binary"
	"errors"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Segmentation offload, done by us in software.
//
// Each frame costs a trip through gVisor's TCP sender, then the ZeroTier
// layers, then a sendto; per-segment overhead dominates bulk throughput. The
// port endpoint therefore claims "host" GSO: gVisor's TCP then hands over one
// segment of up to gsoMaxSize bytes (with only the pseudo-header sum in its
// checksum field, like Linux's CHECKSUM_PARTIAL), and we cut it into
// MSS-sized segments here, all sent as one batch down to one sendmmsg.
// (gVisor's own "GVisorGSO" mode cuts in the TCP layer and writes the pieces
// one by one, which saves nothing below it.)

// gsoMaxSize bounds one offloaded segment. IPv4's total length is 16 bits
// and gVisor keeps TCP payloads below MaxSize minus its largest headers, so
// this fits in both IP versions.
const gsoMaxSize = 1 << 16

func (e *portEndpoint) GSOMaxSize() uint32 { return gsoMaxSize }

// SupportedGSO: "host" so that the segment reaches WritePackets whole.
func (e *portEndpoint) SupportedGSO() stack.SupportedGSO { return stack.HostGSOSupported }

var errNotTCP = errors.New("netstack: offloaded segment is not TCP over IPv4 or IPv6")

// segmentTCP cuts frame (Ethernet + IPv4/IPv6 + TCP + payload, as gVisor
// made it for offload) into segments of at most mss payload bytes each,
// appending them to buf; it returns buf and the segments, which alias buf.
// Each segment gets its own IP length (and IPv4 ID and header checksum),
// sequence number and full TCP checksum; FIN and PSH stay on the last
// segment only and CWR on the first, as a NIC doing TSO would do.
func segmentTCP(buf []byte, segs [][]byte, frame []byte, mss int) ([]byte, [][]byte, error) {
	const eth = header.EthernetMinimumSize
	if len(frame) < eth+header.IPv4MinimumSize || mss <= 0 {
		return buf, segs, errNotTCP
	}
	var ipLen int
	var v4 bool
	switch et := binary.BigEndian.Uint16(frame[12:]); et {
	case uint16(header.IPv4ProtocolNumber):
		ip := header.IPv4(frame[eth:])
		ipLen = int(ip.HeaderLength())
		if ip[0]>>4 != 4 || ipLen < header.IPv4MinimumSize || ip.Protocol() != uint8(header.TCPProtocolNumber) ||
			ip.FragmentOffset() != 0 || ip.More() {
			return buf, segs, errNotTCP
		}
		v4 = true
	case uint16(header.IPv6ProtocolNumber):
		ip := header.IPv6(frame[eth:])
		ipLen = header.IPv6MinimumSize
		// gVisor's TCP adds no extension header unless an experiment
		// option is asked for; with one there is no TCP header to find.
		if len(ip) < ipLen || ip[0]>>4 != 6 || ip.NextHeader() != uint8(header.TCPProtocolNumber) {
			return buf, segs, errNotTCP
		}
	default:
		return buf, segs, errNotTCP
	}
	l3 := frame[eth:]
	if len(l3) < ipLen+header.TCPMinimumSize {
		return buf, segs, errNotTCP
	}
	tcpLen := int(header.TCP(l3[ipLen:]).DataOffset())
	if tcpLen < header.TCPMinimumSize || len(l3) < ipLen+tcpLen {
		return buf, segs, errNotTCP
	}
	hdrLen := eth + ipLen + tcpLen
	payload := frame[hdrLen:]
	th := header.TCP(frame[eth+ipLen : hdrLen])
	seq, flags := th.SequenceNumber(), th.Flags()
	var id uint16
	var src, dst tcpip.Address
	if v4 {
		ip := header.IPv4(l3)
		id, src, dst = ip.ID(), ip.SourceAddress(), ip.DestinationAddress()
	} else {
		ip := header.IPv6(l3)
		src, dst = ip.SourceAddress(), ip.DestinationAddress()
	}
	for i, off := 0, 0; i == 0 || off < len(payload); i++ {
		n := min(mss, len(payload)-off)
		start := len(buf)
		buf = append(buf, frame[:hdrLen]...)
		buf = append(buf, payload[off:off+n]...)
		seg := buf[start:]
		ip := seg[eth:]
		last := off+n == len(payload)
		if v4 {
			h := header.IPv4(ip)
			h.SetTotalLength(uint16(ipLen + tcpLen + n))
			h.SetID(id + uint16(i))
			h.SetChecksum(0)
			h.SetChecksum(^h.CalculateChecksum())
		} else {
			header.IPv6(ip).SetPayloadLength(uint16(tcpLen + n))
		}
		t := header.TCP(ip[ipLen:])
		t.SetSequenceNumber(seq + uint32(off))
		f := flags
		if !last {
			f &^= header.TCPFlagFin | header.TCPFlagPsh
		}
		if i > 0 {
			f &^= header.TCPFlagCwr
		}
		t.SetFlags(uint8(f))
		t.SetChecksum(0)
		sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(tcpLen+n))
		sum = checksum.Checksum(ip[ipLen:], sum)
		t.SetChecksum(^sum)
		segs = append(segs, seg)
		off += n
	}
	return buf, segs, nil
}
