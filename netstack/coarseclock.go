package netstack

import (
	"math/bits"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// The stack's clock keeps its long timers (a second or more: TIME-WAIT,
// FIN-WAIT-2, the SYN-ACK retransmission, neighbour reachability) out of
// the Go runtime's timer heap: they wait in buckets, each one runtime
// timer, and fire up to 1/32 of their duration late, never early.
//
// Why: the runtime looks through a P's whole timer heap (timers.adjust)
// whenever a timer modified since its last look comes due, and gVisor
// modifies timers all the time (its tail-loss probe, a few RTTs away, on
// most segments sent). A server closing 1,500 connections a second had
// ~4,500 timers in the heap at each of ~200 looks a second, most of them
// TIME-WAIT's (and 60 s FIN-WAIT-2 timers, stopped but left in the heap
// until a look); timers.adjust was the top symbol of its profile. Now the
// heap holds ~80 at a look: the short timers, cheap to look through.
const (
	coarseFrom  = time.Second // a timer at least this long is coarse
	coarseShare = 32          // and fires at most its duration/coarseShare late
)

// coarseClock is a tcpip.Clock whose long timers are coarse.
type coarseClock struct {
	base time.Time // monotonic readings are durations since base

	mu      sync.Mutex
	buckets map[int64]*bucket // by when they fire, ns since base
}

// bucket is the coarse timers that fire at one time.
type bucket struct {
	at    int64
	rt    *time.Timer
	first *coarseTimer
}

// coarseTimer is a tcpip.Timer: coarse while in a bucket, otherwise a
// runtime timer (made when first needed).
type coarseTimer struct {
	c *coarseClock
	f func()

	// Guarded by c.mu.
	b          *bucket
	prev, next *coarseTimer
	rt         *time.Timer
}

func newCoarseClock() *coarseClock {
	return &coarseClock{base: time.Now(), buckets: map[int64]*bucket{}}
}

func (c *coarseClock) Now() time.Time { return time.Now() }

func (c *coarseClock) NowMonotonic() tcpip.MonotonicTime {
	return tcpip.MonotonicTime{}.Add(time.Since(c.base))
}

// AfterFunc runs f in its own goroutine after d.
func (c *coarseClock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	t := &coarseTimer{c: c, f: f}
	t.Reset(d)
	return t
}

// Stop reports whether t was pending (and now will not fire).
func (t *coarseTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.stopLocked()
}

// Reset makes t fire after d (whether it was pending or not).
func (t *coarseTimer) Reset(d time.Duration) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < coarseFrom {
		if t.b != nil {
			t.stopLocked()
		}
		if t.rt == nil {
			t.rt = time.AfterFunc(d, t.f)
		} else {
			t.rt.Reset(d) // pending or not
		}
		return
	}
	t.stopLocked()
	// The bucket: the next multiple of the largest power of two ns that is
	// at most d/coarseShare.
	g := int64(1) << (bits.Len64(uint64(d/coarseShare)) - 1)
	at := (int64(time.Since(c.base)+d) + g - 1) &^ (g - 1)
	b := c.buckets[at]
	if b == nil {
		b = &bucket{at: at}
		b.rt = time.AfterFunc(time.Duration(at)-time.Since(c.base), func() { c.fire(b) })
		c.buckets[at] = b
	}
	t.b, t.next = b, b.first
	if b.first != nil {
		b.first.prev = t
	}
	b.first = t
}

// stopLocked takes t out of its bucket (dropping the bucket if it is left
// empty) or stops its runtime timer.
func (t *coarseTimer) stopLocked() bool {
	b := t.b
	if b == nil {
		return t.rt != nil && t.rt.Stop()
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		b.first = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.b, t.prev, t.next = nil, nil, nil
	if b.first == nil {
		b.rt.Stop()
		delete(t.c.buckets, b.at)
	}
	return true
}

// fire runs the callbacks of b's timers, each in its own goroutine as
// tcpip.Clock promises (a callback may wait for a lock).
func (c *coarseClock) fire(b *bucket) {
	c.mu.Lock()
	if c.buckets[b.at] != b { // emptied and dropped as this fired
		c.mu.Unlock()
		return
	}
	delete(c.buckets, b.at)
	var fs []func()
	for t := b.first; t != nil; {
		next := t.next
		fs = append(fs, t.f)
		t.b, t.prev, t.next = nil, nil, nil
		t = next
	}
	b.first = nil
	c.mu.Unlock()
	for _, f := range fs {
		go f()
	}
}

// pending is how many timers wait in buckets, and in how many buckets.
func (c *coarseClock) pending() (timers, buckets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.buckets {
		for t := b.first; t != nil; t = t.next {
			timers++
		}
	}
	return timers, len(c.buckets)
}
