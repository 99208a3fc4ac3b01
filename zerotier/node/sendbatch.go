package node

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"ztnc/zerotier/address"
	"ztnc/zerotier/packet"
)

// Batched sends. A bulk TCP transfer hands the node ~20 frames at once (one
// offloaded segment, cut up by the network stack); sent one by one, each
// frame costs a lock round and each of its datagrams a sendto, and system
// calls are what this path spends most of its time on. SendBatch armors all
// of them under one n.mu and writes all their datagrams with sendmmsg. The
// datagrams are exactly those the one-at-a-time path would write, in the
// same order: armorAndWriteLocked runs unchanged, writeLocked only queues.

// Outgoing is one packet of a batch.
type Outgoing struct {
	Dest    address.Address
	Verb    packet.Verb
	Payload []byte
}

// datagram is one write queued by a batch.
type datagram struct {
	local int
	to    netip.AddrPort
	b     []byte
}

// SendBatch sends each packet as Send would, then writes all datagrams.
func (n *Node) SendBatch(out []Outgoing) error {
	for _, o := range out {
		if o.Dest == n.me.Address || o.Dest.IsReserved() {
			return fmt.Errorf("node: cannot send to %s", o.Dest)
		}
		if len(o.Payload) > packet.MaxPayloadSize {
			return fmt.Errorf("node: payload of %d bytes exceeds %d", len(o.Payload), packet.MaxPayloadSize)
		}
	}
	select {
	case <-n.done:
		return ErrClosed
	default:
	}
	now := time.Now()
	bp := batchPool.Get().(*[]datagram)
	n.mu.Lock()
	n.batch, n.batching = (*bp)[:0], true
	for _, o := range out {
		pr := n.peers[o.Dest]
		if pr == nil || !n.trySendLocked(pr, o.Verb, o.Payload, now) {
			n.queueTxLocked(o.Dest, o.Verb, o.Payload, now)
			n.requestWhoisLocked(o.Dest, now)
		}
	}
	batch := n.batch
	n.batch, n.batching = nil, false
	// Writes keep the order packets were armored in (wmu is taken before
	// n.mu is let go), but the next sender need not wait for this one's
	// system call.
	n.wmu.Lock()
	n.mu.Unlock()
	n.writeBatch(batch)
	n.wmu.Unlock()
	clear(batch) // drop references to the datagrams
	*bp = batch[:0]
	batchPool.Put(bp)
	return nil
}

var batchPool = sync.Pool{New: func() any { b := make([]datagram, 0, 64); return &b }}

// writeBatch writes queued datagrams, consecutive ones on the same socket
// with one sendmmsg each. Called with wmu held.
func (n *Node) writeBatch(batch []datagram) {
	for i := 0; i < len(batch); {
		j := i + 1
		for j < len(batch) && batch[j].local == batch[i].local {
			j++
		}
		n.writeMany(batch[i].local, batch[i:j])
		i = j
	}
}

func (n *Node) writeMany(local int, ds []datagram) {
	w := n.writers[local]
	msgs := w.msgs[:0]
	for k, d := range ds {
		if k == len(w.addrs) {
			w.addrs = append(w.addrs, new(net.UDPAddr))
		}
		ua := w.addrs[k]
		ua.IP = append(ua.IP[:0], d.to.Addr().AsSlice()...)
		ua.Port = int(d.to.Port())
		ua.Zone = d.to.Addr().Zone()
		msgs = append(msgs, ipv4.Message{Buffers: [][]byte{d.b}, Addr: ua})
	}
	w.msgs = msgs
	for sent := 0; sent < len(msgs); {
		k, err := w.write(msgs[sent:], 0)
		if err != nil {
			// As writeLocked: a datagram that cannot be written is lost,
			// the rest still go.
			n.log.Debug("UDP batch write", "to", ds[sent].to, "err", err)
			k = max(k, 1)
		} else {
			n.Counters.TxDatagrams.Add(uint64(k))
		}
		sent += k
	}
	for k := range msgs {
		msgs[k] = ipv4.Message{} // drop references to the datagrams
	}
}

// batchWriter is one socket's sendmmsg, with its reused messages.
type batchWriter struct {
	write func([]ipv4.Message, int) (int, error) // ipv4.Message and ipv6.Message are one type
	msgs  []ipv4.Message
	addrs []*net.UDPAddr
}

func newBatchWriter(c *net.UDPConn) *batchWriter {
	if path0(c).Addr().Is4() {
		return &batchWriter{write: ipv4.NewPacketConn(c).WriteBatch}
	}
	return &batchWriter{write: ipv6.NewPacketConn(c).WriteBatch}
}
