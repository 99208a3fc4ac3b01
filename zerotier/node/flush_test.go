package node

import (
	"runtime"
	"testing"
	"time"

	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
)

// Sends made within one round of the scheduler (here: by one goroutine
// that does not park in between) leave together, with one system call,
// once the sender parks; a lone Send leaves as soon as its sender parks.
func TestSendsLeaveTogether(t *testing.T) {
	root, leaves := startNet(t, 2)
	a, b := leaves[0], leaves[1]
	waitReady(t, root, leaves)
	if err := a.SendUserMessage(b.Address(), testMsgType, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	recvMsg(t, b, "first message")
	waitFor(t, "direct path a->b", func() bool { return hasDirectPath(a.Node, b.Address()) })

	// One P, as ztnc-run runs a node: the flusher runs when this goroutine
	// parks (the timer loop may slip in a HELLO or an ECHO: one write more).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	const sends = 8
	w0, d0 := a.Counters.TxWrites.Load(), a.Counters.TxDatagrams.Load()
	for i := 0; i < sends; i++ {
		um := &message.UserMessage{Type: testMsgType + 1 + uint64(i), Data: []byte("together")}
		if err := a.Send(b.Address(), packet.VerbUserMessage, um.Append(nil)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < sends; i++ {
		recvMsg(t, b, "messages sent together")
	}
	if w, d := a.Counters.TxWrites.Load()-w0, a.Counters.TxDatagrams.Load()-d0; d < sends || w > 2 {
		t.Errorf("%d sends: %d datagrams in %d writes; want at least %d datagrams in 1 write (2 with a timer's)", sends, d, w, sends)
	}

	d0 = a.Counters.TxDatagrams.Load()
	um := &message.UserMessage{Type: testMsgType, Data: []byte("alone")}
	if err := a.Send(b.Address(), packet.VerbUserMessage, um.Append(nil)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond) // parks: the flusher's turn
	if a.Counters.TxDatagrams.Load() == d0 {
		t.Error("a lone Send was still pending when its sender parked")
	}
	recvMsg(t, b, "a lone message")
}
