package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// gsoBatch makes the datagrams of a batch as packet.Split would cut them:
// packets of odd sizes, most of them a head of the path MTU and one shorter
// fragment, some with several full fragments, some unfragmented; each
// datagram's first bytes name its packet and piece.
func gsoBatch(to netip.AddrPort, packets int) []datagram {
	const mtu = 1432
	var ds []datagram
	for p := 0; p < packets; p++ {
		var sizes []int
		switch p % 7 {
		case 3:
			sizes = []int{333 + p} // unfragmented
		case 5:
			sizes = []int{mtu, mtu, mtu, 101 + p} // several fragments, the last short
		default:
			sizes = []int{mtu, 1385 + p%3} // a TCP segment's frame: head and fragment
		}
		for i, size := range sizes {
			b := make([]byte, size)
			for k := range b {
				b[k] = byte(p*31 + i*7 + k)
			}
			binary.BigEndian.PutUint32(b, uint32(p))
			b[4] = byte(i)
			ds = append(ds, datagram{local: 0, to: to, b: b, more: i < len(sizes)-1})
		}
	}
	return ds
}

// sendAndReceive writes ds with the node's batch write and returns the
// datagrams the receiver got, in arrival order, and the messages written.
// With gro, the receiver reads as the node does, UDP_GRO on (batchread.go).
func sendAndReceive(t *testing.T, noGSO, gro bool, ds []datagram) (got [][]byte, msgs, segmented int) {
	t.Helper()
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	rx.SetReadBuffer(4 << 20)
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := range ds {
		ds[i].to = to
	}

	w := newBatchWriter(tx)
	w.noGSO = noGSO
	write := w.write
	w.write = func(ms []ipv4.Message, flags int) (int, error) {
		k, err := write(ms, flags)
		for _, m := range ms[:max(k, 0)] {
			msgs++
			if len(m.OOB) > 0 {
				segmented++
			}
		}
		return k, err
	}
	n := &Node{log: slog.New(slog.NewTextHandler(io.Discard, nil)), writers: []*batchWriter{w}}

	done := make(chan error, 1)
	var br *batchReader
	joinedReads := 0
	if gro {
		var err error
		if br, err = newBatchReader(rx); err != nil {
			t.Fatal(err)
		}
		if !br.gro {
			t.Skip("no UDP_GRO")
		}
	}
	go func() {
		buf := make([]byte, 65536)
		for br != nil && len(got) < len(ds) {
			rx.SetReadDeadline(time.Now().Add(5 * time.Second))
			k, err := br.next()
			if err != nil {
				done <- fmt.Errorf("after %d of %d datagrams: %w", len(got), len(ds), err)
				return
			}
			for j := 0; j < k; j++ {
				b, seg, _ := br.datagram(j)
				if seg > 0 && seg < len(b) {
					joinedReads++
				}
				eachDatagram(b, seg, func(d []byte) { got = append(got, append([]byte(nil), d...)) })
			}
		}
		for len(got) < len(ds) {
			rx.SetReadDeadline(time.Now().Add(5 * time.Second))
			k, err := rx.Read(buf)
			if err != nil {
				done <- fmt.Errorf("after %d of %d datagrams: %w", len(got), len(ds), err)
				return
			}
			got = append(got, append([]byte(nil), buf[:k]...))
		}
		done <- nil
	}()
	n.writeBatch(ds)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if gro && joinedReads == 0 {
		t.Errorf("UDP_GRO on, but no read returned datagrams joined")
	}
	if c := n.Counters.TxDatagrams.Load(); c != uint64(len(ds)) {
		t.Errorf("TxDatagrams = %d, want %d", c, len(ds))
	}
	return got, msgs, segmented
}

func sorted(bs [][]byte) [][]byte {
	s := append([][]byte(nil), bs...)
	sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i], s[j]) < 0 })
	return s
}

// TestBatchSegmentationOffload: a batch written with UDP_SEGMENT arrives as
// exactly the datagrams the one-per-message path sends (none merged, cut
// differently or lost), more than 64 of them and of odd sizes; packets
// complete (their last piece arrives) in the order they were sent. The
// node's reader, which reads a send's datagrams joined, cuts them apart.
func TestBatchSegmentationOffload(t *testing.T) {
	const packets = 60 // 150 datagrams: several windows
	want := gsoBatch(netip.AddrPort{}, packets)
	var wantBytes [][]byte
	for _, d := range want {
		wantBytes = append(wantBytes, d.b)
	}

	plain, _, seg := sendAndReceive(t, true, false, gsoBatch(netip.AddrPort{}, packets))
	if seg != 0 {
		t.Fatalf("with GSO off, %d messages carried UDP_SEGMENT", seg)
	}
	got, msgs, seg := sendAndReceive(t, false, false, gsoBatch(netip.AddrPort{}, packets))
	if seg == 0 || msgs >= len(want) {
		t.Fatalf("%d datagrams went as %d messages, %d of them segmented: no offload", len(want), msgs, seg)
	}
	t.Logf("%d datagrams in %d messages (%d segmented)", len(want), msgs, seg)

	// The node's reader, which has the kernel keep a send's datagrams
	// joined, cuts them apart again.
	joined, _, _ := sendAndReceive(t, false, true, gsoBatch(netip.AddrPort{}, packets))

	for name, g := range map[string][][]byte{"plain": plain, "offloaded": got, "offloaded, read joined": joined} {
		if len(g) != len(want) {
			t.Fatalf("%s: received %d datagrams, want %d", name, len(g), len(want))
		}
		gs, ws := sorted(g), sorted(wantBytes)
		for i := range ws {
			if !bytes.Equal(gs[i], ws[i]) {
				t.Fatalf("%s: received datagrams differ from those sent (first difference at sorted index %d: %d vs %d bytes)",
					name, i, len(gs[i]), len(ws[i]))
			}
		}
	}

	// Each packet's last piece arrives after all its other pieces, and
	// packets' last pieces arrive in send order.
	last := map[uint32]int{}
	for _, d := range want {
		if !d.more {
			last[binary.BigEndian.Uint32(d.b)] = int(d.b[4])
		}
	}
	for name, g := range map[string][][]byte{"offloaded": got, "offloaded, read joined": joined} {
		seen := map[uint32]int{}
		next := uint32(0)
		for _, b := range g {
			p, i := binary.BigEndian.Uint32(b), int(b[4])
			seen[p]++
			if i == last[p] {
				if p != next {
					t.Fatalf("%s: packet %d completed when packet %d was next", name, p, next)
				}
				if seen[p] != last[p]+1 {
					t.Fatalf("%s: packet %d: last piece arrived before %d others", name, p, last[p]+1-seen[p])
				}
				next++
			}
		}
	}
}
