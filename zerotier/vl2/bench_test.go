package vl2_test

import (
	"fmt"
	"testing"

	"ztnc/zerotier/servicetest"
)

// BenchmarkWriteFrameSmall sends a small unicast frame (a TCP handshake
// segment's size) from one member's port to another's, as the network
// stack hands it over (WriteFrames with one frame); allocations per frame
// are the sender's and the receiver's.
func BenchmarkWriteFrameSmall(b *testing.B) {
	l := newLab(b)
	nwid := uint64(l.ctl.Node.Address())<<24 | 0xbe4c
	if code, _ := call(b, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x", nwid), map[string]any{
		"private": false, "v4AssignMode": map[string]any{"zt": true},
		"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.45.0.1", "ipRangeEnd": "10.45.0.200"}},
		"routes":            []any{map[string]any{"target": "10.45.0.0/24"}},
	}); code != 200 {
		b.Fatal(code)
	}
	x, y := l.leaf(2), l.leaf(3)
	x.VL2.Join(nwid, nil)
	y.VL2.Join(nwid, nil)
	servicetest.WaitFor(b, "configs", func() bool {
		return len(x.VL2.Network(nwid).Addresses()) == 1 && len(y.VL2.Network(nwid).Addresses()) == 1
	})
	nx, ny := x.VL2.Network(nwid), y.VL2.Network(nwid)
	got := make(chan struct{}, 1024)
	ny.Port().SetReceiver(func([]byte) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	frame := unicast(ny.Port().MAC(), nx.Port().MAC(), 0x0800, make([]byte, 60))
	frames := [][]byte{frame}
	// The first frames wait for the peer and a direct path.
	servicetest.WaitFor(b, "a frame through", func() bool {
		_ = nx.Port().WriteFrames(frames)
		select {
		case <-got:
			return true
		default:
			return false
		}
	})
	b.ReportAllocs()
	for b.Loop() {
		if err := nx.Port().WriteFrames(frames); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}
