package netstack

import (
	"context"
	"io"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// A coarse timer fires once, never early and at most its duration/32 late
// (plus scheduling); a stopped one does not fire; Reset moves a timer
// between a bucket and a runtime timer either way; an emptied bucket goes.
func TestCoarseTimers(t *testing.T) {
	c := newCoarseClock()
	start := time.Now()
	type result struct {
		name string
		at   time.Duration
	}
	fired := make(chan result, 10)
	after := func(name string, d time.Duration) tcpip.Timer {
		return c.AfterFunc(d, func() { fired <- result{name, time.Since(start)} })
	}
	after("long", 1200*time.Millisecond)
	after("short", 100*time.Millisecond)
	stopped := after("stopped", 1100*time.Millisecond)
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop of a pending coarse timer did not report true, then false")
	}
	after("shortened", 1500*time.Millisecond).Reset(200 * time.Millisecond)
	after("lengthened", 50*time.Millisecond).Reset(1300 * time.Millisecond)
	if n, _ := c.pending(); n != 2 {
		t.Errorf("%d timers in buckets, want 2 (long, lengthened)", n)
	}

	want := map[string]time.Duration{"short": 100 * time.Millisecond, "shortened": 200 * time.Millisecond,
		"long": 1200 * time.Millisecond, "lengthened": 1300 * time.Millisecond}
	for len(want) > 0 {
		select {
		case r := <-fired:
			d, ok := want[r.name]
			if !ok {
				t.Fatalf("%s fired", r.name)
			}
			if r.at < d || r.at > d+d/coarseShare+100*time.Millisecond {
				t.Errorf("%s (%v) fired after %v", r.name, d, r.at)
			}
			delete(want, r.name)
		case <-time.After(3 * time.Second):
			t.Fatalf("not fired: %v", want)
		}
	}
	select {
	case r := <-fired:
		t.Errorf("%s fired too", r.name)
	case <-time.After(200 * time.Millisecond):
	}
	if n, b := c.pending(); n != 0 || b != 0 {
		t.Errorf("%d timers in %d buckets left", n, b)
	}
}

// The TIME-WAIT of connections closed here first waits in buckets of the
// stack's coarse clock, not in the Go runtime's timer heap (coarseclock.go).
func TestTimeWaitTimersAreCoarse(t *testing.T) {
	st := newLocal(t)
	c, ok := st.Clock().(*coarseClock)
	if !ok {
		t.Fatalf("the stack's clock is a %T", st.Clock())
	}
	lo := tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	saddr := tcpip.FullAddress{Addr: lo, Port: 7200}
	serveThenClose(t, st, saddr, ipv4.ProtocolNumber, nil)
	const conns = 50
	for i := 0; i < conns; i++ {
		c, err := gonet.DialTCP(st.Stack, saddr, ipv4.ProtocolNumber)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(c)
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		n, b := c.pending()
		if n >= conns {
			t.Logf("%d coarse timers in %d buckets", n, b)
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%d coarse timers for %d connections in TIME-WAIT", n, conns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
