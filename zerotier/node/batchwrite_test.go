package node

import (
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The raw sendmmsg writer sends what x/net's WriteBatch sent: each message
// one datagram of its buffers joined (or, with a UDP_SEGMENT control
// message, several), to IPv4 peers from an AF_INET socket and to IPv4 and
// IPv6 peers from a dual-stack one.
func TestMmsgWriter(t *testing.T) {
	recv4 := listenUDP(t, "udp4", "127.0.0.1:0")
	for _, tc := range []struct {
		name, net, laddr string
		v4               bool
		to               *net.UDPConn
	}{
		{"ipv4", "udp4", "127.0.0.1:0", true, recv4},
		{"dual-stack to ipv4", "udp", "[::]:0", false, recv4},
		{"ipv6", "udp6", "[::1]:0", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := tc.to
			if to == nil {
				to = listenUDP(t, "udp6", "[::1]:0")
			}
			c := listenUDP(t, tc.net, tc.laddr)
			w, err := newMmsgWriter(c, tc.v4)
			if err != nil {
				t.Fatal(err)
			}
			dst := to.LocalAddr().(*net.UDPAddr)
			msgs := []ipv4.Message{
				{Buffers: [][]byte{[]byte("ab"), []byte("cd")}, Addr: dst},
				{Buffers: [][]byte{[]byte("x")}, Addr: dst},
			}
			if n, err := w.write(msgs, 0); n != 2 || err != nil {
				t.Fatalf("write: %d, %v", n, err)
			}
			if msgs[0].N != 4 || msgs[1].N != 1 {
				t.Fatalf("bytes sent %d %d, want 4 1", msgs[0].N, msgs[1].N)
			}
			port := c.LocalAddr().(*net.UDPAddr).Port
			for _, want := range []string{"abcd", "x"} {
				got, from := readUDP(t, to)
				if got != want || from.Port != port {
					t.Fatalf("got %q from port %d, want %q from %d", got, from.Port, want, port)
				}
			}

			// Three datagrams of 3 bytes in one message, cut by the kernel.
			seg := ipv4.Message{Buffers: [][]byte{[]byte("one"), []byte("two"), []byte("six")}, Addr: dst,
				OOB: segmentCmsg(nil, 3)}
			if n, err := w.write([]ipv4.Message{seg}, 0); n != 1 || err != nil {
				t.Fatalf("UDP_SEGMENT write: %d, %v", n, err)
			}
			for _, want := range []string{"one", "two", "six"} {
				if got, _ := readUDP(t, to); got != want {
					t.Fatalf("segment %q, want %q", got, want)
				}
			}
		})
	}
	t.Run("bad address", func(t *testing.T) {
		w, err := newMmsgWriter(recv4, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.write([]ipv4.Message{{Buffers: [][]byte{[]byte("x")}}}, 0); !errors.Is(err, unix.EDESTADDRREQ) {
			t.Fatalf("no address: %v, want EDESTADDRREQ", err)
		}
		v6 := &net.UDPAddr{IP: net.ParseIP("::1"), Port: 9}
		if _, err := w.write([]ipv4.Message{{Buffers: [][]byte{[]byte("x")}, Addr: v6}}, 0); !errors.Is(err, unix.EAFNOSUPPORT) {
			t.Fatalf("IPv6 address from an AF_INET socket: %v, want EAFNOSUPPORT", err)
		}
	})
}

func listenUDP(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	la, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP(network, la)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readUDP(t *testing.T, c *net.UDPConn) (string, *net.UDPAddr) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 2048)
	n, from, err := c.ReadFromUDP(b)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b[:n]), from
}
