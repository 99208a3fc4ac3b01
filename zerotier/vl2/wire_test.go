package vl2

import (
	"bytes"
	"net/netip"
	"testing"

	"ztnc/zerotier/address"
	"ztnc/zerotier/internal/vl2kat"
	"ztnc/zerotier/netconf"
)

var kat = vl2kat.Hex

const katNW = 0x8056c2e21c84a027

func TestWireKAT(t *testing.T) {
	arp := netconf.ResolutionGroup(netip.MustParseAddr("10.147.17.5"))
	likes := AppendLikes(nil, []Like{{katNW, arp}, {katNW, netconf.Broadcast}})
	if want := kat(t, "multicast_like_payload"); !bytes.Equal(likes, want) {
		t.Fatalf("LIKE %x", likes)
	}
	if ls, err := ParseLikes(likes); err != nil || len(ls) != 2 || ls[0].Group != arp {
		t.Fatal(ls, err)
	}
	g := &Gather{NetworkID: katNW, Group: arp, Limit: 33}
	if want := kat(t, "multicast_gather_payload_no_com"); !bytes.Equal(g.Append(nil), want) {
		t.Fatalf("GATHER %x", g.Append(nil))
	}
	res := &GatherResult{NetworkID: katNW, Group: arp, Total: 1, Members: []address.Address{0x87c29dbef6}}
	ok := append([]byte{0x0d, 1, 2, 3, 4, 5, 6, 7, 8}, res.AppendOKGather(nil)...)
	if want := kat(t, "ok_multicast_gather_payload"); !bytes.Equal(ok, want) {
		t.Fatalf("OK(GATHER) %x", ok)
	}
	if p, err := ParseGatherResult(ok[9:], false); err != nil || len(p.Members) != 1 || p.Members[0] != 0x87c29dbef6 {
		t.Fatal(p, err)
	}
	ef := &ExtFrame{NetworkID: katNW, EtherType: 0x0800, Data: []byte{0x45, 0x00}}
	copy(ef.Dest[:], netconf.MAC(0x0123456789, katNW))
	copy(ef.Src[:], netconf.MAC(0x87c29dbef6, katNW))
	if want := kat(t, "ext_frame_payload_head"); !bytes.Equal(ef.Append(nil), want) {
		t.Fatalf("EXT_FRAME %x", ef.Append(nil))
	}
	fr := &Frame{NetworkID: katNW, EtherType: 0x0806, Data: []byte{0, 1, 8, 0, 6, 4, 0, 1}}
	if want := kat(t, "frame_payload_head"); !bytes.Equal(fr.Append(nil), want) {
		t.Fatalf("FRAME %x", fr.Append(nil))
	}
	mf := &MulticastFrame{NetworkID: katNW, Flags: MulticastFlagGatherLimit, GatherLimit: 5, HasSrc: true, Group: arp, EtherType: 0x0806, Data: []byte{1, 2}}
	copy(mf.Src[:], ef.Src[:])
	p, err := ParseMulticastFrame(mf.Append(nil))
	if err != nil || p.GatherLimit != 5 || !p.HasSrc || p.Src != mf.Src || p.Group != arp || !bytes.Equal(p.Data, mf.Data) {
		t.Fatal(p, err)
	}
	okmf := res.AppendOKMulticastFrame(nil)
	if p, err := ParseGatherResult(okmf, true); err != nil || len(p.Members) != 1 {
		t.Fatal(p, err)
	}
}

func FuzzParseFrames(f *testing.F) {
	f.Add(byte(0), kat(f, "frame_payload_head"))
	f.Add(byte(1), kat(f, "ext_frame_payload_head"))
	f.Add(byte(2), kat(f, "multicast_like_payload"))
	f.Add(byte(3), kat(f, "multicast_gather_payload_no_com"))
	f.Add(byte(4), kat(f, "ok_multicast_gather_payload")[9:])
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		switch kind % 7 {
		case 0:
			if x, err := ParseFrame(b); err == nil && !bytes.Equal(x.Append(nil), b) {
				t.Fatal("FRAME round trip")
			}
		case 1:
			if x, err := ParseExtFrame(b); err == nil {
				if _, err := ParseExtFrame(x.Append(nil)); err != nil {
					t.Fatal(err)
				}
			}
		case 2:
			if x, err := ParseLikes(b); err == nil && !bytes.Equal(AppendLikes(nil, x), b) {
				t.Fatal("LIKE round trip")
			}
		case 3:
			if x, err := ParseGather(b); err == nil {
				if _, err := ParseGather(x.Append(nil)); err != nil {
					t.Fatal(err)
				}
			}
		case 4:
			_, _ = ParseGatherResult(b, false)
		case 5:
			_, _ = ParseGatherResult(b, true)
		case 6:
			if x, err := ParseMulticastFrame(b); err == nil {
				if _, err := ParseMulticastFrame(x.Append(nil)); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
