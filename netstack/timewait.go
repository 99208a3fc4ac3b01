package netstack

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// A connection request (a bare SYN) for a connection this stack still holds
// in TIME-WAIT ends the TIME-WAIT, and the listener takes the request.
//
// Why: gVisor takes such a SYN only if its sequence number is above the old
// connection's, and otherwise drops it without a word until TIME-WAIT ends
// (60 s). A client whose stack was restarted (any ztnc-run, whose sequence
// numbers start from a fresh secret) reuses a port the server closed first
// with even odds of a lower number, and its connect then hangs for up to a
// minute: wrk against nginx under ztnc served 1,600 requests/s on a fresh
// server and 40 on the next run. Linux takes the SYN when it is newer by
// sequence or by timestamp, and otherwise answers with an ACK whose RST
// reply ends the TIME-WAIT, so its clients wait one retransmission at most.
// The network is authenticated end to end, so the old duplicates TIME-WAIT
// guards against cannot be forged; a late one would be reset by its sender.

// endTimeWait, given a frame in, ends a TIME-WAIT the frame's SYN reopens.
func (e *portEndpoint) endTimeWait(frame []byte) {
	if e.stack == nil || len(frame) < header.EthernetMinimumSize {
		return
	}
	var id stack.TransportEndpointID
	var proto tcpip.NetworkProtocolNumber
	var seg []byte
	ip := frame[header.EthernetMinimumSize:]
	switch tcpip.NetworkProtocolNumber(binary.BigEndian.Uint16(frame[12:14])) {
	case header.IPv4ProtocolNumber:
		h := header.IPv4(ip)
		if len(ip) < header.IPv4MinimumSize || h.Protocol() != uint8(header.TCPProtocolNumber) ||
			h.More() || h.FragmentOffset() != 0 {
			return
		}
		hl := int(h.HeaderLength())
		if hl < header.IPv4MinimumSize || len(ip) < hl {
			return
		}
		proto, seg = header.IPv4ProtocolNumber, ip[hl:]
		id.LocalAddress, id.RemoteAddress = h.DestinationAddress(), h.SourceAddress()
	case header.IPv6ProtocolNumber:
		h := header.IPv6(ip)
		// Extension headers are not looked through: TCP follows at once here.
		if len(ip) < header.IPv6MinimumSize || h.NextHeader() != uint8(header.TCPProtocolNumber) {
			return
		}
		proto, seg = header.IPv6ProtocolNumber, ip[header.IPv6MinimumSize:]
		id.LocalAddress, id.RemoteAddress = h.DestinationAddress(), h.SourceAddress()
	default:
		return
	}
	if len(seg) < header.TCPMinimumSize {
		return
	}
	t := header.TCP(seg)
	if t.Flags()&(header.TCPFlagSyn|header.TCPFlagAck|header.TCPFlagRst) != header.TCPFlagSyn {
		return
	}
	id.LocalPort, id.RemotePort = t.DestinationPort(), t.SourcePort()
	found := e.stack.FindTransportEndpoint(proto, header.TCPProtocolNumber, id, e.nic)
	if ep, ok := found.(*tcp.Endpoint); ok && tcp.EndpointState(ep.State()) == tcp.StateTimeWait {
		// Abort leaves the demultiplexer before it returns: the SYN, delivered
		// next, finds the listener. (Its RST to the old connection is ignored
		// by a client in SYN-SENT, as its acknowledgement is not of the SYN.)
		ep.Abort()
	}
}
