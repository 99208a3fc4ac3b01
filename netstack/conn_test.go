package netstack

import (
	"io"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// Many short connections in a row, the server closing first (its side goes
// to TIME-WAIT): none may stall.
func TestShortConnectionsDoNotStall(t *testing.T) {
	st := newLocal(t)
	addr := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}), Port: 7000}
	ln, err := gonet.ListenTCP(st.Stack, addr, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 64)
			io.ReadFull(c, b)
			c.Write(b)
			c.Close()
		}
	}()
	n := 5000
	if testing.Short() {
		n = 500
	}
	for i := 0; i < n; i++ {
		c, err := gonet.DialTCP(st.Stack, addr, ipv4.ProtocolNumber)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		c.Write(make([]byte, 64))
		if _, err := io.ReadFull(c, make([]byte, 64)); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		c.Close()
	}
}
