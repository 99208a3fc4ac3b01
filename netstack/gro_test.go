package netstack

import (
	"bytes"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// recDisp records the IP packets a port endpoint delivers.
type recDisp struct{ got [][]byte }

func (r *recDisp) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	r.got = append(r.got, pkt.Data().AsRange().ToSlice())
}
func (r *recDisp) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// Consecutive segments of a flow delivered while the port is held go up as
// one packet on release, several holders included; unheld, each goes at once.
func TestGROMerges(t *testing.T) {
	const mss, n = 2748, 23
	payload := make([]byte, n*mss)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	ts := []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	orig := gsoFrame(false, ts, payload, header.TCPFlagAck)
	_, segs, err := segmentTCP(nil, nil, orig, mss)
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := newPipe()
	e := newPortEndpoint(pa)
	d := &recDisp{}
	e.Attach(d)

	e.hold()
	e.hold() // a second reader
	for _, s := range segs {
		e.receive(s)
	}
	e.release()
	if len(d.got) != 0 {
		t.Fatalf("%d packets delivered while still held", len(d.got))
	}
	e.release()
	if len(d.got) != 1 {
		t.Fatalf("%d packets delivered on release, want the %d segments merged into 1", len(d.got), n)
	}
	ip := header.IPv4(d.got[0])
	if int(ip.TotalLength()) != len(d.got[0]) || !bytes.Equal(header.TCP(ip.Payload()).Payload(), payload) {
		t.Fatalf("merged packet: total length %d for %d bytes, payload intact %v", ip.TotalLength(), len(d.got[0]),
			bytes.Equal(header.TCP(ip.Payload()).Payload(), payload))
	}

	d.got = nil
	for _, s := range segs[:3] {
		e.receive(s)
	}
	if len(d.got) != 3 {
		t.Fatalf("unheld: %d packets delivered for 3 segments", len(d.got))
	}
}
