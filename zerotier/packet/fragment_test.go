package packet

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func fragmentedPacket(t *testing.T, size, mtu int) (Packet, [][]byte) {
	t.Helper()
	keys, _, _ := derivedVectors(t)
	payload := make([]byte, size-HeaderSize)
	for i := range payload {
		payload[i] = byte(i)
	}
	p := New(0x1234, 0x1122334455, 0xaabbccddee, VerbUserMessage, payload)
	p.SetFragmented(NeedsFragmenting(len(p), mtu))
	if err := p.Armor(keys, CipherAESGMACSIV); err != nil {
		t.Fatal(err)
	}
	parts, err := Split(p, mtu)
	if err != nil {
		t.Fatal(err)
	}
	return p, parts
}

func TestSplitLayout(t *testing.T) {
	p, parts := fragmentedPacket(t, 4000, DefaultPhysMTU)
	// 4000 = 1432 + 1416 + 1152 -> head + 2 fragments.
	if len(parts) != 3 || len(parts[0]) != 1432 || len(parts[1]) != 1432 || len(parts[2]) != 16+1152 {
		t.Fatalf("sizes %d %d %d", len(parts[0]), len(parts[1]), len(parts[2]))
	}
	for i, b := range parts[1:] {
		if Classify(b) != KindFragment {
			t.Fatal("fragment not classified")
		}
		f, err := ParseFragment(b)
		if err != nil {
			t.Fatal(err)
		}
		if f.PacketID() != p.ID() || f.Dest() != p.Dest() || f.Total() != 3 || f.Number() != i+1 || f.Hops() != 0 {
			t.Errorf("fragment %d header %x", i+1, b[:16])
		}
	}
	if _, err := Split(New(1, 2, 3, VerbEcho, make([]byte, 2000)), DefaultPhysMTU); err == nil {
		t.Error("split without FRAGMENTED flag")
	}
	if one, _ := Split(New(1, 2, 3, VerbEcho, nil), DefaultPhysMTU); len(one) != 1 {
		t.Error("small packet split")
	}
}

// TestAssembleAnyOrder: heads and fragments in every arrival order, with
// duplicates, give back the armored packet, which then dearmors.
func TestAssembleAnyOrder(t *testing.T) {
	keys, _, _ := derivedVectors(t)
	p, parts := fragmentedPacket(t, 7000, DefaultPhysMTU) // 5 pieces
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		var a Assembler
		order := rng.Perm(len(parts))
		order = append(order, order[0]) // a duplicate after completion starts a new set
		var got Packet
		for n, i := range order[:len(parts)] {
			var done bool
			var out Packet
			if i == 0 {
				out, done = a.AddHead(Packet(parts[0]))
			} else {
				f, _ := ParseFragment(parts[i])
				out, done = a.AddFragment(f)
				// A duplicate fragment is harmless.
				a.AddFragment(f)
			}
			if done != (n == len(parts)-1) {
				t.Fatalf("order %v: done=%v at step %d", order, done, n)
			}
			got = out
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("order %v: reassembled packet differs", order)
		}
		if err := got.Dearmor(keys); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAssemblerRingOverwrite(t *testing.T) {
	_, parts := fragmentedPacket(t, 3000, DefaultPhysMTU)
	var a Assembler
	a.AddHead(Packet(parts[0]))
	// 32 other packet IDs push the partial set out of the ring.
	for i := 0; i < ReassemblyRingSize; i++ {
		f := append([]byte(nil), parts[1]...)
		f[0] ^= byte(i + 1)
		ff, _ := ParseFragment(f)
		a.AddFragment(ff)
	}
	for _, b := range parts[1:] {
		f, _ := ParseFragment(b)
		if _, done := a.AddFragment(f); done {
			t.Fatal("completed although the head was evicted")
		}
	}
	if _, done := a.AddHead(Packet(parts[0])); !done {
		t.Fatal("head after eviction should complete the fresh set")
	}
}

func TestParseFragmentRejects(t *testing.T) {
	mk := func(totalNum byte, n int) []byte {
		b := make([]byte, n)
		b[13], b[14] = 0xff, totalNum
		return b
	}
	for name, b := range map[string][]byte{
		"no data":     mk(0x21, 16),
		"total 1":     mk(0x11, 20),
		"total 8":     mk(0x81, 20),
		"number 0":    mk(0x30, 20),
		"number>=tot": mk(0x33, 20),
		"not frag":    make([]byte, 20),
	} {
		if _, err := ParseFragment(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	f, err := ParseFragment(mk(0x76, 17))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < RelayMaxHops; i++ {
		f.IncrementHops()
	}
	if f.IncrementHops() || f.Hops() != RelayMaxHops {
		t.Error("fragment hop limit")
	}
}
