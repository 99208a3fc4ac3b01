// Package netstacktest holds what benchmarks of userspace stacks share.
package netstacktest

import (
	"bytes"
	"context"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// ShortConnections runs b.N HTTP-like exchanges, one per connection, from
// client to a listener of server at fa: connect, an 80-byte request, a
// 150-byte answer, the server closing first; 16 at a time on GOMAXPROCS=2,
// as `wrk -c16` in make bench. It reports the process's CPU time per
// connection (both stacks together, and whatever carries their frames),
// the figure to set beside make bench's CPU per request.
func ShortConnections(b *testing.B, client, server *stack.Stack, fa tcpip.FullAddress) {
	ln, err := gonet.ListenTCP(server, fa, ipv4.ProtocolNumber)
	if err != nil {
		b.Fatal(err)
	}
	shortConnections(b, ln, func() (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		return gonet.DialContextTCP(ctx, client, fa, ipv4.ProtocolNumber)
	})
}

// KernelShortConnections is ShortConnections over the host kernel's
// 127.0.0.1: the baseline.
func KernelShortConnections(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	d := net.Dialer{Timeout: 15 * time.Second}
	shortConnections(b, ln, func() (net.Conn, error) { return d.Dial("tcp4", ln.Addr().String()) })
}

func shortConnections(b *testing.B, ln net.Listener, dial func() (net.Conn, error)) {
	defer ln.Close()
	req, answer := bytes.Repeat([]byte("q"), 80), bytes.Repeat([]byte("a"), 150)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if _, err := io.ReadFull(c, make([]byte, len(req))); err == nil {
					c.Write(answer)
				}
				c.Close()
			}()
		}
	}()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := dial()
			if err != nil {
				b.Error(err)
				return
			}
			c.Write(req)
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil || !bytes.Equal(got, answer) {
				b.Errorf("answer: %d bytes, %v", len(got), err)
				return
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-µs/conn")
}
