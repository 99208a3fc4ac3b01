package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

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
	more  bool // a later piece of the same packet follows (writePieceLocked)
}

// SendBatch sends each packet as Send would, then writes all datagrams at
// once, with any that single Sends left pending before them (flush.go).
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
	n.mu.Lock()
	n.batching = true
	for _, o := range out {
		n.sendLocked(o, now)
	}
	n.batching = false
	n.writePending()
	return nil
}

// sendLocked sends o by the normal send path (Switch::_trySend), or queues
// it behind a WHOIS.
func (n *Node) sendLocked(o Outgoing, now time.Time) {
	pr := n.peers[o.Dest]
	if pr == nil || !n.trySendLocked(pr, o.Verb, o.Payload, now) {
		n.queueTxLocked(o.Dest, o.Verb, o.Payload, now)
		n.requestWhoisLocked(o.Dest, now)
	}
}

// writePending writes the pending datagrams (n.pending) and unlocks n.mu.
// Writes keep the order packets were armored in (wmu is taken before n.mu
// is let go), but the next sender need not wait for this one's system call
// (a sendto on loopback runs the receiving socket's wake-up inside the
// call, and whoever else wants n.mu, such as the socket reader, would wait
// for all of it).
func (n *Node) writePending() {
	batch := n.pending
	if len(batch) == 0 {
		n.mu.Unlock()
		return
	}
	bp := batchPool.Get().(*[]datagram)
	n.pending = (*bp)[:0]
	n.flushDue = false
	n.wmu.Lock()
	n.mu.Unlock()
	n.writeBatch(batch)
	n.wmu.Unlock()
	clear(batch) // drop references to the datagrams
	*bp = batch[:0]
	batchPool.Put(bp)
}

var batchPool = sync.Pool{New: func() any { b := make([]datagram, 0, 64); return &b }}

// writeBatch writes queued datagrams, consecutive ones on the same socket
// with one sendmmsg each. Called with wmu held.
func (n *Node) writeBatch(batch []datagram) {
	if len(batch) == 1 {
		n.Counters.TxWrites.Add(1)
		// One datagram (a small packet sent alone).
		d := batch[0]
		n.writeOne(d.local, d.to, d.b)
		return
	}
	for i := 0; i < len(batch); {
		j := i + 1
		for j < len(batch) && batch[j].local == batch[i].local {
			j++
		}
		n.writeMany(batch[i].local, batch[i:j])
		i = j
	}
}

// UDP segmentation offload. Loopback or not, most of a datagram's kernel
// cost on the send side is per packet handed to the IP layer (routing,
// netfilter, the loopback hop), not per byte; with UDP_SEGMENT one sendmsg
// carries several datagrams of one size to one address as a single packet
// that is cut into the same datagrams only at the very end (on loopback, at
// the receiving socket). The bytes of every datagram stay what they are; only
// their order within a batch changes, and only so that no packet completes
// later than before:
//
// A 2800-byte frame goes as a head of the path MTU and a shorter fragment,
// so a batch in order is head,frag,head,frag,… and has no two equal sizes
// in a row. Within a window of gsoWindow datagrams, the pieces that are not
// their packet's last (heads, full fragments: all of the path MTU) go first,
// then the last pieces in their original order; so packets complete at the
// receiver in the order they were sent. Both reassemblers (packet.Assembler
// and 1.14's Switch) take a packet's pieces in any order; they keep 32
// incomplete packets, shared with all other traffic, and the window keeps
// the number of packets left incomplete by the reordering well below that.
const (
	gsoWindow = 32 // datagrams
	// gsoMaxSegs and gsoMaxBytes keep a send within the kernel's limits
	// (UDP_MAX_SEGMENTS is 64 on older kernels; an IP packet's 64 KiB).
	gsoMaxSegs  = 64
	gsoMaxBytes = 65535 - 8 - 40
)

func (n *Node) writeMany(local int, ds []datagram) {
	w := n.writers[local]
	if w.noGSO {
		n.writePlain(w, ds)
		return
	}
	for len(ds) > 0 {
		win := ds[:min(gsoWindow, len(ds))]
		ds = ds[len(win):]
		w.order = w.order[:0]
		for _, d := range win {
			if d.more {
				w.order = append(w.order, d)
			}
		}
		for _, d := range win {
			if !d.more {
				w.order = append(w.order, d)
			}
		}
		n.writeGSO(w, w.order)
	}
	clear(w.order)
}

// writeGSO writes ds in order, each run of datagrams to one address whose
// sizes are equal (the run's last may be shorter, as UDP_SEGMENT allows) as
// one message, all messages with one sendmmsg.
func (n *Node) writeGSO(w *batchWriter, ds []datagram) {
	msgs, segs := w.msgs[:0], w.segs[:0]
	for i := 0; i < len(ds); {
		size, total := len(ds[i].b), len(ds[i].b)
		j := i + 1
		for j < len(ds) && j-i < gsoMaxSegs && ds[j].to == ds[i].to && len(ds[j].b) <= size &&
			total+len(ds[j].b) <= gsoMaxBytes {
			total += len(ds[j].b)
			j++
			if len(ds[j-1].b) < size {
				break // a shorter datagram ends the run
			}
		}
		m := ipv4.Message{Addr: w.addr(len(msgs), ds[i].to)}
		k := len(msgs)
		if k == len(w.bufs) {
			w.bufs = append(w.bufs, nil)
			w.oobs = append(w.oobs, nil)
		}
		bufs := w.bufs[k][:0]
		for _, d := range ds[i:j] {
			bufs = append(bufs, d.b)
		}
		w.bufs[k] = bufs
		m.Buffers = bufs
		if j-i > 1 {
			w.oobs[k] = segmentCmsg(w.oobs[k][:0], size)
			m.OOB = w.oobs[k]
		}
		msgs = append(msgs, m)
		segs = append(segs, j-i)
		i = j
	}
	w.msgs, w.segs = msgs, segs
	defer func() {
		for k := range msgs {
			msgs[k] = ipv4.Message{} // drop references to the datagrams
			clear(w.bufs[k])
		}
	}()
	done := 0 // datagrams of ds written or given up on
	for sent := 0; sent < len(msgs); {
		k, err := w.write(msgs[sent:], 0)
		n.Counters.TxWrites.Add(1)
		k = max(k, 0) // -1 with an error
		for _, s := range segs[sent : sent+k] {
			n.Counters.TxDatagrams.Add(uint64(s))
			done += s
		}
		sent += k
		if err == nil || sent == len(msgs) {
			continue
		}
		if segs[sent] > 1 && gsoRefused(err) {
			// The kernel (or this socket's family) has no UDP_SEGMENT:
			// never try again, and send the rest one by one.
			n.log.Debug("UDP segmentation offload refused; sending datagrams one by one", "err", err)
			w.noGSO = true
			n.writePlain(w, ds[done:])
			return
		}
		// As writeLocked: a datagram that cannot be written is lost, the
		// rest still go.
		n.log.Debug("UDP batch write", "to", ds[done].to, "err", err)
		done += segs[sent]
		sent++
	}
}

// gsoRefused reports whether a send failed because of its UDP_SEGMENT
// option rather than its destination.
func gsoRefused(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOPROTOOPT) ||
		errors.Is(err, unix.EOPNOTSUPP)
}

// segmentCmsg appends a UDP_SEGMENT control message giving the size of the
// datagrams a send is to be cut into.
func segmentCmsg(b []byte, size int) []byte {
	off := len(b)
	b = append(b, make([]byte, unix.CmsgSpace(2))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[off+unix.CmsgLen(0):], uint16(size))
	return b
}

// writePlain writes ds in order, one datagram per message.
func (n *Node) writePlain(w *batchWriter, ds []datagram) {
	msgs := w.msgs[:0]
	for k, d := range ds {
		msgs = append(msgs, ipv4.Message{Buffers: [][]byte{d.b}, Addr: w.addr(k, d.to)})
	}
	w.msgs = msgs
	for sent := 0; sent < len(msgs); {
		k, err := w.write(msgs[sent:], 0)
		n.Counters.TxWrites.Add(1)
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
	one   [1][]byte // writeOne's buffers
	addrs []*net.UDPAddr
	// For UDP_SEGMENT sends: the window reordered, each message's
	// buffers, control message and number of datagrams.
	order []datagram
	bufs  [][][]byte
	oobs  [][]byte
	segs  []int
	noGSO bool // the kernel refused UDP_SEGMENT once
}

// addr is the k-th reused address of a batch, set to to.
func (w *batchWriter) addr(k int, to netip.AddrPort) *net.UDPAddr {
	if k == len(w.addrs) {
		w.addrs = append(w.addrs, new(net.UDPAddr))
	}
	ua := w.addrs[k]
	ua.IP = append(ua.IP[:0], to.Addr().AsSlice()...)
	ua.Port = int(to.Port())
	ua.Zone = to.Addr().Zone()
	return ua
}

func newBatchWriter(c *net.UDPConn) *batchWriter {
	v4 := path0(c).Addr().Is4()
	if mw, err := newMmsgWriter(c, v4); err == nil {
		return &batchWriter{write: mw.write}
	}
	if v4 {
		return &batchWriter{write: ipv4.NewPacketConn(c).WriteBatch}
	}
	return &batchWriter{write: ipv6.NewPacketConn(c).WriteBatch}
}
