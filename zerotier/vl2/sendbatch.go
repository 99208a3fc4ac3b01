package vl2

import (
	"time"

	"ztnc/zerotier/node"
)

// batchSender is a node that sends several packets at once (*node.Node):
// one lock round and one sendmmsg for all (node/sendbatch.go).
type batchSender interface {
	SendBatch(out []node.Outgoing) error
}

// WriteFrames sends frames as WriteFrame would, each in turn, with their
// unicast FRAMEs sent together at the end: the network stack hands over a
// large TCP segment cut into MTU-sized frames this way.
func (p *Port) WriteFrames(frames [][]byte) error {
	bs, ok := p.n.l.node.(batchSender)
	if !ok || len(frames) == 1 {
		for _, f := range frames {
			if err := p.WriteFrame(f); err != nil {
				return err
			}
		}
		return nil
	}
	return p.n.l.sendFrames(p.n, frames, bs)
}

func (l *Layer) sendFrames(n *Network, frames [][]byte, bs batchSender) error {
	now := time.Now()
	out := make([]node.Outgoing, 0, len(frames))
	l.lock()
	var err error
	for _, f := range frames {
		o, send, e := l.sendFrameLocked(n, f, now)
		if send {
			out = append(out, o)
		}
		if err = e; err != nil {
			break
		}
	}
	l.unlock() // runs what the frames queued with later(), as sendFrame does
	if len(out) > 0 {
		// As for a frame sent alone, a failed send is a frame lost (the
		// node is closing), not an error of the port.
		if e := bs.SendBatch(out); e != nil {
			l.log.Debug("frames", "count", len(out), "err", e)
		}
	}
	return err
}
