package node

import (
	"runtime"
	"time"
)

// Deferred writes. Under load a node makes several datagrams within one
// round of its scheduler: the network stack's TCP processor answers every
// segment of a read at once, each answer a Send. Written one by one, each
// is a sendto, and on loopback a sendto runs the receiver's whole UDP
// receive path and its wake-up inside the call. So a Send leaves its
// datagrams pending and wakes the flusher, which first yields (the
// goroutines already runnable, such as the TCP processor, make their
// datagrams) and then writes all that are pending with one sendmmsg
// (sendbatch.go; datagrams of one size to one peer, such as the ACKs of
// several connections, even go as one UDP_SEGMENT packet).
//
// An idle node's lone Send waits for nothing but that yield: the flusher
// runs as soon as the sending goroutine parks, and yielding with nothing
// else runnable comes straight back.

// sendOne is Send after its checks: its datagrams are left to the flusher.
// Before Start (no flusher yet) they are written at once.
func (n *Node) sendOne(o Outgoing) {
	now := time.Now()
	n.mu.Lock()
	n.batching = true
	n.sendLocked(o, now)
	n.batching = false
	if !n.flushOn.Load() {
		n.writePending()
		return
	}
	wake := len(n.pending) > 0 && !n.flushDue
	if wake {
		n.flushDue = true
	}
	n.mu.Unlock()
	if wake {
		select {
		case n.flush <- struct{}{}:
		default: // already woken
		}
	}
}

// flushLoop writes pending datagrams once the goroutines runnable when the
// first of them was queued have had their turn.
func (n *Node) flushLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.flush:
		case <-n.done:
			return
		}
		// With one P (ztnc-run's GOMAXPROCS), Gosched puts the flusher
		// on the global run queue, which the scheduler takes only when
		// the local one is empty: every goroutine already runnable, and
		// those they wake, run first.
		runtime.Gosched()
		n.mu.Lock()
		n.writePending()
	}
}
