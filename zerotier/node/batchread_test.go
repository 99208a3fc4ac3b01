package node

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// The reader's run loop waits for the socket right after a read that did
// not fill its batch; nothing may be left behind by that: bursts larger
// than a batch, single datagrams and bursts after pauses all arrive, each
// with its sender's address, on IPv4 and IPv6 sockets.
func TestBatchReaderRun(t *testing.T) {
	for _, tc := range []struct{ network, ip string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(tc.network, func(t *testing.T) {
			rx, err := net.ListenUDP(tc.network, &net.UDPAddr{IP: net.ParseIP(tc.ip)})
			if err != nil {
				t.Skipf("no %s loopback: %v", tc.network, err)
			}
			defer rx.Close()
			tx, err := net.ListenUDP(tc.network, &net.UDPAddr{IP: net.ParseIP(tc.ip)})
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			br, err := newBatchReader(rx)
			if err != nil {
				t.Fatal(err)
			}
			type got struct {
				b    []byte
				from netip.AddrPort
			}
			ch := make(chan got, 1024)
			done := make(chan error, 1)
			go func() {
				done <- br.run(func(k int) {
					for j := 0; j < k; j++ {
						b, seg, from := br.datagram(j)
						eachDatagram(b, seg, func(d []byte) { ch <- got{append([]byte(nil), d...), from} })
					}
				})
			}()
			want := tx.LocalAddr().(*net.UDPAddr).AddrPort()
			to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			seq := 0
			send := func(n int) {
				for i := 0; i < n; i++ {
					if _, err := tx.WriteToUDPAddrPort([]byte{byte(seq), byte(seq >> 8)}, to); err != nil {
						t.Fatal(err)
					}
					seq++
				}
			}
			recv := 0
			expect := func() {
				t.Helper()
				for ; recv < seq; recv++ {
					select {
					case g := <-ch:
						if g.from != want || len(g.b) != 2 {
							t.Fatalf("datagram %d: %d bytes from %v, want 2 from %v", recv, len(g.b), g.from, want)
						}
					case <-time.After(5 * time.Second):
						t.Fatalf("%d of %d datagrams arrived", recv, seq)
					}
				}
			}
			for _, burst := range []int{1, 1, 3 * batchSize, 5, batchSize, batchSize + 1, 1} {
				send(burst)
				expect()
				time.Sleep(10 * time.Millisecond) // the reader waits again
			}
			rx.Close()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("run returned no error on a closed socket")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("run did not return after the socket was closed")
			}
		})
	}
}
